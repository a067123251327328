"""Benchmark of the one-command demo (issue #7): wall time and per-frame render time, by frame size.

Runs ``au-talking-head demo`` (the real command: server start, default scene, tracks, splat render, MP4)
once per resolution and prints a table. Usage::

    .venv/bin/python bench/bench_demo.py [--resolutions 256x256 384x384 512x512] [--fps 25] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LINE = re.compile(r"(?P<frames>\d+) frames; wall (?P<wall>[\d.]+) s, render (?P<render>[\d.]+) s = "
                   r"(?P<per>[\d.]+) s/frame \(engine (?P<engine>\w+)\)")


def run_demo(resolution: str, fps: float, threads: int, out: Path) -> dict[str, str]:
    """Run the demo once; returns the parsed summary plus the outside wall time."""
    exe = ROOT / ".venv" / "bin" / "au-talking-head"
    cmd = [str(exe if exe.exists() else "au-talking-head"), "demo", "--out", str(out),
           "--resolution", resolution, "--fps", str(fps)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    outside = time.monotonic() - started
    match = _LINE.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"demo failed at {resolution}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return {**match.groupdict(), "process": f"{outside:.1f}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", nargs="+", default=["384x384"])
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of the run (default 2)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="auth-bench-demo-") as tmp:
        for resolution in args.resolutions:
            rows.append((resolution, run_demo(resolution, args.fps, args.threads, Path(tmp) / "demo.mp4")))
    print(f"\ndemo: bundled 7.5 s clip at {args.fps:g} fps, OMP_NUM_THREADS={args.threads}, "
          f"{os.cpu_count()} CPUs")
    header = ("resolution", "engine", "frames", "wall s", "render s", "s/frame")
    widths = (10, 22, 6, 7, 8, 7)
    print(" | ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    print("-" * (sum(widths) + 3 * (len(widths) - 1)))
    for resolution, r in rows:
        cells = (resolution, r["engine"], r["frames"], r["process"], r["render"], r["per"])
        print(" | ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
