"""The gaze layer's curves: a seeded fixation/saccade performance (``rigs.gaze``) aimed at the active camera.

Written into the line with the AU curves (editable like them; ``regenerate`` reseeds it with the line, hand
edits kept). Only control objects that carry the behaviour properties
(added by Adapt Character) get gaze curves.
"""

from __future__ import annotations

import bpy
import numpy as np
from mathutils import Vector

from rigs import gaze
from rigs.naming import FACE_MESH_PROP

from .curveplan import CurveData, prop_path

GAZE_GROUP = ("Gaze", "THEME06")


def _eye_and_target(scene: bpy.types.Scene, ctl: bpy.types.Object) -> tuple[Vector, Vector] | None:
    face = ctl.get(FACE_MESH_PROP)
    cam = scene.camera
    if not isinstance(face, bpy.types.Object) or cam is None:
        return None
    corners = [face.matrix_world @ Vector(c) for c in face.bound_box]
    centre = sum(corners, Vector()) / 8.0
    top = max(c.z for c in corners)
    eye = Vector((centre.x, min(c.y for c in corners), centre.z + 0.35 * (top - centre.z)))
    return eye, cam.matrix_world.translation.copy()


def _curve(name: str, frames: np.ndarray, values: np.ndarray) -> CurveData:
    co = np.stack([frames, values], axis=1).astype(np.float32)  # [K, 2]
    gap = np.diff(frames, prepend=frames[0] - 3.0, append=frames[-1] + 3.0) / 3.0  # [K + 1]
    left, right = co.copy(), co.copy()
    left[:, 0] -= gap[:-1]
    right[:, 0] += gap[1:]
    return CurveData(prop_path(name), GAZE_GROUP[0], GAZE_GROUP[1], co, left, right)


def gaze_curves(scene: bpy.types.Scene, ctl: bpy.types.Object, frame_start: float, frame_count: int,
                fps: float, seed: int) -> list[CurveData]:
    """The gaze curves of a line (``eye_look_h``, ``eye_look_v``, ``eye_vergence``); [] without gaze props.

    The look-at target is the scene's active camera (seen from the face mesh's eyes), straight ahead if none.
    """
    if gaze.GAZE_H_PROP not in ctl.keys() or frame_count < 2:  # noqa: SIM118 (ID keys)
        return []
    params = gaze.GazeParams()
    where = _eye_and_target(scene, ctl)
    if where is not None:
        eye, target = (tuple(float(c) for c in point[:3]) for point in where)
        h, v, dist = gaze.look_at((eye[0], eye[1], eye[2]), (target[0], target[1], target[2]))
        params = gaze.GazeParams(target_h=h, target_v=v, target_distance_m=dist)
    keys = gaze.gaze_keys(frame_count / fps, seed, params)
    frames = frame_start + keys.times_s * fps
    frames = np.maximum.accumulate(frames + np.arange(len(frames)) * 1e-3)  # strictly increasing
    inside = frames <= frame_start + frame_count - 1.0  # a line owns only the keys in its frames
    frames, keys_h, keys_v = frames[inside], keys.h[inside], keys.v[inside]
    verg = np.array([keys.vergence, keys.vergence])
    return [_curve(gaze.GAZE_H_PROP, frames, keys_h), _curve(gaze.GAZE_V_PROP, frames, keys_v),
            _curve(gaze.VERGENCE_PROP, np.array([frame_start, frame_start + frame_count - 1.0]), verg)]
