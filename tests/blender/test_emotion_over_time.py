"""Emotion changes over time without touching speech (DESIGN.md §4): the emotion is a keyframable strength
on the control object, the zone rules combine it with the AU curves, and the AU curves are never rewritten.

The user keys ``emotion_happiness`` 0 -> 1 -> 0 over a generated clip (with ``keyframe_insert``, as the
sidebar's I key does): the mouth corners (AU12 shape keys of the default head) follow exactly the zone rule,
while the mouth-zone shape keys and the AU values stay what speech made them. ``regenerate`` with another
emotion, even with the track cache cleared (a new server call), leaves every AU F-curve key as it was.
"""

from __future__ import annotations

import sys
from types import ModuleType

import numpy as np
import pytest

from au_contract import ACTION_UNITS, AU_CODES
from au_contract.zone_rules import evaluate, shape_key_driver
from rigs.naming import shape_key_names
from tests.blender.addon_fixtures import Clip, espeak_clip, make_rig
from tests.blender.conftest import EXTENSION_MODULE

FPS = 30
HAPPY = "emotion_happiness"
MOUTH_KEYS = [n for au in ACTION_UNITS if au.zone == "M" for n in shape_key_names(au.code)]


def _ext(name: str) -> ModuleType:
    return sys.modules[f"{EXTENSION_MODULE}.{name}"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return espeak_clip(tmp_path_factory.mktemp("speech"), "Bob, pa, mom, map a bomb", "emotion_time")


def _au_keys(ctl: object) -> dict[str, np.ndarray]:
    """Every key of the AU curves (the rig's active action): data path -> [K, 6] (co, left, right handle)."""
    curves = _ext("animation.bl_curves")
    out = {}
    for fc in curves.fcurves(ctl.animation_data.action):  # type: ignore[attr-defined]
        if fc.data_path.strip('[]"') not in AU_CODES:
            continue
        n = len(fc.keyframe_points)
        parts = []
        for attr in ("co", "handle_left", "handle_right"):
            buf = np.zeros(2 * n, np.float32)
            fc.keyframe_points.foreach_get(attr, buf)
            parts.append(buf.reshape(n, 2))
        out[fc.data_path] = np.concatenate(parts, axis=1)
    assert len(out) == len(AU_CODES)
    return out


def _sample(bpy: ModuleType, ctl: object, face: object, frames: range) -> dict[str, np.ndarray]:
    """Per frame: every shape-key value of the face and every float property of the control object."""
    scene = bpy.context.scene
    key = face.data.shape_keys  # type: ignore[attr-defined]
    names = [kb.name for kb in key.key_blocks]
    props = [k for k in ctl.keys() if isinstance(ctl[k], float)]  # type: ignore[attr-defined] # noqa: SIM118
    out = {n: np.zeros(len(frames)) for n in names + props}
    for i, f in enumerate(frames):
        scene.frame_set(f)
        blocks = key.evaluated_get(bpy.context.evaluated_depsgraph_get()).key_blocks
        for n in names:
            out[n][i] = blocks[n].value
        for p in props:
            out[p][i] = ctl[p]  # type: ignore[index]
    return out


def _same_keys(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[str]:
    return [p for p in a if a[p].shape != b[p].shape or not np.array_equal(a[p], b[p])]


def test_keyed_emotion_moves_the_corners_not_the_speech(fresh: ModuleType, model_server,
                                                        clip: Clip) -> None:
    bpy = fresh
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    ctl = make_rig(bpy)
    face = ctl["face_mesh"]
    settings = scene.au_talking_head
    settings.server_url = model_server.url
    assert bpy.ops.au_talking_head.generate_from_audio(filepath=str(clip.path), frame_start=1) == {"FINISHED"}
    frames = range(1, scene.frame_end + 1)
    keys0 = _au_keys(ctl)
    base = _sample(bpy, ctl, face, frames)

    # the user keys happiness 0 -> 1 -> 0 over the clip, as the sidebar's I key does
    first, mid, last = frames[0], frames[len(frames) // 2], frames[-1]
    for frame, value in ((first, 0.0), (mid, 1.0), (last, 0.0)):
        scene.frame_set(frame)
        ctl[HAPPY] = value
        assert ctl.keyframe_insert(f'["{HAPPY}"]', frame=frame)
    assert not _same_keys(keys0, _au_keys(ctl)), "keying the emotion leaves the AU curves alone"
    got = _sample(bpy, ctl, face, frames)
    happy = got[HAPPY]
    assert happy[0] == pytest.approx(0.0, abs=1e-6) and happy[-1] == pytest.approx(0.0, abs=1e-6)
    assert happy[mid - first] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(happy[: mid - first + 1]) >= -1e-6) and np.all(np.diff(happy[mid - first:]) <= 1e-6)

    # speech is untouched: AU values and mouth-zone shape keys equal the emotion-free run
    for name in (*AU_CODES, *MOUTH_KEYS):
        assert np.abs(got[name] - base[name]).max() <= 1e-6, f"{name} changed with the emotion"
    # the mouth corners follow the emotion, frame by frame exactly as the zone rule says
    for side in ("L", "R"):
        name = f"AU12_{side}"
        spec = shape_key_driver("AU12", side)
        want = np.array([evaluate(spec, {p: got[p][i] for p in got}) for i in range(len(frames))])
        assert np.abs(got[name] - want).max() <= 1e-4
        lift = got[name] - base[name]
        assert lift[mid - first] > 0.5, f"{name} lifts with happiness: {lift[mid - first]:.2f}"
        assert abs(lift[0]) <= 1e-6 and abs(lift[-1]) <= 1e-6
        assert np.corrcoef(lift, happy)[0, 1] > 0.95, "the corners follow the keyed emotion over time"

    # changing the emotion through regenerate never rewrites the AU curves, cached or not
    for emotion, fresh_call in (("SADNESS", False), ("ANGER", True)):
        if fresh_call:
            _ext("animation.generation").clear_cache()
        settings.emotion, settings.strength = emotion, 1.0
        assert bpy.ops.au_talking_head.regenerate() == {"FINISHED"}
        changed = _same_keys(keys0, _au_keys(ctl))
        assert not changed, f"regenerate({emotion}) rewrote {changed}"
        scene.frame_set(mid)
        assert ctl[f"emotion_{emotion.lower()}"] == pytest.approx(1.0)
        assert ctl[HAPPY] == pytest.approx(1.0), "the keyed happiness stays"
