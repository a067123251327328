"""Per-AU poses of any armature: operators ``record_au_pose``, ``save_pose_preset``, ``load_pose_preset``.

A face rig that is not Rigify's is taught once: pose the face for an AU in Pose Mode, press Record AU Pose;
the pose (bone offsets from rest) is kept on the armature as an au-pose/1 preset (``rigs.bl_bones``), which
Adapt Character plays through drivers (``auth_<AU>`` properties on the armature, one simple expression per
bone channel). Presets travel as JSON files (Save / Load Pose Preset); loading onto an adapted armature
adapts it again. A driven bone cannot be posed (Blender writes the driven value back), so an adapted
armature is re-recorded after Edit AU Poses, which pauses the drivers until the next Adapt Character.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import BoolProperty, EnumProperty

from au_contract import ACTION_UNITS
from rigs.bl_adapt import adapt_character
from rigs.bl_bones import find_armature, pause_pose_drivers, record_pose, recorded_poses, store_poses
from rigs.bone_poses import load_poses, pose_key, save_poses
from rigs.errors import AdaptError, MappingError
from rigs.naming import CONTROL_REF_PROP

from .bl_mapping import JsonFileOperator, note_adapt

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

AU_ITEMS = tuple((au.code, au.label, f"{au.name} ({'sided' if au.sided else 'both sides'})")
                 for au in ACTION_UNITS)
SIDE_ITEMS = (("", "Both", "One pose for the AU on both sides (the bones you moved)"),
              ("L", "Left", "The character's left side only (sided AUs)"),
              ("R", "Right", "The character's right side only (sided AUs)"))


def _armature(context: Any) -> Any:
    return find_armature(context.active_object)


def _readapt(context: Any, arm: Any) -> str:
    """Adapt ``arm`` again when it was adapted before; returns what to add to the report."""
    if not arm.get(CONTROL_REF_PROP):
        return "; press Adapt Character to play the poses"
    plan = adapt_character(context, arm)
    note_adapt(context, arm, plan)
    return "; re-adapted"


class AUTH_OT_record_au_pose(bpy.types.Operator):
    """Store the current pose of the selected bones (or of every bone that moved) as the pose of one AU,
    kept on the armature; Adapt Character plays it from the AU's value"""

    bl_idname = "au_talking_head.record_au_pose"
    bl_label = "Record AU Pose"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender API)

    au: EnumProperty(name="AU", items=AU_ITEMS, default="AU26")  # type: ignore[valid-type]
    side: EnumProperty(name="Side", items=SIDE_ITEMS, default="")  # type: ignore[valid-type]
    selected_only: BoolProperty(  # type: ignore[valid-type]
        name="Selected Bones Only", default=True,
        description="Record the selected bones (those away from rest); off: every bone away from rest")
    rest_after: BoolProperty(  # type: ignore[valid-type]
        name="Back to Rest", default=True,
        description="Put the recorded bones back to rest, ready to pose the next AU")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        if obj is None or obj.type != "ARMATURE" or context.mode != "POSE":
            cls.poll_message_set("Pose the face of an armature in Pose Mode first")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        arm = context.active_object
        bones = [pb.name for pb in arm.pose.bones if pb.select or not self.selected_only]
        try:
            if not bones:
                raise AdaptError("no bone is selected: select the bones you posed (or untick Selected Bones "
                                 "Only)")
            key = pose_key(self.au, self.side)
            deltas = record_pose(arm, key, bones)
            if self.rest_after:
                for name in deltas:
                    pb = arm.pose.bones[name]
                    pb.location = (0.0, 0.0, 0.0)
                    pb.rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
                    pb.rotation_euler = (0.0, 0.0, 0.0)
        except (AdaptError, MappingError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        total = len(recorded_poses(arm))
        self.report({"INFO"}, f"Recorded {key} on {len(deltas)} bones ({', '.join(sorted(deltas))}); "
                              f"{total} AU poses on '{arm.name}'; press Adapt Character to play them")
        return {"FINISHED"}


class AUTH_OT_edit_au_poses(bpy.types.Operator):
    """Pause the AU pose drivers of an adapted armature so its face can be posed and recorded again
    (Adapt Character turns them back on)"""

    bl_idname = "au_talking_head.edit_au_poses"
    bl_label = "Edit AU Poses"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender API)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if _armature(context) is None:
            cls.poll_message_set("Select the face's armature")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        arm = _armature(context)
        n = pause_pose_drivers(arm)
        self.report({"INFO"}, f"Paused {n} AU pose drivers of '{arm.name}': pose the face, Record AU Pose "
                              "for each AU, then Adapt Character")
        return {"FINISHED"}


class _PresetFile(JsonFileOperator):

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if _armature(context) is None:
            cls.poll_message_set("Select the face's armature (or a mesh it deforms)")
            return False
        return True

    def default_filename(self, context: Any) -> str:
        return f"{_armature(context).name}_au_poses.json"


class AUTH_OT_save_pose_preset(_PresetFile, bpy.types.Operator):
    """Save the armature's recorded AU poses as an au-pose/1 JSON preset"""

    bl_idname = "au_talking_head.save_pose_preset"
    bl_label = "Save Pose Preset"

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        arm = _armature(context)
        try:
            poses = recorded_poses(arm)
            if not poses:
                raise MappingError(f"'{arm.name}' has no recorded AU poses to save: record one first")
            save_poses(Path(bpy.path.abspath(self.filepath)), poses)
        except MappingError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved {len(poses)} AU poses of '{arm.name}' to {self.filepath}")
        return {"FINISHED"}


class AUTH_OT_load_pose_preset(_PresetFile, bpy.types.Operator):
    """Load an au-pose/1 JSON preset as the armature's AU poses (replacing those recorded)"""

    bl_idname = "au_talking_head.load_pose_preset"
    bl_label = "Load Pose Preset"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender API)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        arm = _armature(context)
        try:
            poses = load_poses(Path(bpy.path.abspath(self.filepath)))
            store_poses(arm, poses)
            extra = _readapt(context, arm)
        except (AdaptError, MappingError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        missing = sorted({b for bones in poses.values() for b in bones if b not in arm.pose.bones})
        note = f"; bones not in the rig: {', '.join(missing)}" if missing else ""
        self.report({"WARNING"} if missing else {"INFO"},
                    f"Loaded {len(poses)} AU poses onto '{arm.name}'{extra}{note}")
        return {"FINISHED"}


CLASSES = (AUTH_OT_record_au_pose, AUTH_OT_edit_au_poses, AUTH_OT_save_pose_preset, AUTH_OT_load_pose_preset)
