"""Benchmark of the add-on's writing path (issue #6): 5 minutes of every AU written, and regeneration.

The Blender side lives in ``bl_bench_addon.py`` (only ``bl_*`` modules may import bpy).
Usage: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_addon.py [--minutes 5] [--repeat 3]``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bl_bench_addon import main

if __name__ == "__main__":
    sys.exit(main())
