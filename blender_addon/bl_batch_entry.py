"""Batch rendering inside a real Blender: ``blender -b [scene.blend] --python bl_batch_entry.py -- ARGS``.

ARGS are those of ``au-talking-head render`` (audio files or folders, ``-o OUT_DIR``, ``--emotion``...).
Without ``--blend`` the .blend Blender opened is used; with neither, the default head. Blender exits with
the job's code (0: all rendered or skipped, 1: some input failed, 2: bad usage).

The installed, enabled extension is used (whatever repository it was installed into); when this file is
run from a source checkout without the extension installed, the checkout's ``blender_addon`` is
registered instead. A model server is reused or started as ``au-talking-head render`` does; inside a
real Blender it is started with ``$AU_TALKING_HEAD_PYTHON`` or the checkout's ``.venv/bin/python``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import bpy

EXTENSION_ID = "au_talking_head"


def script_args(argv: list[str]) -> list[str]:
    """The arguments after ``--`` (Blender's own arguments come before it)."""
    return argv[argv.index("--") + 1:] if "--" in argv else []


def batch_module() -> ModuleType:
    """``bl_batch`` of the enabled extension, else of the source checkout this file sits in."""
    for name in bpy.context.preferences.addons.keys():  # noqa: SIM118 (a bpy collection iterates items)
        if name == EXTENSION_ID or name.endswith("." + EXTENSION_ID):
            return importlib.import_module(f"{name}.bl_batch")
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "blender_addon" / "bl_batch.py").is_file():
        if str(checkout) not in sys.path:
            sys.path.insert(0, str(checkout))
        return importlib.import_module("blender_addon.bl_batch")
    raise SystemExit("au_talking_head is not installed: install the extension zip "
                     "(Edit > Preferences > Get Extensions > Install from Disk) and enable it")


def main() -> None:
    """Run the job and exit Blender with its code."""
    sys.exit(batch_module().main(script_args(sys.argv)))


if __name__ == "__main__":
    main()
