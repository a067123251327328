"""The mapping editor: 3D View > N > Talking Head > Character Mapping. ``draw()`` stays thin.

What drives the current character (``Scene.au_talking_head_mapping``, filled by Adapt Character and Show
Mapping in ``operators.bl_mapping``): one row per AU weight on a shape key (the weight is editable), per
derived driver (visemes, gaze, lip closure) or per recorded bone pose; Load / Save AU Map or Record AU
Pose and pose presets; a live preview of one AU; the last Adapt Character report, one part per line.
"""

from __future__ import annotations

import bpy

#: Rows shown at once in the list.
LIST_ROWS = 6


def report_lines(report: str) -> list[str]:
    """The report's parts (``"; "``-separated), one per line of the panel."""
    return [part for part in report.split("; ") if part]


class AUTH_UL_mapping(bpy.types.UIList):
    """The mapping rows: AU, target, weight (or what drives a derived row)."""

    bl_idname = "AUTH_UL_mapping"

    def draw_item(self, _context: bpy.types.Context, layout: bpy.types.UILayout, _data: bpy.types.AnyType,
                  item: bpy.types.AnyType, _icon: int, _active_data: bpy.types.AnyType,
                  _active_property: str | None, _index: int = 0, _flt_flag: int = 0) -> None:
        row = layout.row(align=True)
        if item.editable:
            row.label(text=item.au)
            row.label(text=item.target, icon="SHAPEKEY_DATA")
            row.prop(item, "weight", text="")
        elif item.au:  # a bone pose
            row.label(text=item.au)
            row.label(text=item.target, icon="BONE_DATA")
        else:
            row.label(text=item.target, icon="DRIVER")
            row.label(text=item.role)


def draw_mapping(layout: bpy.types.UILayout, mapping: bpy.types.PropertyGroup, is_armature: bool) -> None:
    """The editor: character, rows, files, preview, report."""
    row = layout.row(align=True)
    name = mapping.character.name if mapping.character is not None else "no character yet"
    row.label(text=name, icon="ARMATURE_DATA" if is_armature else "SHAPEKEY_DATA")
    row.operator("au_talking_head.show_mapping", text="", icon="FILE_REFRESH")
    layout.template_list("AUTH_UL_mapping", "", mapping, "rows", mapping, "row_index", rows=LIST_ROWS)
    row = layout.row(align=True)
    if is_armature:
        row.operator("au_talking_head.record_au_pose", icon="REC")
        row.operator("au_talking_head.edit_au_poses", text="", icon="PAUSE")
        row.operator("au_talking_head.load_pose_preset", text="", icon="IMPORT")
        row.operator("au_talking_head.save_pose_preset", text="", icon="EXPORT")
    else:
        row.operator("au_talking_head.load_au_map", icon="IMPORT")
        row.operator("au_talking_head.save_au_map", icon="EXPORT")
    box = layout.box()
    row = box.row(align=True)
    row.prop(mapping, "preview", text="Preview", toggle=True, icon="HIDE_OFF")
    row.prop(mapping, "preview_au", text="")
    box.prop(mapping, "preview_value", slider=True)
    if mapping.report:
        box = layout.box()
        col = box.column(align=True)
        for i, line in enumerate(report_lines(mapping.report)):
            col.label(text=line, icon=("INFO" if mapping.report_ok else "ERROR") if i == 0 else "BLANK1")


class VIEW3D_PT_au_talking_head_mapping(bpy.types.Panel):
    bl_label = "Character Mapping"
    bl_idname = "VIEW3D_PT_au_talking_head_mapping"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Talking Head"
    bl_parent_id = "VIEW3D_PT_au_talking_head"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 (Blender API)

    def draw(self, context: bpy.types.Context) -> None:
        mapping = context.scene.au_talking_head_mapping
        draw_mapping(self.layout, mapping, mapping.bones)


CLASSES = (AUTH_UL_mapping, VIEW3D_PT_au_talking_head_mapping)
