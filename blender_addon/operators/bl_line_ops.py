"""Operators on the scene's lines: ``move_line`` and ``remove_line`` (regenerating one is ``regenerate``).

Thin shells over ``animation/bl_lines``; ``index`` -1 means the line selected in the panel's list. Muting
is the line's ``mute`` property (the list's speaker icon), selecting is the list itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import bpy
from bpy.props import IntProperty

from ..animation import bl_layers, bl_lines

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems


def _line(context: bpy.types.Context, index: int) -> bl_lines.AUTH_PG_line | None:
    items = bl_lines.lines(context.scene)
    if index < 0:
        return bl_lines.active_line(context.scene)
    return items[index] if index < len(items) else None


def _poll(cls: type, context: bpy.types.Context) -> bool:
    if bl_lines.active_line(context.scene) is None and not len(bl_lines.lines(context.scene)):
        cls.poll_message_set("No lines yet: use Generate from Audio first")
        return False
    return True


class AUTH_OT_move_line(bpy.types.Operator):
    """Move a line in time: its curves (hand edits too) and its sound strip together"""

    bl_idname = "au_talking_head.move_line"
    bl_label = "Move Line"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender API)

    index: IntProperty(name="Line", default=-1, description="Line to move (-1: the selected one)")  # type: ignore[valid-type]
    frame_start: IntProperty(name="Start Frame", default=1, description="New first frame of the line")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll(cls, context)

    def invoke(self, context: bpy.types.Context, _event: bpy.types.Event) -> set[OperatorReturnItems]:
        line = _line(context, self.index)
        if line is not None and not self.properties.is_property_set("frame_start"):
            self.frame_start = line.frame_start
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        line = _line(context, self.index)
        if line is None:
            self.report({"ERROR"}, "Nothing moved: there is no such line")
            return {"CANCELLED"}
        name = line.name
        try:
            bl_lines.move(context.scene, line.uid, self.frame_start)
        except bl_layers.LayerError as exc:
            self.report({"ERROR"}, f"Nothing moved: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Moved '{name}' to frame {self.frame_start}")
        return {"FINISHED"}


class AUTH_OT_remove_line(bpy.types.Operator):
    """Remove a line: its keys (hand edits in it too) and its sound strip"""

    bl_idname = "au_talking_head.remove_line"
    bl_label = "Remove Line"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender API)

    index: IntProperty(name="Line", default=-1, description="Line to remove (-1: the selected one)")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll(cls, context)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        line = _line(context, self.index)
        if line is None:
            self.report({"ERROR"}, "Nothing removed: there is no such line")
            return {"CANCELLED"}
        name = line.name
        bl_lines.remove(context.scene, line.uid)
        self.report({"INFO"}, f"Removed the line '{name}'")
        return {"FINISHED"}


CLASSES = (AUTH_OT_move_line, AUTH_OT_remove_line)
