"""Does the splat twin look like its mesh? Cycles vs the Gaussian Splat engine, same camera, PSNR.

Usage: ``.venv/bin/python bench/bench_splat_match.py [--size 256] [--samples 64] [--out docs/splat_match]
[--sheet docs/splat_match.png]``. The work runs in the bpy module: ``bl_bench_splat_match.py`` (its
docstring says what is rendered and measured).
"""

from __future__ import annotations

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).with_name("bl_bench_splat_match.py")), run_name="__main__")
