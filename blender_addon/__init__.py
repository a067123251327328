"""AU Talking Head: the Blender extension.

This file imports no bpy (STYLE.md habit 1): Blender calls ``register``/``unregister`` and the work is
delegated to ``bl_register``. Modules named ``bl_*.py`` are the Blender-facing edge; every other module
in this package is pure and tested without Blender.
"""

from __future__ import annotations


def register() -> None:
    """Register every Blender class of the extension (called by Blender)."""
    from . import bl_register

    bl_register.register()


def unregister() -> None:
    """Unregister every Blender class of the extension (called by Blender)."""
    from . import bl_register

    bl_register.unregister()
