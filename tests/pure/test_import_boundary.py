"""bpy, mathutils, gpu and bmesh stay at the edge: only bl_*.py modules may import them."""

from __future__ import annotations

from pathlib import Path

from tests.import_boundary import blender_imports, python_files, violations

ROOT = Path(__file__).resolve().parents[2]


def test_no_blender_import_outside_blender_facing_modules() -> None:
    found = violations(ROOT)
    assert not found, "Blender modules imported in pure modules (move the code to a bl_*.py module):\n" + \
        "\n".join(found)


def test_scanner_sees_the_shipped_packages() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in python_files(ROOT)}
    assert "au_contract/tracks.py" in names
    assert "blender_addon/__init__.py" in names
    assert "model_server/cli.py" in names
    assert not any(n.startswith("blender_addon/rigs/") for n in names), "symlinked rigs/ scanned twice"


def test_checker_catches_every_import_form() -> None:
    source = "\n".join([
        "import os",
        "import bpy",
        "import mathutils.geometry",
        "from gpu import shader",
        "def f():",
        "    import bmesh",
        "    return __import__('bpy')",
        "import importlib",
        "m = importlib.import_module('bpy.types')",
        "from . import bl_thing",
        "import bpyish",
    ])
    found = blender_imports(source)
    assert [m for _, m in found] == ["bpy", "mathutils.geometry", "gpu", "bmesh", "bpy", "bpy.types"]


def test_checker_flags_a_stray_import_in_a_pure_module(tmp_path: Path) -> None:
    pure = tmp_path / "rigs" / "zone_math.py"
    pure.parent.mkdir()
    pure.write_text("import numpy\nimport bpy\n")
    edge = tmp_path / "rigs" / "bl_build.py"
    edge.write_text("import bpy\n")
    (tmp_path / "build_addon.py").write_text("")
    assert violations(tmp_path) == ["rigs/zone_math.py:2 imports bpy"]
