"""Registration of the extension's Blender classes, module by module.

Each Blender-facing module listed in ``MODULES`` defines ``CLASSES`` (registered in order) and may
define ``register_extra()`` / ``unregister_extra()`` for what is not a class (scene properties,
handlers, timers). Modules unregister in reverse order.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

import bpy

log = logging.getLogger(__name__)

#: Blender-facing modules in registration order (property groups before the classes that use them).
MODULES: tuple[str, ...] = (
    "animation.bl_lines",
    "bl_props",
    "splat.bl_engine",
    "operators.bl_server",
    "operators.bl_animate",
    "operators.bl_line_ops",
    "operators.bl_bake",
    "operators.bl_rig",
    "operators.bl_mapping",
    "operators.bl_pose",
    "ui.bl_panel",
    "ui.bl_lines_panel",
    "ui.bl_mapping_panel",
    "operators.bl_splat",
)


def _modules() -> list[ModuleType]:
    package = __name__.rpartition(".")[0]
    return [importlib.import_module(f"{package}.{name}") for name in MODULES]


def register() -> None:
    """Register all classes, then each module's extras."""
    for module in _modules():
        for cls in getattr(module, "CLASSES", ()):
            bpy.utils.register_class(cls)
        extra = getattr(module, "register_extra", None)
        if extra is not None:
            extra()
    log.debug("au_talking_head registered")


def unregister() -> None:
    """Undo ``register`` in reverse order; tolerant of a half-finished registration."""
    for module in reversed(_modules()):
        extra = getattr(module, "unregister_extra", None)
        if extra is not None:
            extra()
        for cls in reversed(getattr(module, "CLASSES", ())):
            if getattr(cls, "is_registered", False):
                bpy.utils.unregister_class(cls)
