"""Generate from audio with the installed extension, the real rig and the real model server process.

What it must show (issue #6, lines since issue 15): curves in the rig's active action, zone groups, sound
strip and timing (a lip closure for each /m/ lands within one frame of it, fractional frame rate); a hand
edit in the curves survives regeneration with another emotion; failures leave the file unchanged.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from au_contract import AU_CODES, EMOTION_PROPS
from tests.blender.addon_fixtures import Clip, datablock_hash, espeak_clip, make_rig
from tests.blender.conftest import EXTENSION_MODULE


def _ext(name: str) -> ModuleType:
    return sys.modules[f"{EXTENSION_MODULE}.{name}"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return espeak_clip(tmp_path_factory.mktemp("speech"), "mama made my map", "mama")


def _evaluated_aus(bpy: ModuleType, ctl: object, frames: range) -> dict[str, np.ndarray]:
    scene = bpy.context.scene
    out = {c: np.zeros(len(frames)) for c in AU_CODES}
    for i, f in enumerate(frames):
        scene.frame_set(f)
        for c in AU_CODES:
            out[c][i] = ctl[c]  # type: ignore[index]
    return out


def _generate(bpy: ModuleType, path: Path, **kwargs: object) -> set[str]:
    return bpy.ops.au_talking_head.generate_from_audio(filepath=str(path), **kwargs)


def test_generation_writes_curves_groups_sound_and_timing(fresh: ModuleType, model_server,
                                                                 clip: Clip) -> None:
    bpy = fresh
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.001  # 29.97 fps
    fps = 30 / 1.001
    ctl = make_rig(bpy)
    scene.au_talking_head.server_url = model_server.url
    frame_start = 12
    result = _generate(bpy, clip.path, emotion="HAPPINESS", strength=0.8, frame_start=frame_start)
    assert result == {"FINISHED"}

    curves = _ext("animation.bl_curves")
    ad = ctl.animation_data
    gen = ad.action  # the lip-sync itself is the active action: what the Graph Editor shows
    assert gen is not None and not ad.nla_tracks and ad.action_blend_type == "REPLACE"
    fcs = {fc.data_path: fc for fc in curves.fcurves(gen)}
    assert set(fcs) == {f'["{c}"]' for c in (*AU_CODES, *EMOTION_PROPS.values())}
    au12 = fcs['["AU12"]']
    assert au12.group.name == "Blend"
    assert fcs['["AU26"]'].group.name == "Mouth"
    assert fcs['["AU45"]'].group.name == "Upper"
    assert all(k.interpolation == "BEZIER" for k in au12.keyframe_points)
    n_frames = math.floor(clip.duration_s * fps) + 1
    total_keys = sum(len(fc.keyframe_points) for fc in fcs.values())
    assert total_keys < 0.6 * len(AU_CODES) * n_frames, "keys must be sparse"
    assert fcs['["AU26"]'].keyframe_points[0].co[0] == frame_start
    # the emotion is a keyframable strength, not baked into the AU curves
    scene.frame_set(frame_start + 5)
    assert ctl["emotion_happiness"] == pytest.approx(0.8) and ctl["emotion_surprise"] == 0.0
    # sound strip aligned with the start frame
    strip = _ext("animation.bl_sound").speech_strip(scene)
    assert strip is not None and strip.type == "SOUND" and strip.frame_start == frame_start
    assert Path(bpy.path.abspath(strip.sound.filepath)).resolve() == clip.path.resolve()
    assert scene.frame_end >= frame_start + n_frames - 2
    settings = scene.au_talking_head
    assert settings.has_quality and settings.quality_closures >= 1
    # timing: each /m/ has a closed-lip frame within one frame of the phone, at 29.97 fps
    frames = range(frame_start, frame_start + n_frames)
    closed = _ext("animation.quality").closed_mask(_evaluated_aus(bpy, ctl, frames))
    for start_s, end_s in clip.m_intervals_s:
        lo = math.floor(start_s * fps) - 1
        hi = math.ceil(end_s * fps) + 1
        assert closed[max(lo, 0): hi + 1].any(), (
            f"no lip closure within one frame of /m/ at {start_s:.3f}-{end_s:.3f} s "
            f"(frames {lo + frame_start}-{hi + frame_start})")


def test_hand_edit_survives_regeneration_with_another_emotion(fresh: ModuleType, model_server,
                                                             clip: Clip) -> None:
    bpy = fresh
    scene = bpy.context.scene
    ctl = make_rig(bpy)
    scene.au_talking_head.server_url = model_server.url
    bpy.ops.ed.undo_push(message="rig")
    assert _generate(bpy, clip.path, frame_start=1) == {"FINISHED"}
    curves = _ext("animation.bl_curves")
    action = ctl.animation_data.action
    # the user's hand edit: brows up to 0.3 around frame 20 (keys in the rig's own AU01 curve)
    fc = curves.find_fcurve(action, '["AU01"]')
    assert fc is not None and fc.group.name == "Upper"
    for frame, value in ((10, 0.0), (20, 0.3), (30, 0.0)):
        fc.keyframe_points.insert(frame, value)
    bpy.ops.ed.undo_push(message="hand edit")  # the user's edit is its own undo step
    scene.frame_set(20)
    assert ctl["AU01"] == pytest.approx(0.3, abs=1e-6), "the value keyed is the value shown"
    mouth_before = ctl["AU25"]

    settings = scene.au_talking_head
    settings.emotion, settings.strength = "SURPRISE", 1.0
    settings.blinks = not settings.blinks  # also forces a new server call: the line is generated anew
    # called as a button press is: with an undo push (scripts' calls push none unless asked)
    assert bpy.ops.au_talking_head.regenerate("EXEC_DEFAULT", True) == {"FINISHED"}
    assert ctl.animation_data.action == action, "one action, regenerated in place"
    edited = curves.find_fcurve(action, '["AU01"]')
    keys = {round(k.co[0]): round(k.co[1], 4) for k in edited.keyframe_points}
    assert [keys.get(f) for f in (10, 20, 30)] == [0.0, 0.3, 0.0], "the hand edit survives"
    scene.frame_set(20)
    assert ctl["AU01"] == pytest.approx(0.3, abs=1e-6)
    assert ctl["emotion_surprise"] == pytest.approx(1.0) and ctl["emotion_happiness"] == 0.0
    assert ctl["AU25"] == pytest.approx(mouth_before, abs=0.02), "speech stays; only the emotion changed"
    assert len(bpy.data.actions) == 1, "no second action"
    # one undo step per generation: one undo brings back the previous line, hand edit included
    name = ctl.name
    bpy.ops.ed.undo()
    ctl = bpy.data.objects[name]
    scene = bpy.context.scene
    for frame in (1, 20):  # evaluate again after the undo
        scene.frame_set(frame)
    assert ctl["emotion_surprise"] == pytest.approx(0.0)
    assert ctl["AU01"] == pytest.approx(0.3, abs=1e-6)
    assert scene.au_talking_head.lines[0].emotion == "NEUTRAL"


def test_failures_leave_the_file_unchanged(fresh: ModuleType, model_server, clip: Clip,
                                           tmp_path: Path) -> None:
    bpy = fresh
    scene = bpy.context.scene
    ctl = make_rig(bpy)
    settings = scene.au_talking_head
    settings.server_url = model_server.url
    assert _generate(bpy, clip.path, emotion="SADNESS", frame_start=5) == {"FINISHED"}
    before = datablock_hash(bpy)
    bad_audio = tmp_path / "not_audio.wav"
    bad_audio.write_bytes(b"this is not a sound file" * 50)
    dead = f"http://127.0.0.1:{_free_port()}"
    cases = [
        ("wrong port", dead, clip.path, "no model server at"),
        ("bad audio", model_server.url, bad_audio, "rejected the request"),
        ("missing file", model_server.url, tmp_path / "missing.wav", "audio file not found"),
    ]
    for what, url, path, words in cases:
        settings.server_url = url
        with pytest.raises(RuntimeError, match=words):
            _generate(bpy, path, emotion="FEAR", frame_start=40)
        assert datablock_hash(bpy) == before, f"{what} changed the file"
    assert ctl.animation_data.action is not None


def test_stopped_server_leaves_a_fresh_rig_untouched(fresh: ModuleType, clip: Clip) -> None:
    bpy = fresh
    make_rig(bpy)
    bpy.context.scene.au_talking_head.server_url = f"http://127.0.0.1:{_free_port()}"
    before = datablock_hash(bpy)
    with pytest.raises(RuntimeError, match="Start it with the panel's Start Server button"):
        _generate(bpy, clip.path)
    assert datablock_hash(bpy) == before


def _free_port() -> int:
    from tests.blender.addon_fixtures import free_port

    return free_port()


def test_precise_lips_are_off_by_default_and_reach_the_server(fresh: ModuleType, model_server,
                                                             clip: Clip) -> None:
    # the panel's Precise Lips toggle (off by default, like the server's) is the server's precise option:
    # the tracks say which
    bpy = fresh
    scene = bpy.context.scene
    make_rig(bpy)
    settings = scene.au_talking_head
    settings.server_url = model_server.url
    assert settings.precise is False
    generation = _ext("animation.generation")
    assert _generate(bpy, clip.path, frame_start=1) == {"FINISHED"}
    assert [t.meta["options"]["precise"] for t in generation._CACHE.values()][-1] is False
    settings.precise = True
    assert bpy.ops.au_talking_head.regenerate() == {"FINISHED"}
    assert [t.meta["options"]["precise"] for t in generation._CACHE.values()][-1] is True
