"""Fit the default head's splat twin to Cycles renders of its mesh.

Usage: ``.venv/bin/python -m rigs.head_build.bl_fit_splats [--size 256] [--samples 64]``.

Generates the default rig (with its studio: camera, three-point lights, world) in the bpy module, renders
the mesh with Cycles from several views and expressions (``TRAINING``: none of them is a view of
``bench/bench_splat_match.py``), lists every Gaussian's weight in every pixel of each view
(``splat_fit.pixel_weights``) and solves for the colours (``splat_fit.fit_colours``). Writes
``rigs/data/default_head_splat.npz`` (``rigs.splat_twin.FITTED_FILE``: colours as uint8, with the head's
content hash, the twin's count and seed), which ``add_splat_twin`` applies to a matching twin. Re-run it
after changing the head, its materials or the studio light. About 4 minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import bpy
import numpy as np

from blender_addon.splat.bl_engine import world_colour
from blender_addon.splat.colour import linear_to_srgb

from .. import bl_studio, splat_twin
from ..naming import RIG_HASH_PROP
from . import splat_fit

log = logging.getLogger(__name__)

#: (azimuth, elevation) in degrees of the training views.
VIEWS = ((-45, 0), (-25, 0), (-8, 0), (8, 0), (25, 0), (45, 0), (-20, 15), (20, 15), (0, -12))
EXPRESSIONS: tuple[dict[str, float], ...] = (
    {}, {"AU26": 0.8, "AU25": 1.0}, {"AU45": 1.0}, {"AU12": 0.7, "AU26": 0.35, "AU25": 1.0})
AU_CODES = ("AU12", "AU25", "AU26", "AU45")


def render_cycles(scene: bpy.types.Scene, samples: int, tmp: Path) -> tuple[np.ndarray, np.ndarray]:
    """Cycles (CPU, denoised): display-referred RGB ``[H, W, 3]`` over the world colour, alpha ``[H, W]``."""
    engine = scene.render.engine
    scene.render.engine = "CYCLES"  # type: ignore[assignment]  # stubs: only BLENDER_EEVEE
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = True
    scene.render.film_transparent = True
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.image_settings.color_depth = "32"
    path = tmp / "cycles.exr"
    scene.render.filepath = str(path)
    try:
        bpy.ops.render.render(write_still=True)
    finally:
        scene.render.engine = engine
        scene.render.film_transparent = False
    img = bpy.data.images.load(str(path))
    w, h = img.size
    px = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    rgba = px.reshape(h, w, 4)[::-1]
    alpha = np.clip(rgba[..., 3], 0, 1)
    linear = rgba[..., :3] + (1 - alpha[..., None]) * world_colour(scene)
    return np.clip(linear_to_srgb(np.clip(linear, 0, None)), 0, 1), alpha


def set_expression(scene: bpy.types.Scene, values: dict[str, float]) -> None:
    """Set the rig's AU properties (the ones in ``AU_CODES``; others stay) and update the depsgraph."""
    rig = scene.au_talking_head.rig
    for code in AU_CODES:
        rig[code] = float(values.get(code, 0.0))
    rig.update_tag()
    bpy.context.view_layer.update()


def twin_geometry(scene: bpy.types.Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """World means, covariances, colours and opacities of the scene's (single) splat object as posed now."""
    from blender_addon.splat.bl_data import collect_instances
    from blender_addon.splat.bl_engine import scene_camera
    from blender_addon.splat.render import flatten

    depsgraph = bpy.context.evaluated_depsgraph_get()
    instances = collect_instances(depsgraph)
    if len(instances) != 1:
        raise RuntimeError(f"expected one splat object, found {len(instances)}")
    return flatten(instances, scene_camera(scene, depsgraph))


def setup(size: int) -> tuple[bpy.types.Scene, bpy.types.Object]:
    """An empty file with the default rig, its twin and studio at ``size`` x ``size``; returns the face."""
    import blender_addon

    blender_addon.register()
    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.ops.au_talking_head.generate_rig() == {"FINISHED"}
    scene = bpy.context.scene
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    bpy.context.view_layer.update()
    face = next(o for o in scene.objects if o.get(RIG_HASH_PROP))
    return scene, face


def collect(scene: bpy.types.Scene, face: bpy.types.Object, samples: int) -> tuple[list, list, list]:
    """Weights, Cycles targets and backgrounds of every training view and expression."""
    from blender_addon.splat.bl_engine import scene_camera

    base = np.array(scene.camera.matrix_world)
    pivot = bl_studio.orbit_pivot(scene, face)
    tmp = Path(tempfile.mkdtemp(prefix="auth-fit-"))
    bg = linear_to_srgb(np.asarray(world_colour(scene), np.float32))
    views, targets = [], []
    for az, el in VIEWS:
        bl_studio.orbit_camera(scene, base, pivot, az, el)
        for expr in EXPRESSIONS:
            set_expression(scene, expr)
            t0 = time.perf_counter()
            target, _ = render_cycles(scene, samples, tmp)
            means, covs, _, opacs = twin_geometry(scene)
            camera = scene_camera(scene, bpy.context.evaluated_depsgraph_get())
            views.append(splat_fit.pixel_weights(means, covs, opacs, camera, splat_fit.MIN_WEIGHT))
            targets.append(target)
            log.info("view %+d/%+d %s: %.1f s", az, el, expr or "neutral", time.perf_counter() - t0)
    bl_studio.orbit_camera(scene, base, pivot, 0.0)
    set_expression(scene, {})
    return views, targets, [bg] * len(views)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--out", type=Path, default=splat_twin.FITTED_FILE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    scene, face = setup(args.size)
    prior = twin_geometry(scene)[2]
    views, targets, bgs = collect(scene, face, args.samples)
    colours = splat_fit.fit_colours(views, targets, bgs, prior)
    splat_twin.save_fitted(args.out, colours, str(face[RIG_HASH_PROP]), len(colours),
                           f"{len(views)} Cycles views ({args.size} px, {args.samples} samples)")
    log.info("wrote %s in %.0f s", args.out, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
