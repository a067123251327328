"""Under "surprise" every bilabial still closes, measured on the evaluated mesh; bake flattens the face.

The inner-lip gap is measured on the face mesh's evaluated vertices (the rig's 68 landmark vertices,
iBUG order: inner upper lip 61-63 above inner lower lip 67-65).
"""

from __future__ import annotations

import math
import sys
from types import ModuleType

import numpy as np
import pytest

from tests.blender.addon_fixtures import Clip, espeak_clip, make_rig
from tests.blender.conftest import EXTENSION_MODULE

LANDMARK_PROP = "landmark_vertices"
INNER_PAIRS = ((61, 67), (62, 66), (63, 65))


@pytest.fixture(scope="module")
def bilabial_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return espeak_clip(tmp_path_factory.mktemp("speech"), "a baby made my map, bob", "bilabials")


def _lip_gaps(bpy: ModuleType, face: object, frames: range) -> np.ndarray:
    """Inner-lip opening (metres, mean over 3 pairs, vertical) of the evaluated mesh per frame: [F]."""
    idx = list(face[LANDMARK_PROP])  # type: ignore[index]
    scene = bpy.context.scene
    out = np.zeros(len(frames))
    for i, f in enumerate(frames):
        scene.frame_set(f)
        mesh = face.evaluated_get(bpy.context.evaluated_depsgraph_get()).data  # type: ignore[attr-defined]
        co = np.zeros(3 * len(mesh.vertices), np.float32)
        mesh.vertices.foreach_get("co", co)
        co = co.reshape(-1, 3)
        out[i] = np.mean([co[idx[u], 2] - co[idx[lo], 2] for u, lo in INNER_PAIRS])
    return out


def test_every_bilabial_closes_under_surprise(fresh: ModuleType, model_server,
                                              bilabial_clip: Clip) -> None:
    bpy = fresh
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    ctl = make_rig(bpy)
    face = ctl["face_mesh"]
    scene.au_talking_head.server_url = model_server.url
    rest = _lip_gaps(bpy, face, range(0, 1))[0]  # no animation yet: the rest pose, lips together
    result = bpy.ops.au_talking_head.generate_from_audio(filepath=str(bilabial_clip.path), emotion="SURPRISE",
                                                         strength=1.0, frame_start=1)
    assert result == {"FINISHED"}
    fps = 30.0
    frames = range(1, 1 + math.ceil(bilabial_clip.duration_s * fps))
    gaps = _lip_gaps(bpy, face, frames)
    widest = gaps.max()
    assert widest - rest > 0.004, "the mouth should open on the vowels (and under surprise)"
    closed_below = rest + 0.15 * (widest - rest)
    assert bilabial_clip.bilabial_intervals_s, "the clip has bilabials"
    open_ones = []
    for start_s, end_s in bilabial_clip.bilabial_intervals_s:
        lo = max(math.floor(start_s * fps) - 1, 0)
        hi = math.ceil(end_s * fps) + 1
        gap = gaps[lo: hi + 1].min()
        if gap > closed_below:
            open_ones.append(f"{start_s:.3f}-{end_s:.3f} s: {gap * 1000:.1f} mm")
    assert not open_ones, (
        f"bilabials that do not close under surprise (inner-lip gap; closed below {closed_below * 1000:.1f} "
        f"mm, rest {rest * 1000:.1f} mm, widest {widest * 1000:.1f} mm): {'; '.join(open_ones)}")


def test_bake_flattens_to_shape_key_keys(fresh: ModuleType, model_server, bilabial_clip: Clip) -> None:
    bpy = fresh
    scene = bpy.context.scene
    ctl = make_rig(bpy)
    face = ctl["face_mesh"]
    scene.au_talking_head.server_url = model_server.url
    assert bpy.ops.au_talking_head.generate_from_audio(filepath=str(bilabial_clip.path), emotion="ANGER",
                                                         frame_start=1) == {"FINISHED"}
    end = min(scene.frame_end, 60)
    assert bpy.ops.au_talking_head.bake(frame_start=1, frame_end=end) == {"FINISHED"}
    baked = bpy.data.objects[face.name + " Baked"]
    key = baked.data.shape_keys
    assert key is not face.data.shape_keys
    assert not key.animation_data.drivers, "exported shape keys must carry no drivers"
    assert len(face.data.shape_keys.animation_data.drivers) > 0, "the live rig keeps its drivers"
    curves = sys.modules[f"{EXTENSION_MODULE}.animation.bl_curves"].fcurves(key.animation_data.action)
    assert len(curves) == len(key.key_blocks) - 1
    names = [kb.name for kb in key.key_blocks[1:]]
    for frame in (5, 17, end):
        scene.frame_set(frame)
        dg = bpy.context.evaluated_depsgraph_get()
        live = face.data.shape_keys.evaluated_get(dg).key_blocks
        flat = key.evaluated_get(dg).key_blocks
        diff = max(abs(live[n].value - flat[n].value) for n in names)
        assert diff <= 0.011, f"frame {frame}: baked keys differ from the live rig by {diff:.4f}"
