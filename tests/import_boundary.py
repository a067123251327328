"""Where bpy may be imported (STYLE.md habit 1), as a checker the tests call.

Blender-facing modules are the ones whose file name starts with ``bl_``; every other module of the
shipped packages must import none of ``bpy``, ``mathutils``, ``gpu``, ``bmesh`` (nor ``bpy_extras``),
directly, from inside a function, or through ``importlib.import_module("bpy")`` / ``__import__``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

BLENDER_MODULES = frozenset({"bpy", "mathutils", "gpu", "bmesh", "bpy_extras", "gpu_extras", "bl_math"})
PACKAGES = ("au_contract", "blender_addon", "rigs", "model_server", "model_training", "batch_render", "bench")


def is_blender_facing(path: Path) -> bool:
    """A module may import Blender's modules only if its file name starts with ``bl_``."""
    return path.name.startswith("bl_")


def blender_imports(source: str, filename: str = "<string>") -> list[tuple[int, str]]:
    """Return (line, module) for every import of a Blender module in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in ("__import__", "import_module")))):
            names = [node.args[0].value]
        for name in names:
            if name.split(".")[0] in BLENDER_MODULES:
                found.append((node.lineno, name))
    return sorted(found)


def python_files(root: Path, packages: Iterable[str] = PACKAGES) -> list[Path]:
    """Every .py file of the shipped packages (symlinks not followed, so rigs/ is scanned once)."""
    files: list[Path] = []
    for package in packages:
        base = root / package
        if base.is_dir():
            files += [p for p in sorted(base.rglob("*.py"))
                      if "__pycache__" not in p.parts and not any(q.is_symlink() for q in p.parents)
                      and not p.is_symlink()]
    files.append(root / "build_addon.py")
    return files


def violations(root: Path) -> list[str]:
    """Return one ``path:line imports module`` line per import of bpy & co. in a pure module."""
    out: list[str] = []
    for path in python_files(root):
        if is_blender_facing(path):
            continue
        for line, module in blender_imports(path.read_text(encoding="utf-8"), str(path)):
            out.append(f"{path.relative_to(root)}:{line} imports {module}")
    return out
