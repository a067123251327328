"""Public entry point for scripts: ``build_default_rig(context)`` builds the default FACS head rig."""

from __future__ import annotations

from typing import Any

from .bl_stages import run_stages
from .naming import RIG_COLLECTION

#: Rig types of the default rig, in order (``rigs/rig_types/bl_<name>.py``).
DEFAULT_RIG_TYPES: tuple[str, ...] = ("facs_head", "au_control")


def build_default_rig(context: Any, *, seed: int = 0) -> tuple[Any, Any]:
    """Generate the default head and its control object in ``context.scene``.

    Args:
        context: a Blender context (``bpy.context``) in object mode.
        seed: reserved for randomised variants; the default head is fully deterministic.

    Returns:
        (control object, face mesh object). ``scene.au_talking_head.rig`` is set to the control.

    Raises:
        rigs.errors.SourceDataError: when the packaged head and its CC0 sources are missing.
    """
    ctx = run_stages(context, list(DEFAULT_RIG_TYPES), RIG_COLLECTION, seed=seed)
    return ctx.data["control"], ctx.data["face"]
