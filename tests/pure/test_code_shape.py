"""Modules small enough to read in one sitting (STYLE.md habit 6): no function over 80 lines and no
module over 400 lines in the shipped and tooling packages, found by an AST scan."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("au_contract", "model_server", "model_training", "rigs", "blender_addon", "batch_render")
SCRIPTS = ("build_addon.py",)
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 400


def sources() -> list[Path]:
    """Every Python file of the checked packages and scripts."""
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    return files + [ROOT / s for s in SCRIPTS]


def function_lengths(tree: ast.AST) -> list[tuple[str, int, int]]:
    """(qualified name, first line, line count) of every function, nested ones and methods included.

    A function's lines run from its ``def`` (decorators excluded) to its last line, docstring included.
    """
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                found.append((name, child.lineno, (child.end_lineno or child.lineno) - child.lineno + 1))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def offenders() -> tuple[list[str], list[str]]:
    """``file:line name (n lines)`` of the long functions and ``file (n lines)`` of the long modules."""
    long_functions, long_modules = [], []
    for path in sources():
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT)
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            long_modules.append(f"{rel} ({lines} lines)")
        for name, line, count in function_lengths(ast.parse(text, str(rel))):
            if count > MAX_FUNCTION_LINES:
                long_functions.append(f"{rel}:{line} {name} ({count} lines)")
    return long_functions, long_modules


def test_the_scan_sees_every_package_and_measures_functions() -> None:
    files = sources()
    for pkg in PACKAGES:
        assert any(p.parent.name == pkg for p in files), f"no module found in {pkg}"
    src = ("def f():\n" + "    x = 1\n" * 80
           + "class C:\n    def m(self):\n        def inner():\n            pass\n")
    lengths = {name: count for name, _, count in function_lengths(ast.parse(src))}
    assert lengths == {"f": 81, "C.m": 3, "C.m.inner": 2}


def test_no_function_over_80_lines() -> None:
    long_functions, _ = offenders()
    assert not long_functions, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long_functions)


def test_no_module_over_400_lines() -> None:
    _, long_modules = offenders()
    assert not long_modules, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long_modules)
