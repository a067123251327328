"""Render the default head's Gaussian-splat twin: ``docs/splat_head.png`` (rest) and
``docs/splat_head_open.png`` (jaw open), plus an optional close-up of the eyes.

Usage: ``.venv/bin/python scripts/render_splat_head.py [--out docs] [--size 512] [--eyes]``. Uses the
extension from this source tree (registered in the bpy module), the numpy backend, a front camera that
frames the whole head. Not part of the test suite: a person looks at the result.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import blender_addon  # noqa: E402
from batch_render import bl_render as bl_batch  # noqa: E402
from blender_addon.splat import bl_data as bl_splat_data  # noqa: E402
from blender_addon.splat import bl_engine as bl_splat_engine  # noqa: E402
from rigs import regions  # noqa: E402


def _camera(scene: bpy.types.Scene, centre: np.ndarray, distance: float, size: int, lens: float) -> None:
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(cam)
    cam.data.lens = lens
    cam.location = (float(centre[0]), float(centre[1] - distance), float(centre[2]))
    cam.rotation_euler = (math.radians(90.0), 0.0, 0.0)
    scene.camera = cam
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100


def _save(path: Path) -> float:
    t0 = time.perf_counter()
    out, _, _ = bl_splat_engine.render_frame(bpy.context.evaluated_depsgraph_get(), "numpy")
    seconds = time.perf_counter() - t0
    Image.fromarray((np.clip(out.rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)
    print(f"{path}: {seconds:.2f} s")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description="Render the default splat head")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--eyes", action="store_true", help="also write splat_eyes.png (close-up)")
    args = parser.parse_args()
    blender_addon.register()
    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.ops.au_talking_head.generate_rig() == {"FINISHED"}
    scene = bpy.context.scene
    world = bpy.data.worlds.new("World")
    world.color = (0.05, 0.05, 0.05)
    scene.world = world
    splat = next(o for o in scene.objects if bl_splat_data.is_splat(o))
    face = bl_splat_data.bound_target(splat)
    verts = bl_splat_data.mesh_vertices(face.data) @ np.array(face.matrix_world)[:3, :3].T
    verts += np.array(face.matrix_world)[:3, 3]
    lo, hi = verts.min(0), verts.max(0)
    centre = (lo + hi) / 2
    _camera(scene, centre, 2.2 * float(hi[2] - lo[2]) / (36 / 85) * 0.6, args.size, 85.0)
    rig = scene.au_talking_head.rig
    args.out.mkdir(parents=True, exist_ok=True)
    _save(args.out / "splat_head.png")
    rig["AU26"], rig["AU25"] = 0.8, 1.0
    rig.update_tag()
    bpy.context.view_layer.update()
    _save(args.out / "splat_head_open.png")
    if args.eyes:
        rig["AU26"], rig["AU25"] = 0.0, 0.0
        rig.update_tag()
        eyes = np.array([tuple(p) for p in bl_batch.region_points(face, [regions.IRIS])]).mean(0)
        scene.camera.location = (float(eyes[0]), float(lo[1] - 0.3), float(eyes[2]))
        bpy.context.view_layer.update()
        _save(args.out / "splat_eyes.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
