"""Benchmark of the Gaussian-splat rasterizers: one frame of N Gaussians at W×H, per backend.

Usage: ``.venv/bin/python bench/bench_splat.py [--gaussians 100000] [--size 512] [--frames 3]``

The scene is a head-sized ellipsoid shell of flat, surface-aligned Gaussians (as the splat twin makes)
filling about a third of the frame. Prints one table row per backend (numpy, torch on the CPU, torch on
CUDA when present, gsplat when importable): best and median seconds per frame, and the target
(CPU <= 2 s per frame; GPU >= 200 frames per second).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blender_addon.splat import camera as cam_mod
from blender_addon.splat import model, raster_numpy


def make_scene(n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """World means, covariances, colours and opacities of ``n`` surface-aligned discs on an ellipsoid."""
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    radii = np.array([0.08, 0.1, 0.12])
    means = d * radii
    normals = d / radii ** 2
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    tangent = np.cross(normals, rng.normal(size=(n, 3)))
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    rot = np.stack([tangent, np.cross(normals, tangent), normals], -1)
    spacing = np.sqrt(4 * np.pi * 0.1 ** 2 / n)
    log_scales = np.log(np.stack([np.full(n, spacing), np.full(n, spacing), np.full(n, 0.15 * spacing)], 1))
    covs = model.covariances(model.matrices_to_quats(rot), log_scales)
    colours = np.clip(np.array([0.8, 0.6, 0.5]) + rng.normal(0, 0.05, (n, 3)), 0, 1).astype(np.float32)
    return means, covs, colours, rng.uniform(0.6, 1.0, n)


def time_frames(fn: Callable[[], object], frames: int) -> tuple[float, float]:
    """Best and median wall seconds of ``frames`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gaussians", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=3)
    args = parser.parse_args(argv)
    scene = make_scene(args.gaussians)
    camera = cam_mod.from_blender(cam_mod.look_at([0, -0.55, 0.0], [0, 0, 0]), lens_mm=50,
                                  resolution_x=args.size, resolution_y=args.size)
    rows: list[tuple[str, str, float, float, str]] = []
    cover = raster_numpy.rasterize(*scene, camera).alpha.mean()

    def add(name: str, device: str, fn: Callable[[], object], gpu: bool) -> None:
        best, med = time_frames(fn, args.frames)
        ok = (1 / best >= 200) if gpu else best <= 2.0
        target = " (>=200 fps)" if gpu else " (<=2 s)"
        rows.append((name, device, best, med, ("OK" if ok else "MISS") + target))

    add("numpy", "cpu", lambda: raster_numpy.rasterize(*scene, camera), False)
    if importlib.util.find_spec("torch") is not None:
        import torch

        from blender_addon.splat import raster_torch

        add("torch", f"cpu ({torch.get_num_threads()} threads)",
            lambda: raster_torch.rasterize(*scene, camera, device="cpu"), False)
        if torch.cuda.is_available():
            def cuda_frame() -> None:
                raster_torch.rasterize(*scene, camera, device="cuda")
                torch.cuda.synchronize()
            add("torch", torch.cuda.get_device_name(0), cuda_frame, True)
    else:
        rows.append(("torch", "-", float("nan"), float("nan"), "not installed"))
    if importlib.util.find_spec("gsplat") is None:
        rows.append(("gsplat", "-", float("nan"), float("nan"), "not installed (optional)"))
    print(f"Gaussian splat rasterizer: {args.gaussians} Gaussians, {args.size}x{args.size}, "
          f"coverage {cover:.0%}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'backend':<8} {'device':<28} {'best s/frame':>12} {'median':>8} {'fps':>7}  target")
    for name, device, best, med, verdict in rows:
        fps = 1 / best if best == best else float("nan")
        print(f"{name:<8} {device:<28} {best:>12.3f} {med:>8.3f} {fps:>7.1f}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
