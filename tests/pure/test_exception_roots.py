"""One exception root per package, and one meaning per exception name (STYLE.md habit 11).

Every exception class defined in a package derives from that package's root, so a caller can catch
everything one package raises with one ``except``; no two exception classes of the product share a name
(the add-on's ``ServerError`` and the batch renderer's used to). Found by an AST scan, so the Blender
modules (``bl_*.py``) are checked without importing bpy; base names are resolved through each module's
imports (relative ones included) and re-exports.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOTS = {
    "au_contract": "au_contract.errors.ContractError",
    "model_server": "model_server.errors.ModelServerError",
    "model_training": "model_training.errors.TrainingError",
    "rigs": "rigs.errors.RigError",
    "blender_addon": "blender_addon.errors.AddonError",
    "batch_render": "batch_render.errors.BatchError",
}
SCRIPTS = ("build_addon.py", "build_wheels.py")  # in the name check only: a script has no package root


@dataclass
class ClassInfo:
    qualname: str  # module.Class
    where: str  # file:line
    bases: list[str]  # resolved qualified names of the bases


@dataclass
class ModuleInfo:
    imports: dict[str, str]  # local name -> qualified name (module or module.attribute)
    classes: dict[str, ClassInfo]  # class name -> info


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute module of ``from <level dots><target> import ...`` written in ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def scan(path: Path) -> ModuleInfo:
    """Imports and top-level classes (bases resolved to qualified names) of one module."""
    module = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    info = ModuleInfo({}, {})
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, path.name == "__init__.py", node.level, node.module)
            for alias in node.names:
                info.imports[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                info.imports[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0])
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = [_resolve(base, module, info) for base in node.bases]
            info.classes[node.name] = ClassInfo(f"{module}.{node.name}",
                                                f"{path.relative_to(ROOT)}:{node.lineno}", bases)
    return info


def _resolve(expr: ast.expr, module: str, info: ModuleInfo) -> str:
    if isinstance(expr, ast.Name):
        if expr.id in info.imports:
            return info.imports[expr.id]
        if hasattr(builtins, expr.id) and expr.id not in info.classes:
            return f"builtins.{expr.id}"
        return f"{module}.{expr.id}"
    if isinstance(expr, ast.Attribute):
        return f"{_resolve(expr.value, module, info)}.{expr.attr}"
    if isinstance(expr, ast.Subscript):  # Generic[T] and the like
        return _resolve(expr.value, module, info)
    return "builtins.<unresolved>"


class Product:
    """Every class of the product's packages, with a lookup that follows re-exports."""

    def __init__(self) -> None:
        self.modules: dict[str, ModuleInfo] = {}
        files = [p for pkg in ROOTS for p in (ROOT / pkg).rglob("*.py")] + [ROOT / s for s in SCRIPTS]
        for path in files:
            self.modules[module_name(path)] = scan(path)

    def classes(self) -> list[ClassInfo]:
        return [c for m in self.modules.values() for c in m.classes.values()]

    def lookup(self, qualname: str, depth: int = 0) -> ClassInfo | str:
        """The product class a qualified name means, or the name itself when it lies outside."""
        module, _, name = qualname.rpartition(".")
        info = self.modules.get(module)
        if info is None or depth > 10:
            return qualname
        if name in info.classes:
            return info.classes[name]
        if name in info.imports:
            return self.lookup(info.imports[name], depth + 1)
        return qualname

    def ancestors(self, cls: ClassInfo) -> set[str]:
        """Qualified names of every base, direct or not (outside classes: their real MRO)."""
        seen: set[str] = set()
        todo = list(cls.bases)
        while todo:
            found = self.lookup(todo.pop())
            if isinstance(found, ClassInfo):
                if found.qualname not in seen:
                    seen.add(found.qualname)
                    todo.extend(found.bases)
            else:
                seen.add(found)
                seen.update(_outside_mro(found))
        return seen

    def is_exception(self, cls: ClassInfo) -> bool:
        return "builtins.BaseException" in self.ancestors(cls)


def _outside_mro(qualname: str) -> set[str]:
    """The MRO of a class outside the product, as ``module.Class`` names (``builtins.X`` for builtins).

    Only the standard library is imported (a pure test never imports bpy or torch); the bases of a
    third-party class count as unknown, and :func:`test_outside_bases_are_known` lists them.
    """
    module, _, name = qualname.rpartition(".")
    if module.split(".")[0] not in sys.stdlib_module_names:
        return set()
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return set()
    if not isinstance(obj, type):
        return set()
    return {f"{k.__module__}.{k.__qualname__}" for k in obj.__mro__}


def test_every_package_root_exists_and_is_an_exception() -> None:
    product = Product()
    for package, root in ROOTS.items():
        found = product.lookup(root)
        assert isinstance(found, ClassInfo), f"{package} has no exception root {root}"
        assert product.is_exception(found), f"{root} is not an exception"


def test_every_exception_derives_from_its_package_root() -> None:
    product = Product()
    wrong = []
    for cls in product.classes():
        package = cls.qualname.split(".")[0]
        if (package in ROOTS and product.is_exception(cls) and cls.qualname != ROOTS[package]
                and ROOTS[package] not in product.ancestors(cls)):
            wrong.append(f"{cls.where} {cls.qualname} does not derive from {ROOTS[package]}")
    assert not wrong, "\n".join(wrong)


def test_no_two_exception_classes_share_a_name() -> None:
    product = Product()
    by_name: dict[str, list[str]] = {}
    for cls in product.classes():
        if product.is_exception(cls):
            by_name.setdefault(cls.qualname.rsplit(".", 1)[1], []).append(cls.where)
    twins = {name: where for name, where in by_name.items() if len(where) > 1}
    assert not twins, "\n".join(f"{name}: {', '.join(where)}" for name, where in sorted(twins.items()))


def test_the_scan_resolves_relative_imports_and_finds_exceptions() -> None:
    product = Product()
    client_error = product.lookup("blender_addon.server.client.ServerError")
    assert isinstance(client_error, ClassInfo) and client_error.bases[0] == "blender_addon.errors.AddonError"
    assert product.is_exception(client_error)
    assert "builtins.RuntimeError" in product.ancestors(client_error)
    not_an_error = product.lookup("blender_addon.splat.camera.Camera")
    assert isinstance(not_an_error, ClassInfo) and not product.is_exception(not_an_error)


#: Bases the scan cannot import or resolve in a pure test, known not to be exceptions: Blender, torch and
#: uvicorn classes, and the operator mixin's base (``bpy.types.Operator`` when type checking, else object).
KNOWN_NON_EXCEPTION_PREFIXES = ("bpy.types.", "torch.nn.", "uvicorn.protocols.",
                                "blender_addon.operators.bl_animate._OperatorBase")


def test_outside_bases_are_known() -> None:
    """A class deriving from a third-party class the scan cannot see into (say ``httpx.HTTPError``) would
    escape the checks above: every such base must be listed as known not to be an exception."""
    product = Product()
    unknown = []
    for cls in product.classes():
        for base in cls.bases:
            found = product.lookup(base)
            if (isinstance(found, str) and found.split(".")[0] not in sys.stdlib_module_names
                    and not found.startswith(KNOWN_NON_EXCEPTION_PREFIXES)):
                unknown.append(f"{cls.where} {cls.qualname}({found})")
    assert not unknown, "third-party bases the scan cannot check:\n" + "\n".join(unknown)
