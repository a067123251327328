"""Benchmark of the Gaussian-splat rasterizers: one frame of N Gaussians at W×H, per backend.

Usage: ``.venv/bin/python bench/bench_splat.py [--gaussians 100000] [--size 512] [--frames 3]
[--engine-size 384] [--no-engine] [--baseline REV]``

The scene is a head-sized ellipsoid shell of flat, surface-aligned Gaussians (as the splat twin makes)
filling about a third of the frame. Prints one table row per backend (numpy, torch on the CPU, torch on
CUDA when present, gsplat when importable): best and median seconds per frame, and the target
(CPU <= 2 s per frame; GPU >= 200 frames per second).

The engine row renders the default head (rig + 60k-Gaussian splat twin) frame after frame in real bpy
through the engine's per-frame path (AU values set, depsgraph update, rig mesh read, binding, SH,
numpy rasterization, colour conversion; ``bl_bench_splat_engine.py``). ``--baseline REV`` exports that
git revision and runs the same row on it, alternating runs so that both see the same machine load, and
prints the largest pixel difference between the two trees' frames (which includes every other change
between the trees: rig shapes, the twin's sampling).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
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


ROOT = Path(__file__).resolve().parents[1]


def engine_run(root: Path, size: int, frames: int, save: Path) -> list[float]:
    """Seconds per frame of ``bl_bench_splat_engine.py`` on source tree ``root`` (frames to ``save``)."""
    cmd = [sys.executable, str(ROOT / "bench" / "bl_bench_splat_engine.py"), "--root", str(root),
           "--size", str(size), "--frames", str(frames), "--save", str(save)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"engine bench failed on {root}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return list(json.loads(lines[-1])["times"])


def export_revision(rev: str, dest: Path) -> Path:
    """``git archive`` of ``rev`` unpacked into ``dest`` (returns ``dest``)."""
    archive = dest / "src.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest / "tree", filter="tar")
    return dest / "tree"


def engine_rows(size: int, frames: int, baseline: str | None, repeats: int = 2
                ) -> list[tuple[str, str, float, float, str]]:
    """Rows for the default head in the engine (and the baseline revision, when given)."""
    tmp = Path(tempfile.mkdtemp(prefix="auth-bench-splat-"))
    trees = {"this tree": ROOT}
    if baseline:
        trees[f"baseline {baseline}"] = export_revision(baseline, tmp)
    times: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(repeats):  # alternate, so every tree sees the same load
        for name, root in trees.items():
            times[name] += engine_run(root, size, frames, tmp / name.replace(" ", "_"))
    rows = []
    for name, ts in times.items():
        best, med = min(ts), statistics.median(ts)
        rows.append((f"engine {size}x{size}", f"default head, {name}", best, med, "per frame, numpy"))
    if baseline:
        a, b = (tmp / n.replace(" ", "_") for n in trees)
        diff = max(float(np.abs(np.load(a / f.name) - np.load(b / f.name)).max()) for f in a.glob("*.npy"))
        rows.append(("engine", "max |this - baseline|", diff, diff, "linear RGBA (all changes)"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gaussians", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--engine-size", type=int, default=384)
    parser.add_argument("--no-engine", action="store_true", help="skip the default-head engine row")
    parser.add_argument("--baseline", default=None, help="git revision to time side by side")
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
    if not args.no_engine:
        rows += engine_rows(args.engine_size, max(args.frames, 3), args.baseline)
    print(f"Gaussian splat rasterizer: {args.gaussians} Gaussians, {args.size}x{args.size}, "
          f"coverage {cover:.0%}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'backend':<18} {'device':<36} {'best s/frame':>12} {'median':>8} {'fps':>7}  target")
    for name, device, best, med, verdict in rows:
        fps = 1 / best if best == best and best > 0 else float("nan")
        print(f"{name:<18} {device:<36} {best:>12.4f} {med:>8.3f} {fps:>7.1f}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
