"""A user's own character, end to end: the installed extension, the real model server, a mesh of its own.

The character is a small grid face (``character_helpers``) carrying the 52 ARKit shape keys, spelled as
exporters do (``blendShape1.`` prefix, mixed case, ``_L``/``_R`` sides), or a custom naming scheme with a
JSON map. It is adapted with ``au_talking_head.adapt_rig``, animated with ``generate_from_audio`` from an
espeak-ng clip whose phone times are exact, and everything is measured on evaluated data: the jawOpen
shape key is high on open vowels and low on every /m/ /b/ /p/ (within one frame), the lips meet on the
evaluated mesh, a hand edit survives ``regenerate`` with an emotion, and ``bake`` leaves plain shape-key
keyframes on the character's mesh.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from au_contract.zone_rules import evaluate, weighted_driver
from rigs.arkit import side_of
from rigs.character_rules import gated_weighted_driver
from tests.blender.addon_fixtures import Clip, espeak_clip
from tests.blender.character_helpers import arkit_style_names, build_face, lip_gaps, shape_values, window
from tests.blender.conftest import EXTENSION_MODULE

FPS = 30
OPEN_VOWELS = ("ɑː", "æ")
#: Thresholds on the evaluated data (jawOpen is driven by 0.6 x AU26 + AU27, see rigs.arkit).
JAW_OPEN_ON_VOWELS = 0.2  # the peak of jawOpen inside every open vowel reaches at least this
CLOSED_FRACTION = 0.25  # around every bilabial jawOpen / the lip gap falls below this share of the widest


def _ext(name: str) -> ModuleType:
    return sys.modules[f"{EXTENSION_MODULE}.{name}"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return espeak_clip(tmp_path_factory.mktemp("speech"), "Bob, pa, mom, map a bomb", "bob_pa_mom")


def _frames(clip: Clip) -> range:
    return range(1, 1 + int(np.ceil(clip.duration_s * FPS)))


def _arkit_character(bpy: ModuleType) -> tuple[object, dict[str, str]]:
    names = arkit_style_names()
    obj = build_face(bpy, "MyCharacter", {styled: arkit for arkit, styled in names.items()})
    return obj, names


def _adapt_and_generate(bpy: ModuleType, server_url: str, obj: object, clip: Clip, **adapt: str) -> object:
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    assert scene.au_talking_head.rig is None, "a user's character: no default rig in the file"
    assert bpy.ops.au_talking_head.adapt_rig(target=obj.name, **adapt) == {"FINISHED"}  # type: ignore[attr-defined]
    ctl = scene.au_talking_head.rig
    assert ctl is not None, "adapting creates the control object"
    scene.au_talking_head.server_url = server_url
    assert bpy.ops.au_talking_head.generate_from_audio(filepath=str(clip.path), frame_start=1) == {"FINISHED"}
    return ctl


def _check_speech(bpy: ModuleType, obj: object, jaw_name: str, clip: Clip, close_name: str = "") -> None:
    """jawOpen high on open vowels; around every bilabial, within one frame, the lips meet on the evaluated
    mesh and the jaw's lip opening is low: jawOpen itself, or ``jawOpen - mouthClose`` for a character with
    ARKit's mouthClose (which closes the lips against the jaw: equal values = lips together)."""
    frames = _frames(clip)
    values = shape_values(bpy, obj, [jaw_name, close_name] if close_name else [jaw_name], frames)
    jaw = values[jaw_name]
    opening = jaw - values[close_name] if close_name else jaw
    assert opening.min() >= -1e-6, "mouthClose never exceeds jawOpen (that would push the lips through)"
    gaps = lip_gaps(bpy, obj, frames)
    vowels = [(p, s, e) for p, s, e in clip.phones if p in OPEN_VOWELS]
    assert len(vowels) >= 4, clip.phones
    weak = [f"{p} {s:.2f}-{e:.2f} s: {jaw[int(s * FPS):int(np.ceil(e * FPS))].max():.2f}"
            for p, s, e in vowels if jaw[int(s * FPS):int(np.ceil(e * FPS))].max() < JAW_OPEN_ON_VOWELS]
    assert not weak, f"jawOpen stays low on open vowels (< {JAW_OPEN_ON_VOWELS}): {weak}"
    assert len(clip.bilabial_intervals_s) >= 9
    jaw_closed, gap_closed = CLOSED_FRACTION * opening.max(), CLOSED_FRACTION * gaps.max()
    open_ones = []
    for start_s, end_s in clip.bilabial_intervals_s:
        idx = [f - 1 for f in window(start_s, end_s, FPS, 1)]
        if opening[idx].min() > jaw_closed or gaps[idx].min() > gap_closed:
            open_ones.append(f"{start_s:.2f}-{end_s:.2f} s: jaw opening {opening[idx].min():.2f} (jawOpen "
                             f"{jaw[idx].min():.2f}), gap {gaps[idx].min() * 1000:.1f} mm")
    assert not open_ones, (f"bilabials where the mouth stays open (opening > {jaw_closed:.2f} or gap > "
                           f"{gap_closed * 1000:.1f} mm within one frame): {open_ones}")


def test_arkit_character_speaks_closes_and_keeps_hand_edits(fresh: ModuleType, model_server,
                                                            clip: Clip) -> None:
    bpy = fresh
    obj, names = _arkit_character(bpy)
    ctl = _adapt_and_generate(bpy, model_server.url, obj, clip)
    drivers = obj.data.shape_keys.animation_data.drivers
    assert len(drivers) == 51 and all(fc.driver.is_simple_expression for fc in drivers)  # all but tongueOut
    _check_speech(bpy, obj, names["jawOpen"], clip, names["mouthClose"])

    # a hand edit on the lip corners, keyed in the rig's own AU12 curve, then regenerate with an emotion
    curves = _ext("animation.bl_curves")
    fc = curves.find_fcurve(ctl.animation_data.action, '["AU12"]')
    for frame, value in ((40, 0.0), (50, 0.4), (60, 0.0)):
        fc.keyframe_points.insert(frame, value)
    scene = bpy.context.scene
    settings = scene.au_talking_head
    settings.emotion, settings.strength = "HAPPINESS", 0.9
    assert bpy.ops.au_talking_head.regenerate() == {"FINISHED"}
    edited = curves.find_fcurve(ctl.animation_data.action, '["AU12"]')
    keys = {round(k.co[0]): round(k.co[1], 4) for k in edited.keyframe_points}
    assert [keys.get(f) for f in (40, 50, 60)] == [0.0, 0.4, 0.0], "the hand edit survives regeneration"
    scene.frame_set(50)
    assert ctl["AU12"] == pytest.approx(0.4, abs=1e-6), "the keyed value is the value"
    assert ctl["emotion_happiness"] == pytest.approx(0.9)
    props = {k: float(ctl[k]) for k in ctl.keys() if isinstance(ctl[k], float)}  # noqa: SIM118 (ID keys)
    blocks = obj.data.shape_keys.evaluated_get(bpy.context.evaluated_depsgraph_get()).key_blocks
    for arkit in ("mouthSmileLeft", "mouthSmileRight"):
        expected = evaluate(weighted_driver({"AU12": 1.0}, side_of(arkit)), props)
        assert blocks[names[arkit]].value == pytest.approx(expected, abs=1e-4)
        assert expected > 0.4, "edit + happiness pull the corners"
    _check_speech(bpy, obj, names["jawOpen"], clip, names["mouthClose"])  # the emotion leaves speech intact

    # bake: plain shape-key keyframes on the character's mesh, no drivers, same values
    end = scene.frame_end
    assert bpy.ops.au_talking_head.bake(frame_start=1, frame_end=end) == {"FINISHED"}
    baked = bpy.data.objects[obj.name + " Baked"]
    key = baked.data.shape_keys
    assert key is not obj.data.shape_keys
    assert key.animation_data.drivers.__len__() == 0, "exported shape keys carry no drivers"
    baked_curves = {c.data_path: c for c in curves.fcurves(key.animation_data.action)}
    assert len(baked_curves) == 52
    jaw_fc = baked_curves[f'key_blocks["{names["jawOpen"]}"].value']
    assert 2 < len(jaw_fc.keyframe_points) < end, "sparse keys"
    for frame in (5, 30, 50, end - 3):
        scene.frame_set(frame)
        dg = bpy.context.evaluated_depsgraph_get()
        live = obj.data.shape_keys.evaluated_get(dg).key_blocks
        flat = key.evaluated_get(dg).key_blocks
        diff = max(abs(live[n].value - flat[n].value) for n in names.values())
        assert diff <= 0.011, f"frame {frame}: baked keys differ from the live character by {diff:.4f}"


def test_custom_map_character_goes_through_generation(fresh: ModuleType, model_server,
                                                     clip: Clip, tmp_path: Path) -> None:
    bpy = fresh
    carries = {"JawDrop": "jawOpen", "Smile_L": "mouthSmileLeft", "Smile_R": "mouthSmileRight",
               "LipPress": "mouthPressLeft", "LowerLipDown": "mouthLowerDownLeft", "BrowsUp": "browInnerUp",
               "Blink_L": "eyeBlinkLeft", "Blink_R": "eyeBlinkRight", "Sneer": "noseSneerLeft"}
    obj = build_face(bpy, "Toon", carries)
    au_map = {"AU26": "JawDrop", "AU27": {"JawDrop": 1.0}, "AU12": ["Smile_L", "Smile_R"], "AU24": "LipPress",
              "AU25": {"LowerLipDown": 0.5}, "AU01": "BrowsUp", "AU45": ["Blink_L", "Blink_R"]}
    path = tmp_path / "toon_map.json"
    path.write_text(json.dumps({"schema": "au-map/1", "map": au_map}))
    ctl = _adapt_and_generate(bpy, model_server.url, obj, clip, mapping_path=str(path))
    drivers = {fc.data_path.split('"')[1] for fc in obj.data.shape_keys.animation_data.drivers}
    assert drivers == {"JawDrop", "Smile_L", "Smile_R", "LipPress", "LowerLipDown", "BrowsUp", "Blink_L",
                       "Blink_R"}, "Sneer is in no map entry and stays untouched"
    _check_speech(bpy, obj, "JawDrop", clip)
    # JawDrop is exactly the zone rule of AU26 + AU27 on the evaluated control values
    scene = bpy.context.scene
    for frame in (10, 40, 70):
        scene.frame_set(frame)
        props = {k: float(ctl[k]) for k in ctl.keys() if isinstance(ctl[k], float)}  # noqa: SIM118
        blocks = obj.data.shape_keys.evaluated_get(bpy.context.evaluated_depsgraph_get()).key_blocks
        want = evaluate(gated_weighted_driver({"AU26": 1.0, "AU27": 1.0}, None), props)
        assert blocks["JawDrop"].value == pytest.approx(want, abs=1e-4)
    # contempt is one-sided: the character's left corner only ("Smile_L")
    settings = scene.au_talking_head
    settings.emotion, settings.strength = "CONTEMPT", 1.0
    assert bpy.ops.au_talking_head.regenerate() == {"FINISHED"}
    smiles = shape_values(bpy, obj, ["Smile_L", "Smile_R"], _frames(clip))
    assert (smiles["Smile_L"] - smiles["Smile_R"]).min() > 0.1
    _check_speech(bpy, obj, "JawDrop", clip)
