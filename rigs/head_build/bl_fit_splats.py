"""Fit the default head's splat twin to Cycles renders of its mesh.

Usage: ``.venv/bin/python -m rigs.head_build.bl_fit_splats [--size 256] [--samples 48] [--views CACHE.npz]
[--epochs N] [--sh-degree D] [--threads T]``.

Generates the default rig (with its studio: camera, three-point lights, world) in the bpy module, renders
the mesh with Cycles from several views and expressions (``VIEWS`` x ``EXPRESSIONS``, and the wide
``WIDE_VIEWS`` of the whole bust; none of them is a view of ``bench/bench_splat_match.py``), records the
twin's binding as sampled and the face's evaluated vertices per expression (``splat_views.FitSet``,
optionally cached to ``--views`` so the fit can be rerun without rendering), then fits every Gaussian's
colour and view-dependent SH, opacity, scales and offset on its triangle by gradient descent
(``splat_refine``). Writes ``rigs/data/default_head_splat.npz`` (``rigs.splat_twin.FITTED_FILE``, format
2, with the head's content hash, the twin's count and seed), which ``add_splat_twin`` applies to a
matching twin. Re-run it after changing the head, its materials or the studio light. About 6 minutes of
Cycles and 20 of fitting on a 2-core CPU.
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
from . import splat_refine, splat_views

log = logging.getLogger(__name__)

#: (azimuth, elevation) in degrees of the training views.
VIEWS = ((-45, 0), (-35, 0), (-25, 0), (-15, 0), (-8, 0), (8, 0), (15, 0), (25, 0), (35, 0), (45, 0),
         (-20, 15), (20, 15), (0, -12))
EXPRESSIONS: tuple[dict[str, float], ...] = (
    {}, {"AU26": 0.8, "AU25": 1.0}, {"AU45": 1.0}, {"AU12": 0.7, "AU26": 0.35, "AU25": 1.0})
AU_CODES = ("AU12", "AU25", "AU26", "AU45")
#: Wide views (azimuth, elevation), neutral only, with the lens shortened by ``WIDE_LENS_FACTOR``: the whole
#: bust, so the chest and shoulders the studio framing cuts off are fitted too (other framings show them).
WIDE_VIEWS = ((0, 0), (-35, 0), (35, 0), (0, 20))
WIDE_LENS_FACTOR = 0.5


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


def collect(scene: bpy.types.Scene, face: bpy.types.Object, samples: int) -> splat_views.FitSet:
    """Cycles renders of every training view and expression, with the twin's pose in each."""
    from blender_addon.splat.bl_data import mesh_vertices, twin_base
    from blender_addon.splat.bl_engine import scene_camera

    sample, binding, _, codes = twin_base(face)
    base = np.array(scene.camera.matrix_world)
    pivot = bl_studio.orbit_pivot(scene, face)
    tmp = Path(tempfile.mkdtemp(prefix="auth-fit-"))
    bg = linear_to_srgb(np.asarray(world_colour(scene), np.float32))
    verts, cameras, exprs, targets = [], [], [], []
    for expr in EXPRESSIONS:
        set_expression(scene, expr)
        verts.append(mesh_vertices(face.evaluated_get(bpy.context.evaluated_depsgraph_get()).data))
    for az, el in VIEWS:
        bl_studio.orbit_camera(scene, base, pivot, az, el)
        for e, expr in enumerate(EXPRESSIONS):
            set_expression(scene, expr)
            t0 = time.perf_counter()
            targets.append(render_cycles(scene, samples, tmp)[0].astype(np.float16))
            cameras.append(scene_camera(scene, bpy.context.evaluated_depsgraph_get()))
            exprs.append(e)
            log.info("view %+d/%+d %s: %.1f s", az, el, expr or "neutral", time.perf_counter() - t0)
    set_expression(scene, {})
    lens = scene.camera.data.lens
    scene.camera.data.lens = lens * WIDE_LENS_FACTOR
    for az, el in WIDE_VIEWS:
        bl_studio.orbit_camera(scene, base, pivot, az, el)
        targets.append(render_cycles(scene, samples, tmp)[0].astype(np.float16))
        cameras.append(scene_camera(scene, bpy.context.evaluated_depsgraph_get()))
        exprs.append(0)
    scene.camera.data.lens = lens
    bl_studio.orbit_camera(scene, base, pivot, 0.0)
    fitted = splat_twin.load_fitted(str(face[RIG_HASH_PROP]), len(sample.rgb), 0)
    rgb = sample.rgb if fitted is None else fitted.rgb
    return splat_views.FitSet(binding, np.stack(verts).astype(np.float32), np.array(face.matrix_world),
                              cameras, np.array(exprs), np.stack(targets), bg, rgb, sample.opacities,
                              np.asarray(codes, np.int32))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--out", type=Path, default=splat_twin.FITTED_FILE)
    parser.add_argument("--views", type=Path, default=None,
                        help="cache of this head's training views (.npz): read when it exists, else written")
    parser.add_argument("--collect-only", action="store_true", help="render and save the views, no fit")
    parser.add_argument("--restamp", action="store_true",
                        help="only record the current look fingerprint in the fitted file, without a fit: "
                             "for edits to the look's sources that change no pixel (comments, refactors)")
    defaults = splat_refine.RefineOptions()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--sh-degree", type=int, default=defaults.sh_degree, choices=(0, 1, 2))
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch CPU threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.restamp:
        with np.load(args.out) as data:
            fields = {k: data[k] for k in data.files}
        fields["look"] = np.array(splat_twin.look_fingerprint())
        np.savez_compressed(args.out, **fields)
        log.info("restamped %s with look %s", args.out, fields["look"])
        return 0
    t0 = time.perf_counter()
    scene, face = setup(args.size)
    if args.views is not None and args.views.is_file():
        fit_set = splat_views.load(args.views)
    else:
        fit_set = collect(scene, face, args.samples)
        if args.views is not None:
            splat_views.save(args.views, fit_set)
    log.info("%d views ready in %.0f s", len(fit_set.cameras), time.perf_counter() - t0)
    if args.collect_only:
        return 0
    options = splat_refine.RefineOptions(epochs=args.epochs, sh_degree=args.sh_degree, threads=args.threads)
    fitted = splat_refine.fit_twin(fit_set, options)
    splat_twin.save_fitted(args.out, fitted, str(face[RIG_HASH_PROP]), len(fitted.rgb),
                           f"{len(fit_set.cameras)} Cycles views ({args.size} px, {args.samples} samples)",
                           look=splat_twin.look_fingerprint())
    log.info("wrote %s in %.0f s", args.out, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
