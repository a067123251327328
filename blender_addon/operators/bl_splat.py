"""Operators for Gaussian splats: ``au_talking_head.import_splat`` and ``au_talking_head.bind_splat``,
and their sidebar sub-panel."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import EnumProperty, StringProperty

from ..splat.bl_data import bind_to_mesh, bound_target, create_object, is_splat, write_binding
from ..splat.model import SplatError
from ..splat.ply import read_any

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

#: Rotation about X that turns each file convention's up axis into Blender's +Z.
AXIS_ROTATION_X = {"Z": 0.0, "Y": math.pi / 2, "-Y": -math.pi / 2}


class AUTH_OT_import_splat(bpy.types.Operator):
    """Import a 3D Gaussian Splatting file (.ply with SH degree 0..3, or .splat) as a splat object"""

    bl_idname = "au_talking_head.import_splat"
    bl_label = "Import Gaussian Splat"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender API)

    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.ply;*.splat", options={"HIDDEN"})  # type: ignore[valid-type]
    axis_up: EnumProperty(  # type: ignore[valid-type]
        name="Up Axis",
        items=(("Z", "Z Up", "The file is in Blender's convention (+Z up)"),
               ("Y", "Y Up", "OpenGL convention (+Y up): rotated +90° about X"),
               ("-Y", "-Y Up", "OpenCV/COLMAP convention, usual for 3DGS captures: rotated -90° about X")),
        default="-Y",
    )
    bind_to: StringProperty(  # type: ignore[valid-type]
        name="Bind To", default="",
        description="Mesh object to follow when the PLY carries binding columns (e.g. an exported twin)")

    def invoke(self, context: Any, event: Any) -> set[OperatorReturnItems]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: Any) -> set[OperatorReturnItems]:
        try:
            gaussians, binding = read_any(self.filepath)
            target = bpy.data.objects.get(self.bind_to) if self.bind_to else None
            if self.bind_to and target is None:
                raise SplatError(f"no object named '{self.bind_to}' to bind to")
            obj = create_object(context, Path(self.filepath).stem, gaussians)
            if binding is not None and target is not None:
                binding.check(len(target.data.vertices))
                write_binding(obj, binding, target)
            else:
                obj.rotation_euler = (AXIS_ROTATION_X[self.axis_up], 0.0, 0.0)
        except SplatError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for other in context.selected_objects:
            other.select_set(False)
        obj.select_set(True)
        context.view_layer.objects.active = obj
        self.report({"INFO"}, f"Imported {len(gaussians)} Gaussians (SH degree {gaussians.sh_degree})")
        return {"FINISHED"}


class AUTH_OT_bind_splat(bpy.types.Operator):
    """Bind a splat object to the nearest triangles of a mesh (align them first), so it follows the rig"""

    bl_idname = "au_talking_head.bind_splat"
    bl_label = "Bind Splat to Mesh"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender API)

    splat: StringProperty(name="Splat", default="",  # type: ignore[valid-type]
                          description="Splat object (default: the selected splat object)")
    target: StringProperty(name="Mesh", default="",  # type: ignore[valid-type]
                           description="Mesh to follow (default: the other selected mesh)")

    def execute(self, context: Any) -> set[OperatorReturnItems]:
        try:
            splat, target = self._pick(context)
            count = bind_to_mesh(splat, target, context.evaluated_depsgraph_get())
        except SplatError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Bound {count} Gaussians of '{splat.name}' to '{target.name}'")
        return {"FINISHED"}

    def _pick(self, context: Any) -> tuple[Any, Any]:
        selected = list(context.selected_objects)
        splat = bpy.data.objects.get(self.splat) if self.splat else next(
            (o for o in selected if is_splat(o)), None)
        target = bpy.data.objects.get(self.target) if self.target else next(
            (o for o in selected if o.type == "MESH" and not is_splat(o)), None)
        if splat is None:
            raise SplatError("select a Gaussian-splat object (import one first) or name it in 'splat'")
        if target is None:
            raise SplatError("select the mesh to bind to (the rig's face) or name it in 'target'")
        return splat, target


class VIEW3D_PT_au_talking_head_splat(bpy.types.Panel):
    bl_label = "Gaussian Splat"
    bl_idname = "VIEW3D_PT_au_talking_head_splat"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Talking Head"
    bl_parent_id = "VIEW3D_PT_au_talking_head"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 (Blender API)

    def draw(self, context: Any) -> None:
        layout = self.layout
        layout.operator(AUTH_OT_import_splat.bl_idname, icon="IMPORT")
        layout.operator(AUTH_OT_bind_splat.bl_idname, icon="LINKED")
        obj = context.active_object
        if obj is not None and is_splat(obj):
            target = bound_target(obj)
            layout.label(text=f"Follows: {target.name}" if target else "Not bound")


CLASSES = (AUTH_OT_import_splat, AUTH_OT_bind_splat, VIEW3D_PT_au_talking_head_splat)
