"""The staged generator (Blender side): runs ``rigs.stages.STAGES`` over rig-type plugins, Rigify style.

A plugin is ``rigs/rig_types/bl_<name>.py`` defining ``Rig(ctx)``; the generator calls, stage by stage, the
method of that name on every rig that has it, so every rig finishes a stage before any rig starts the next.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any

import bpy

from .stages import STAGE_NAMES

log = logging.getLogger(__name__)


@dataclass
class GenerationContext:
    """What the stages share.

    Attributes:
        context: the Blender context.
        collection: where generated objects are linked.
        options: generator options (``seed``...).
        data: free slots rigs publish for each other (e.g. ``"head"``, ``"control"``, ``"face"``).
    """

    context: Any
    collection: Any
    options: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


def rig_class(name: str) -> type:
    """The ``Rig`` class of plugin ``rig_types/bl_<name>.py``.

    Raises:
        ImportError: when the plugin or its ``Rig`` class does not exist.
    """
    module = importlib.import_module(f"{__package__}.rig_types.bl_{name}")
    cls = getattr(module, "Rig", None)
    if cls is None:
        raise ImportError(f"rig type {name!r} defines no class Rig")
    return cls


def run_stages(context: Any, rig_types: list[str], collection_name: str, **options: Any) -> GenerationContext:
    """Instantiate the plugins and run every stage in order. Returns the shared context."""
    collection = bpy.data.collections.new(collection_name)
    context.scene.collection.children.link(collection)
    ctx = GenerationContext(context, collection, dict(options))
    rigs = [rig_class(name)(ctx) for name in rig_types]
    for stage in STAGE_NAMES:
        for rig in rigs:
            method = getattr(rig, stage, None)
            if method is not None:
                log.debug("stage %s: %s", stage, type(rig).__module__)
                method(ctx)
    return ctx
