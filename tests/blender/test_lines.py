"""Lines in a dialogue scene (issue 15): real bpy, the installed zip, the real model server.

Two lines at frames 1 and 200 both animate with their own sound strips; the rig's active action holds the
lip-sync curves themselves; regenerating line 2 leaves line 1 bit-identical; a hand key changes only its
neighbourhood and survives regeneration; mute, move and remove take curves and sound strip together; one
undo step per regeneration restores the file exactly (headless: ``ed.undo_push`` / ``ed.undo``, the
memfile undo a button press uses; the bpy module has no window to press a button in).
"""

from __future__ import annotations

import sys
from types import ModuleType

import numpy as np
import pytest

from au_contract import AU_CODES
from tests.blender.addon_fixtures import Clip, datablock_hash, espeak_clip, make_rig
from tests.blender.conftest import EXTENSION_MODULE

FPS = 30
LINE2 = 200


def _ext(name: str) -> ModuleType:
    return sys.modules[f"{EXTENSION_MODULE}.{name}"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Clip, Clip]:
    folder = tmp_path_factory.mktemp("lines")
    return (espeak_clip(folder, "mama made my map", "line_one"),
            espeak_clip(folder, "a baby saw a big red bike", "line_two"))


def _two_lines(bpy: ModuleType, server_url: str, clips: tuple[Clip, Clip]) -> object:
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    ctl = make_rig(bpy)
    scene.au_talking_head.server_url = server_url
    op = bpy.ops.au_talking_head.generate_from_audio
    assert op(filepath=str(clips[0].path), emotion="HAPPINESS", strength=0.5, frame_start=1) == {"FINISHED"}
    assert op(filepath=str(clips[1].path), frame_start=LINE2) == {"FINISHED"}
    return ctl


def _curve_keys(ctl: object) -> dict[str, np.ndarray]:
    """Every F-curve of the active action: data path -> [K, 9] floats (co, handles, easing params)."""
    curves = _ext("animation.bl_curves")
    return {fc.data_path: curves.read_keys(fc).floats for fc in curves.fcurves(ctl.animation_data.action)}


def _values(bpy: ModuleType, ctl: object, code: str, frames: range) -> np.ndarray:
    scene = bpy.context.scene
    out = np.zeros(len(frames))
    for i, f in enumerate(frames):
        scene.frame_set(f)
        out[i] = ctl[code]  # type: ignore[index]
    return out


def _line_frames(line: object) -> np.ndarray:
    return np.arange(line.frame_start, line.frame_start + line.frame_count)  # type: ignore[attr-defined]


def test_two_lines_animate_each_with_its_strip_and_regenerating_one_leaves_the_other(
        fresh: ModuleType, model_server, clips: tuple[Clip, Clip]) -> None:
    bpy = fresh
    ctl = _two_lines(bpy, model_server.url, clips)
    scene = bpy.context.scene
    lines, bl_lines = scene.au_talking_head.lines, _ext("animation.bl_lines")
    assert [(line.name, line.frame_start) for line in lines] == [("line_one", 1), ("line_two", LINE2)]
    assert lines[0].emotion == "HAPPINESS" and lines[0].strength == pytest.approx(0.5)
    # both lines animate: the mouth opens inside each
    for line in lines:
        au25 = _values(bpy, ctl, "AU25", range(line.frame_start, line.frame_start + line.frame_count))
        assert au25.max() > 0.3, f"{line.name} does not open the mouth"
    # each line keeps its own sound strip, where the line starts
    strips = [bl_lines.line_strip(scene, line.uid) for line in lines]
    assert all(s is not None for s in strips) and [s.frame_start for s in strips] == [1, LINE2]
    assert [s.sound.filepath for s in strips] == [str(clips[0].path), str(clips[1].path)]
    # the active action holds the lip-sync itself, grouped by zone
    action = ctl.animation_data.action
    assert not ctl.animation_data.nla_tracks, "no NLA layer hides the animation"
    fcs = {fc.data_path: fc for fc in _ext("animation.bl_curves").fcurves(action)}
    assert sum(len(fc.keyframe_points) > 2 for fc in fcs.values()) >= 10
    assert {fcs[f'["{c}"]'].group.name for c in ("AU25", "AU26")} == {"Mouth"}
    assert fcs['["AU12"]'].group.name == "Blend" and fcs['["AU01"]'].group.name == "Upper"
    assert fcs['["emotion_happiness"]'].group.name == "Emotion"
    # the scene range covers the lines
    assert (scene.frame_start, scene.frame_end) == (1, bl_lines.frame_end(lines[1]))

    before = _curve_keys(ctl)
    settings = scene.au_talking_head
    settings.line_index = 1
    assert settings.audio_path == str(clips[1].path) and settings.frame_start == LINE2, "the panel shows it"
    settings.emotion, settings.seed = "SURPRISE", 7  # a new seed: new blinks and prosody, a server call
    assert bpy.ops.au_talking_head.regenerate() == {"FINISHED"}
    after = _curve_keys(ctl)
    assert len(lines) == 2 and ctl.animation_data.action == action, "no new line, no new action"
    changed = 0
    for path, keys in before.items():
        line1_before = keys[keys[:, 0] < LINE2 - 1]
        line1_after = after[path][after[path][:, 0] < LINE2 - 1]
        assert np.array_equal(line1_before, line1_after), f"line 1 changed on {path}"
        changed += not np.array_equal(keys, after[path])
    assert changed >= 5, "line 2 was regenerated"
    assert lines[1].seed == 7 and lines[1].emotion == "SURPRISE"
    assert bl_lines.line_strip(scene, lines[0].uid) is not None, "line 1 keeps its strip"


def test_a_hand_key_is_local_survives_regeneration_and_undo_restores_exactly(
        fresh: ModuleType, model_server, clips: tuple[Clip, Clip]) -> None:
    bpy = fresh
    ctl = _two_lines(bpy, model_server.url, clips)
    scene = bpy.context.scene
    line = scene.au_talking_head.lines[0]
    frames = range(line.frame_start, line.frame_start + line.frame_count)
    base = _values(bpy, ctl, "AU25", frames)
    edit = int(frames[int(np.argmax(base))])  # the widest opening, in the speech
    # the animator keys AU25 = 0 there, as the sidebar's I key does
    scene.frame_set(edit)
    ctl["AU25"] = 0.0
    assert ctl.keyframe_insert('["AU25"]', frame=edit)
    # and types an emotion value: it is the value the face gets
    scene.frame_set(40)
    ctl["emotion_happiness"] = 0.8
    assert ctl.keyframe_insert('["emotion_happiness"]', frame=40)
    bpy.ops.ed.undo_push(message="hand edits")
    got = _values(bpy, ctl, "AU25", frames)
    assert got[edit - frames[0]] == pytest.approx(0.0, abs=1e-6)
    far = np.abs(np.asarray(frames) - edit) >= 12
    assert np.abs(got[far] - base[far]).max() <= 0.01, "frames 12 or more away are unchanged"
    scene.frame_set(40)
    assert ctl["emotion_happiness"] == pytest.approx(0.8, abs=1e-6)

    before = datablock_hash(bpy)
    keys_before = _curve_keys(ctl)
    settings = scene.au_talking_head
    settings.line_index = 0
    settings.emotion, settings.strength, settings.seed = "SURPRISE", 1.0, 11
    assert bpy.ops.au_talking_head.regenerate("EXEC_DEFAULT", True) == {"FINISHED"}  # as a button press
    after_regen = _values(bpy, ctl, "AU25", frames)
    assert after_regen[edit - frames[0]] <= 0.05, "the hand key survives the regeneration"
    scene.frame_set(40)
    assert ctl["emotion_happiness"] == pytest.approx(0.8, abs=1e-6), "the typed emotion value stays"
    assert datablock_hash(bpy) != before

    # one undo step brings back the file exactly as it was before the regeneration
    name = ctl.name
    bpy.ops.ed.undo()
    ctl = bpy.data.objects[name]
    for frame in (1, 40):  # the hash holds evaluated property values: evaluate the same frame again
        bpy.context.scene.frame_set(frame)
    assert datablock_hash(bpy) == before
    restored = _curve_keys(ctl)
    assert restored.keys() == keys_before.keys()
    assert all(np.array_equal(restored[p], keys_before[p]) for p in restored), "undo restores every key"
    assert bpy.context.scene.au_talking_head.lines[0].seed != 11


def test_mute_move_and_remove_take_curves_and_strip_together(fresh: ModuleType, model_server,
                                                           clips: tuple[Clip, Clip]) -> None:
    bpy = fresh
    ctl = _two_lines(bpy, model_server.url, clips)
    scene = bpy.context.scene
    bl_lines = _ext("animation.bl_lines")
    lines = scene.au_talking_head.lines
    line2 = lines[1]
    uid2, count2 = line2.uid, line2.frame_count
    sung = _values(bpy, ctl, "AU25", range(LINE2, LINE2 + count2))
    full = _curve_keys(ctl)

    line2.mute = True
    assert bl_lines.line_strip(scene, uid2).mute
    assert _values(bpy, ctl, "AU25", range(LINE2, LINE2 + count2)).max() < 0.05, "a muted line is silent"
    lines[1].mute = False
    assert not bl_lines.line_strip(scene, uid2).mute
    assert all(np.array_equal(a, _curve_keys(ctl)[p]) for p, a in full.items()), "unmute restores the keys"

    # a clash with line 1 is refused, nothing moves
    with pytest.raises(RuntimeError, match="overlap the line 'line_one'"):
        bpy.ops.au_talking_head.move_line(index=1, frame_start=20)
    assert bpy.ops.au_talking_head.move_line(index=1, frame_start=400) == {"FINISHED"}
    line2 = bl_lines.by_uid(scene, uid2)
    assert line2.frame_start == 400 and bl_lines.line_strip(scene, uid2).frame_start == 400
    moved = _values(bpy, ctl, "AU25", range(400, 400 + count2))
    assert np.abs(moved - sung).max() <= 1e-5, "the curves moved with the line"
    assert _values(bpy, ctl, "AU25", range(LINE2 + 5, LINE2 + count2 - 5)).max() < 0.05
    assert scene.frame_end == 400 + count2 - 1, "the scene range follows the lines"

    assert bpy.ops.au_talking_head.remove_line(index=1) == {"FINISHED"}
    assert [line.name for line in scene.au_talking_head.lines] == ["line_one"]
    assert bl_lines.line_strip(scene, uid2) is None
    keys = _curve_keys(ctl)
    assert all((k[:, 0] < LINE2).all() for k in keys.values()), "no key of the removed line is left"
    assert scene.frame_end == bl_lines.frame_end(scene.au_talking_head.lines[0])


def test_user_set_scene_range_is_left_alone(fresh: ModuleType, model_server,
                                            clips: tuple[Clip, Clip]) -> None:
    bpy = fresh
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 10, 500
    _two_lines(bpy, model_server.url, clips)
    assert (scene.frame_start, scene.frame_end) == (10, 500)


def test_tolerance_makes_keys_sparse_and_keeps_turning_points(fresh: ModuleType, model_server,
                                                             clips: tuple[Clip, Clip]) -> None:
    bpy = fresh
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    ctl = make_rig(bpy)
    settings = scene.au_talking_head
    settings.server_url = model_server.url
    counts, au25 = {}, {}
    for tolerance in (0.001, settings.tolerance):
        settings.tolerance = tolerance
        assert bpy.ops.au_talking_head.generate_from_audio(filepath=str(clips[0].path)) == {"FINISHED"}
        fc = _ext("animation.bl_curves").find_fcurve(ctl.animation_data.action, '["AU25"]')
        au25[tolerance] = len(fc.keyframe_points)
        # every AU curve together: one short curve (AU25 of a 2 s line, mostly at rest) can need all its
        # turning points at either tolerance, so the count over all of them is what the tolerance shows
        counts[tolerance] = sum(len(k) for path, k in _curve_keys(ctl).items() if path.startswith('["AU'))
    line = settings.lines[0]
    assert len(settings.lines) == 1, "the same audio again regenerates its line"
    default = settings.tolerance
    assert counts[default] < 0.8 * counts[0.001], counts
    assert au25[default] <= au25[0.001], au25
    assert au25[default] <= 0.5 * line.frame_count, f"AU25: {au25[default]} keys in {line.frame_count}"
    # the curve stays within the tolerance of the track at every frame, peaks included
    generation = _ext("animation.generation")
    tracks = generation.fetch_tracks(generation.GenerateRequest(
        audio_path=str(clips[0].path), server_url=model_server.url, fps=FPS, seed=settings.seed))[0]
    got = _values(bpy, ctl, "AU25", range(1, 1 + tracks.frame_count))
    assert np.abs(got - tracks.channels["AU25"]).max() <= default + 1e-4
    assert got.max() == pytest.approx(float(tracks.channels["AU25"].max()), abs=1e-5), "the peak is a key"
    assert set(AU_CODES) <= {k.strip('[]"') for k in _curve_keys(ctl)}


def test_bake_uses_the_lines_range_and_renders_one_head(fresh: ModuleType, model_server,
                                                        clips: tuple[Clip, Clip]) -> None:
    bpy = fresh
    scene = bpy.context.scene
    engine, view = scene.render.engine, scene.view_settings.view_transform
    assert bpy.ops.au_talking_head.generate_rig(render_settings=False) == {"FINISHED"}
    assert (scene.render.engine, scene.view_settings.view_transform) == (engine, view), "asked, not switched"
    assert bpy.ops.au_talking_head.generate_rig() == {"FINISHED"}  # the option on: the splat settings
    assert scene.render.engine == "AU_TALKING_HEAD_SPLAT" and scene.view_settings.view_transform == "Standard"
    bpy.ops.wm.read_homefile(use_empty=True)
    ctl = _two_lines(bpy, model_server.url, clips)
    scene = bpy.context.scene
    face = ctl["face_mesh"]
    scene.frame_start, scene.frame_end = 1, 250  # the user widened the range: bake still takes the lines'
    assert bpy.ops.au_talking_head.bake() == {"FINISHED"}
    baked = bpy.data.objects[face.name + " Baked"]
    fcs = _ext("animation.bl_curves").fcurves(baked.data.shape_keys.animation_data.action)
    frames = [fc.keyframe_points[i].co[0] for fc in fcs for i in (0, -1)]
    last = _ext("animation.bl_lines").frame_end(scene.au_talking_head.lines[1])
    assert min(frames) == 1 and max(frames) == last, "baked over the lines' range"
    heads = [o for o in scene.objects
             if o.type == "MESH" and o.data.shape_keys is not None and not o.hide_render]
    assert heads == [baked], "one head renders"
    assert face.hide_render and face.hide_get(), "the live face is hidden"
    data = _ext("splat.bl_data")
    splats = [o for o in scene.objects if data.is_splat(o)]
    assert splats and all(data.bound_target(o) == baked for o in splats), "the splat twin follows the bake"
