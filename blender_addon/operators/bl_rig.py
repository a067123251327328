"""Operators of the rig generator: ``au_talking_head.generate_rig`` and ``au_talking_head.adapt_rig``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import bpy
from bpy.props import BoolProperty, StringProperty

from rigs.arkit import MappingError
from rigs.bl_adapt import AdaptError, adapt_character
from rigs.bl_build import build_default_rig
from rigs.errors import SourceDataError

from .bl_mapping import note_adapt

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems


class AUTH_OT_generate_rig(bpy.types.Operator):
    """Generate the default FACS head: mesh with AU shape keys, zones, landmarks and its control object"""

    bl_idname = "au_talking_head.generate_rig"
    bl_label = "Generate Rig"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender API)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode to generate the rig")
            return False
        return True

    splat: BoolProperty(  # type: ignore[valid-type]
        name="Splat Twin", default=True,
        description="Also create the head's Gaussian-splat twin")
    render_settings: BoolProperty(  # type: ignore[valid-type]
        name="Switch Render Settings", default=True,
        description="Add what the scene lacks of a studio (a camera framing the head, three-point lights, "
                    "a plain background) and, with the splat twin, set the render engine to Gaussian Splat "
                    "and the view transform to Standard (the splat's colours are display-referred). Off: the "
                    "scene's camera, lights, world and render settings stay as they are")

    def invoke(self, context: bpy.types.Context, _event: bpy.types.Event) -> set[OperatorReturnItems]:
        """From the UI: ask before anything changes the scene's render settings."""
        return context.window_manager.invoke_props_dialog(self, title="Generate Rig")

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        try:
            control, face = build_default_rig(context)
        except SourceDataError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        changed = ""
        if self.render_settings:
            from rigs.bl_studio import ensure_studio

            added = ensure_studio(context.scene, face)
            changed = f"; added {', '.join(added)}" if added else ""
        if self.splat:
            from ..splat.bl_data import add_splat_twin

            render, view = context.scene.render, context.scene.view_settings
            before = (render.engine, view.view_transform)
            add_splat_twin(context, face)
            if not self.render_settings:
                render.engine, view.view_transform = before
            elif (render.engine, view.view_transform) != before:
                changed += (f"; render engine {before[0]} -> {render.engine}, view transform {before[1]} -> "
                           f"{view.view_transform}")
        self.report({"INFO"}, f"Generated '{face.name}' driven by '{control.name}'{changed}")
        return {"FINISHED"}


class AUTH_OT_adapt_rig(bpy.types.Operator):
    """Drive a character from the AU control object: its shape keys (ARKit-52, Character Creator, VRM,
    visemes, a custom map) or its face bones (Rigify's face, recorded poses)"""

    bl_idname = "au_talking_head.adapt_rig"
    bl_label = "Adapt Character"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender API)

    target: StringProperty(  # type: ignore[valid-type]
        name="Target", default="", description="Mesh object to drive (default: the active object)")
    mapping_path: StringProperty(  # type: ignore[valid-type]
        name="AU Map", default="", subtype="FILE_PATH",
        description="Optional JSON map (AU -> shape keys, or an au-pose/1 bone preset); empty: recognise "
                    "names")

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        obj = bpy.data.objects.get(self.target) if self.target else context.active_object
        try:
            plan = adapt_character(context, obj, self.mapping_path)
        except (AdaptError, MappingError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        note_adapt(context, obj, plan)  # the mapping editor shows the report and the rows
        clean = getattr(plan, "clean", not getattr(plan, "missing", []))
        self.report({"INFO"} if clean else {"WARNING"}, plan.summary(obj.name))
        return {"FINISHED"}


CLASSES = (AUTH_OT_generate_rig, AUTH_OT_adapt_rig)
