"""Operator ``bake``: flatten the live rig to plain shape-key keyframes on a mesh, for glTF/FBX export.

glTF and FBX carry no drivers, so the exporter needs shape-key values as keyframes. ``bake`` evaluates
the scene frame by frame (the lines' curves, emotion and zone drivers all applied) over the lines' range
(the scene's when there are no lines), reads the face mesh's evaluated shape-key values, and writes them as
sparse Bezier keys (``keyreduce``, same bound) on

- a copy of the face mesh named ``"<mesh> Baked"`` without drivers (default). The live face is then hidden
  in the viewport and in renders (``hide_live``) and splat twins bound to it follow the copy, so the file
  renders one head; unhide the live face to keep animating it; or
- the face mesh itself with its shape-key drivers removed (``copy=False``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import bpy
import numpy as np
from bpy.props import BoolProperty, IntProperty, StringProperty

from au_contract import AU_CODES

from ..animation import bl_curves, bl_lines, keyreduce
from ..animation.curveplan import CurveData
from ..bl_props import is_control_object

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

FACE_MESH_PROP = "face_mesh"
BAKED_SUFFIX = " Baked"


def face_mesh(ctl: bpy.types.Object | None) -> bpy.types.Object | None:
    """The face mesh a control object drives (its ``face_mesh`` property: an object or its name)."""
    if ctl is None:
        return None
    ref = ctl.get(FACE_MESH_PROP)
    if isinstance(ref, bpy.types.Object):
        return ref
    if isinstance(ref, str):
        return bpy.data.objects.get(ref)
    return None


def sample_shape_keys(context: bpy.types.Context, mesh_obj: bpy.types.Object, frames: range
                      ) -> tuple[list[str], np.ndarray]:
    """Evaluate the scene at each frame; return (shape key names, values [F, K] float32), basis excluded."""
    scene = context.scene
    key = mesh_obj.data.shape_keys
    names = [kb.name for kb in key.key_blocks[1:]]
    out = np.zeros((len(frames), len(names)), np.float32)
    current = scene.frame_current
    for i, frame in enumerate(frames):
        scene.frame_set(frame)
        depsgraph = context.evaluated_depsgraph_get()
        key_eval = key.evaluated_get(depsgraph)
        key_eval.key_blocks.foreach_get("value", buf := np.zeros(len(key_eval.key_blocks), np.float32))
        out[i] = buf[1:]
    scene.frame_set(current)
    return names, out


def bake(context: bpy.types.Context, ctl: bpy.types.Object, frame_start: int, frame_end: int,
         copy: bool = True, tolerance: float = keyreduce.DEFAULT_TOLERANCE,
         mesh: bpy.types.Object | None = None) -> bpy.types.Object:
    """Bake the face of ``ctl`` (or ``mesh``, another mesh it drives) to shape-key keyframes; returns the
    object that holds them."""
    src = mesh if mesh is not None else face_mesh(ctl)
    if src is None or src.type != "MESH" or src.data.shape_keys is None:
        what = f"'{mesh.name}' is not a mesh with shape keys" if mesh is not None else (
            f"the rig '{ctl.name}' has no face mesh with shape keys")
        raise ValueError(f"{what} to bake")
    frames = range(frame_start, frame_end + 1)
    names, values = sample_shape_keys(context, src, frames)
    if copy:
        target = src.copy()
        target.data = src.data.copy()
        target.name = src.name + BAKED_SUFFIX
        for coll in src.users_collection:
            coll.objects.link(target)
    else:
        target = src
    key = target.data.shape_keys
    if key.animation_data is not None:
        for drv in list(key.animation_data.drivers):
            key.animation_data.drivers.remove(drv)
    action, slot = bl_curves.new_action(f"{target.name} Shape Keys", key)
    curves = []
    for k, name in enumerate(names):
        keys = keyreduce.reduce_keys(values[:, k], tolerance)
        co, left, right = keyreduce.bezier_handles(keys, frame_start=float(frame_start))
        curves.append(CurveData(f'key_blocks["{name}"].value', "Shape Keys", "DEFAULT", co, left, right))
    bl_curves.write_curves(action, slot, curves)
    ad = key.animation_data or key.animation_data_create()
    ad.action = action
    if slot is not None and ad.action_slot != slot:
        ad.action_slot = slot
    return target


def hide_live_face(context: bpy.types.Context, live: bpy.types.Object, baked: bpy.types.Object) -> None:
    """Hide ``live`` in the viewport and in renders; splat twins bound to it follow ``baked`` instead."""
    from ..splat import bl_data

    live.hide_render = True
    if context.view_layer.objects.get(live.name) is not None:
        live.hide_set(True)
    for obj in bpy.data.objects:
        if bl_data.is_splat(obj) and bl_data.bound_target(obj) == live:
            obj[bl_data.TARGET_KEY] = baked


class AUTH_OT_bake(bpy.types.Operator):
    """Bake the animated face to plain shape-key keyframes (for glTF/FBX export, which carry no drivers)"""

    bl_idname = "au_talking_head.bake"
    bl_label = "Bake to Shape Keys"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender API)

    copy: BoolProperty(name="Bake to a Copy", default=True,  # type: ignore[valid-type]
                       description="Bake onto a copy of the face mesh and keep the live rig")
    hide_live: BoolProperty(name="Hide the Live Face", default=True,  # type: ignore[valid-type]
                            description="After baking to a copy, hide the live face (viewport and render) "
                                        "and move its splat twins to the copy, so one head renders")
    frame_start: IntProperty(name="Start", default=-1,  # type: ignore[valid-type]
                             description="First frame (-1: the lines' first, or the scene's)")
    frame_end: IntProperty(name="End", default=-1,  # type: ignore[valid-type]
                           description="Last frame (-1: the lines' last, or the scene's)")
    target: StringProperty(name="Mesh", default="",  # type: ignore[valid-type]
                           description="Mesh to bake, e.g. an adapted character (default: the face mesh)")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        ctl = context.scene.au_talking_head.rig
        if not is_control_object(ctl):
            cls.poll_message_set("Pick or generate a rig first")
            return False
        if face_mesh(ctl) is None:
            cls.poll_message_set("The rig has no face mesh to bake")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        scene = context.scene
        ctl = scene.au_talking_head.rig
        first, last = bl_lines.lines_range(scene) or (scene.frame_start, scene.frame_end)
        start = self.frame_start if self.frame_start >= 0 else first
        end = self.frame_end if self.frame_end >= 0 else last
        if end < start:
            self.report({"ERROR"}, f"Nothing baked: the frame range {start}-{end} is empty")
            return {"CANCELLED"}
        missing = [c for c in AU_CODES if c not in ctl]
        if missing:
            self.report({"ERROR"}, f"Nothing baked: the rig lacks {', '.join(missing[:4])}")
            return {"CANCELLED"}
        mesh: bpy.types.Object | None = None
        if self.target:
            mesh = bpy.data.objects.get(self.target)
            if mesh is None:
                self.report({"ERROR"}, f"Nothing baked: there is no object '{self.target}'")
                return {"CANCELLED"}
        try:
            target = bake(context, ctl, start, end, copy=self.copy, tolerance=scene.au_talking_head.tolerance,
                          mesh=mesh)
        except ValueError as exc:
            self.report({"ERROR"}, f"Nothing baked: {exc}")
            return {"CANCELLED"}
        hidden = ""
        source = mesh if mesh is not None else face_mesh(ctl)
        if self.copy and self.hide_live and source is not None and target != source:
            hide_live_face(context, source, target)
            hidden = f"; '{source.name}' is hidden (unhide it to animate it live)"
        self.report({"INFO"}, f"Baked frames {start}-{end} to shape-key keys on '{target.name}'{hidden}")
        return {"FINISHED"}


CLASSES = (AUTH_OT_bake,)
