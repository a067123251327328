"""Any armature through recorded per-AU poses: pose, Record AU Pose, save the preset, load it in a fresh
file, adapt, and keying the AU moves the bones exactly as recorded (real bpy, the installed zip, evaluated
bones)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType

import pytest

#: A small face rig: (name, head, tail, parent). The jaw points forward and down, so its local axes are not
#: the armature's, and the lip corners hang off the jaw.
BONES = (("head", (0, 0, 0), (0, 0, 0.1), ""),
         ("jaw", (0, 0.01, 0.0), (0, -0.08, -0.04), "head"),
         ("lip_corner.L", (0.025, -0.07, -0.02), (0.03, -0.075, -0.02), "jaw"),
         ("lip_corner.R", (-0.025, -0.07, -0.02), (-0.03, -0.075, -0.02), "jaw"),
         ("brow", (0, -0.08, 0.06), (0, -0.09, 0.06), "head"))


def _rig(bpy: ModuleType) -> object:
    arm = bpy.data.armatures.new("FaceRig")
    obj = bpy.data.objects.new("FaceRig", arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for name, head, tail, parent in BONES:
        eb = arm.edit_bones.new(name)
        eb.head, eb.tail = head, tail
        if parent:
            eb.parent = arm.edit_bones[parent]
    bpy.ops.object.mode_set(mode="POSE")
    return obj


def _select(rig: object, names: tuple[str, ...]) -> None:
    for pb in rig.pose.bones:  # type: ignore[attr-defined]
        pb.select = pb.name in names


def _matrices(bpy: ModuleType, rig: object) -> dict[str, object]:
    """Evaluated pose matrices (armature space) of every bone."""
    bpy.context.view_layer.update()
    evaluated = rig.evaluated_get(bpy.context.evaluated_depsgraph_get())  # type: ignore[attr-defined]
    return {pb.name: pb.matrix.copy() for pb in evaluated.pose.bones}


def _close(a: object, b: object, tol: float = 1e-4) -> bool:
    return all(abs(a[i][j] - b[i][j]) < tol for i in range(4) for j in range(4))  # type: ignore[index]


def test_recorded_poses_survive_a_preset_file_and_play_back_as_recorded(fresh: ModuleType,
                                                                        tmp_path: Path) -> None:
    bpy = fresh
    from mathutils import Quaternion

    from rigs.bl_bones import POSES_PROP  # after bpy: mathutils comes with it

    rig = _rig(bpy)
    rest = _matrices(bpy, rig)
    with pytest.raises(RuntimeError, match="away from its rest pose"):
        _select(rig, ("jaw",))
        bpy.ops.au_talking_head.record_au_pose(au="AU26")
    # AU26: the jaw drops 0.3 rad about its own x axis
    rig.pose.bones["jaw"].rotation_quaternion = Quaternion((1, 0, 0), 0.3)
    open_jaw = _matrices(bpy, rig)
    assert bpy.ops.au_talking_head.record_au_pose(au="AU26") == {"FINISHED"}
    assert _close(_matrices(bpy, rig)["jaw"], rest["jaw"]), "Back to Rest left the jaw posed"
    # AU12: both corners out and up; the brow is nudged too but not selected, so it is not recorded
    rig.pose.bones["lip_corner.L"].location = (0.004, 0.002, 0.003)
    rig.pose.bones["lip_corner.R"].location = (-0.004, 0.002, 0.003)
    rig.pose.bones["brow"].location = (0.0, 0.01, 0.0)
    _select(rig, ("lip_corner.L", "lip_corner.R"))
    smile = _matrices(bpy, rig)
    assert bpy.ops.au_talking_head.record_au_pose(au="AU12") == {"FINISHED"}
    stored = json.loads(rig[POSES_PROP])  # type: ignore[index]
    assert stored["schema"] == "au-pose/1"
    assert set(stored["poses"]) == {"AU26", "AU12"}
    assert set(stored["poses"]["AU26"]) == {"jaw"}
    assert set(stored["poses"]["AU12"]) == {"lip_corner.L", "lip_corner.R"}, "an unselected bone was recorded"
    preset = tmp_path / "face_rig_poses.json"
    assert bpy.ops.au_talking_head.save_pose_preset(filepath=str(preset)) == {"FINISHED"}
    assert json.loads(preset.read_text())["poses"] == stored["poses"]

    bpy.ops.wm.read_homefile(use_empty=True)  # a fresh file: the rig again, without its poses
    rig = _rig(bpy)
    bpy.ops.object.mode_set(mode="OBJECT")
    assert POSES_PROP not in rig.keys()  # type: ignore[attr-defined]  # noqa: SIM118 (ID keys)
    with pytest.raises(RuntimeError, match="without recorded poses"):
        bpy.ops.au_talking_head.adapt_rig(target=rig.name)  # type: ignore[attr-defined]
    assert bpy.ops.au_talking_head.load_pose_preset(filepath=str(preset)) == {"FINISHED"}
    assert bpy.ops.au_talking_head.adapt_rig(target=rig.name) == {"FINISHED"}  # type: ignore[attr-defined]
    control = bpy.context.scene.au_talking_head.rig
    for frame, au26, au12 in ((1, 0.0, 0.0), (10, 1.0, 0.0), (20, 0.0, 1.0)):
        control["AU26"], control["AU12"] = au26, au12
        control.keyframe_insert('["AU26"]', frame=frame)
        control.keyframe_insert('["AU12"]', frame=frame)
    bpy.context.scene.frame_set(1)
    at_rest = _matrices(bpy, rig)
    assert all(_close(at_rest[b], rest[b]) for b in rest), "the rig moved with every AU at 0"
    bpy.context.scene.frame_set(10)
    jaw = _matrices(bpy, rig)
    assert _close(jaw["jaw"], open_jaw["jaw"]), (
        f"AU26 = 1 gives the jaw\n{jaw['jaw']}\nrecorded\n{open_jaw['jaw']}")
    angle = rest["jaw"].to_quaternion().rotation_difference(jaw["jaw"].to_quaternion()).angle
    assert math.isclose(angle, 0.3, abs_tol=1e-3)
    bpy.context.scene.frame_set(20)
    smiling = _matrices(bpy, rig)
    for side in "LR":
        bone = f"lip_corner.{side}"
        assert _close(smiling[bone], smile[bone]), (
            f"AU12 = 1 gives {bone}\n{smiling[bone]}\nrecorded\n{smile[bone]}")
    assert _close(smiling["brow"], rest["brow"]), "the unrecorded brow bone moved"


def test_an_adapted_rig_is_re_recorded_after_edit_au_poses(fresh: ModuleType) -> None:
    bpy = fresh
    from mathutils import Quaternion

    rig = _rig(bpy)
    _select(rig, ("jaw",))
    rig.pose.bones["jaw"].rotation_quaternion = Quaternion((1, 0, 0), 0.3)
    assert bpy.ops.au_talking_head.record_au_pose(au="AU26") == {"FINISHED"}
    assert bpy.ops.au_talking_head.adapt_rig(target=rig.name) == {"FINISHED"}  # type: ignore[attr-defined]
    # the jaw is driven now: a new pose would be overwritten by the driver, so recording refuses
    rig.pose.bones["jaw"].rotation_quaternion = Quaternion((1, 0, 0), 0.5)
    with pytest.raises(RuntimeError, match="Edit AU Poses"):
        bpy.ops.au_talking_head.record_au_pose(au="AU26")
    assert bpy.ops.au_talking_head.edit_au_poses() == {"FINISHED"}
    rig.pose.bones["jaw"].rotation_quaternion = Quaternion((1, 0, 0), 0.5)
    bpy.context.view_layer.update()  # a paused driver leaves the posed value alone
    assert bpy.ops.au_talking_head.record_au_pose(au="AU26") == {"FINISHED"}
    assert bpy.ops.au_talking_head.adapt_rig(target=rig.name) == {"FINISHED"}  # type: ignore[attr-defined]
    control = bpy.context.scene.au_talking_head.rig
    control["AU26"] = 1.0
    control.update_tag()
    rest = rig.data.bones["jaw"].matrix_local.to_quaternion()  # type: ignore[attr-defined]
    angle = rest.rotation_difference(_matrices(bpy, rig)["jaw"].to_quaternion()).angle
    assert math.isclose(angle, 0.5, abs_tol=1e-3), f"the re-recorded AU26 turns the jaw {angle:.3f} rad"
