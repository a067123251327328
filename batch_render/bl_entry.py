"""Batch rendering inside a real Blender: ``blender -b [scene.blend] --python batch_render/bl_entry.py --``.

ARGS are those of ``au-talking-head render`` (audio files or folders, ``-o OUT_DIR``, ``--emotion``...).
Without ``--blend`` the .blend Blender opened is used; with neither, the default head. Blender exits with
the job's code (0: all rendered or skipped, 1: some input failed, 2: bad usage).

The batch renderer lives beside the extension, not in it: this file puts its checkout (or installed
package) on ``sys.path`` and runs ``batch_render.bl_render``. The installed, enabled extension provides
the operators (whatever repository it was installed into); without it, the checkout's ``blender_addon``
is registered instead. A model server is reused or started as ``au-talking-head render`` does; inside a
real Blender it is started with ``$AU_TALKING_HEAD_PYTHON`` or the checkout's ``.venv/bin/python``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType


def script_args(argv: list[str]) -> list[str]:
    """The arguments after ``--`` (Blender's own arguments come before it)."""
    return argv[argv.index("--") + 1:] if "--" in argv else []


def batch_module() -> ModuleType:
    """``batch_render.bl_render`` from the checkout this file sits in (or an installed package)."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "batch_render" / "bl_render.py").is_file() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        return importlib.import_module("batch_render.bl_render")
    except ImportError as exc:
        raise SystemExit(f"cannot import the batch renderer ({exc}): run this file from an AU Talking Head "
                         "checkout, or install the au-talking-head package into Blender's Python") from exc


def main() -> None:
    """Run the job and exit Blender with its code."""
    sys.exit(batch_module().main(script_args(sys.argv)))


if __name__ == "__main__":
    main()
