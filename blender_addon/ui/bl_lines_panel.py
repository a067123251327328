"""The lines list: 3D View > N > Talking Head > Lines. ``draw()`` stays thin (panels never draw headless).

One row per line (mute toggle, name, frames, emotion); selecting a row loads the line's settings into the
Speech box above, so Regenerate works on it. Beside the list: regenerate, move and remove the selected line.
"""

from __future__ import annotations

from typing import Any

import bpy

from au_contract.transcripts import WARNING_PREFIX

from ..animation import bl_lines


class AUTH_UL_lines(bpy.types.UIList):
    """The scene's lines, in time order."""

    bl_idname = "AUTH_UL_lines"

    def draw_item(self, context: bpy.types.Context, layout: bpy.types.UILayout, data: Any | None,
                  item: Any | None, icon: int | None, active_data: Any, active_property: str | None,
                  index: int | None = 0, flt_flag: int | None = 0) -> None:
        """One row: mute toggle, name, frames, emotion."""
        row = layout.row(align=True)
        row.prop(item, "mute", text="", emboss=False, icon="MUTE_IPO_ON" if item.mute else "MUTE_IPO_OFF")
        row.label(text=item.name, icon="SOUND")
        row.label(text=f"{item.frame_start}-{bl_lines.frame_end(item)}")
        row.label(text=item.emotion.title())


def draw_lines(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    """The list and the selected line's buttons."""
    row = layout.row()
    row.template_list("AUTH_UL_lines", "", settings, "lines", settings, "line_index", rows=3)
    col = row.column(align=True)
    col.operator("au_talking_head.regenerate", text="", icon="FILE_REFRESH")
    col.operator("au_talking_head.move_line", text="", icon="ARROW_LEFTRIGHT")
    col.operator("au_talking_head.remove_line", text="", icon="X")
    items, index = settings.lines, settings.line_index
    if 0 <= index < len(items):
        line = items[index]
        box = layout.box()
        box.label(text=f"{line.name}: {line.emotion.title()} {line.strength:.2f}, seed {line.seed}")
        if line.transcript:
            box.label(text=f"Transcript: {line.transcript[:60]}")
        if line.transcript_result:  # a warning starts with WARNING_PREFIX; a used transcript's note does not
            warned = line.transcript_result.startswith(WARNING_PREFIX)
            box.label(text=line.transcript_result[:120], icon="ERROR" if warned else "INFO")


class VIEW3D_PT_au_talking_head_lines(bpy.types.Panel):
    bl_label = "Lines"
    bl_idname = "VIEW3D_PT_au_talking_head_lines"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Talking Head"
    bl_parent_id = "VIEW3D_PT_au_talking_head"

    def draw(self, context: bpy.types.Context) -> None:
        draw_lines(self.layout, context.scene.au_talking_head)


CLASSES = (AUTH_UL_lines, VIEW3D_PT_au_talking_head_lines)
