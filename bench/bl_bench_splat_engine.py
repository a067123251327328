"""Blender side of bench_splat.py's engine row: the default head rendered frame after frame, real bpy.

Builds the extension zip from ``--root`` (a source tree: this checkout, or a baseline exported by
``bench_splat.py --baseline REV``), installs it, builds the batch default scene (rig + splat twin, face
camera, world) at ``--size``, then times the engine's per-frame path with the numpy backend: set AU
values on the rig, update the depsgraph, ``bl_splat_engine.render_frame`` (rig mesh read, binding
transform, SH colours, rasterization, colour conversion). Prints one JSON line (``{"times": [...],
...}``); ``--save`` writes the frames as ``.npy`` so two trees can be compared pixel by pixel;
``--profile`` writes cProfile stats of the timed frames.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import tempfile
import time
from importlib import import_module
from pathlib import Path

import numpy as np

EXT = "bl_ext.user_default.au_talking_head"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--save", type=Path, default=None, help="folder for frame_<i>.npy (RGBA)")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile stats file")
    args = parser.parse_args()
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="auth-bench-splat-")
    sys.path.insert(0, str(args.root.resolve()))
    import bpy

    import build_addon

    zip_path = build_addon.build(Path(tempfile.mkdtemp(prefix="auth-bench-splat-dist-")))
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default",
                                             enable_on_install=True)
    batch, jobs = import_module("batch_render.bl_render"), import_module("batch_render.jobs")
    engine = import_module(f"{EXT}.splat.bl_engine")
    batch.build_default_scene(jobs.BatchOptions(items=[]))
    scene = bpy.context.scene
    scene.render.resolution_x = scene.render.resolution_y = args.size
    scene.render.resolution_percentage = 100
    rig = scene.au_talking_head.rig
    n_gauss = sum(len(o.data.vertices) for o in scene.objects
                  if o.type == "MESH" and "auth_splat_sh_degree" in o.data)

    def frame(i: int) -> np.ndarray:
        phase = i / max(args.frames, 1)
        rig["AU26"] = 0.5 + 0.5 * np.sin(2 * np.pi * phase)
        rig["AU12"] = 0.5 - 0.5 * np.cos(2 * np.pi * phase)
        rig["AU45"] = float(i % 3 == 1)
        rig.update_tag()
        bpy.context.view_layer.update()
        _, rgba, _ = engine.render_frame(bpy.context.evaluated_depsgraph_get(), "numpy")
        return rgba

    frame(0)  # warm-up (first evaluation, caches)
    prof = cProfile.Profile() if args.profile else None
    times = []
    for i in range(args.frames):
        if prof:
            prof.enable()
        t0 = time.perf_counter()
        rgba = frame(i)
        times.append(time.perf_counter() - t0)
        if prof:
            prof.disable()
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            np.save(args.save / f"frame_{i}.npy", rgba)
    if prof:
        prof.dump_stats(str(args.profile))
    print(json.dumps({"times": times, "gaussians": n_gauss, "size": args.size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
