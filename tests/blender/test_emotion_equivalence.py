"""The server's emotion equals the rig's emotion (issue 13): one zone-rule formula, two renderings.

Neutral tracks of a real clip (``assets/demo_speech.wav``, predicted in-process through
``model_server.pipeline``) are set on the generated rig's control object, frame by frame, and the emotion
property ``emotion_<name>`` is set to the strength; the evaluated face must then show what
``predict --emotion NAME --strength S`` returns for the same clip:

- every AU channel equals the mean of that AU's shape-key values (both sides, equal except under a
  one-sided emotion, see ``au_contract.zone_rules``), within 1e-5; Blender writes a driven shape-key value
  that lies within 1e-4 of 0 or 1 as exactly 0 or 1 (measured with Blender 5.0: 9.9e-5 -> 0, 0.99995 -> 1),
  so a key Blender shows at exactly 0 or 1 may differ from the channel by up to 1e-4;
- every landmark equals the evaluated mesh's landmark vertex, within 1e-4 head sizes.

Checked for every emotion of ``au_contract.EMOTIONS`` at strengths 0.3 and 1.0, on a handful of frames that
include lip closures, open vowels, a blink and a prosody brow raise.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from au_contract import AU_CODES, CLOSURE_AUS, EMOTION_PROPS, EMOTIONS, ONE_SIDED
from au_contract.tracks import TrackSet
from au_contract.zone_rules import CLOSURE_GAIN, SHAPE_KEYS
from model_server.pipeline import PredictOptions, predict_tracks
from rigs.naming import shape_key_names
from tests.blender.addon_fixtures import make_rig

ROOT = Path(__file__).resolve().parents[2]
DEMO_WAV = ROOT / "assets" / "demo_speech.wav"
FPS = 30.0
SEED = 3
STRENGTHS = (0.3, 1.0)
LANDMARK_TOLERANCE = 1e-4  # head sizes
VALUE_TOLERANCE = 1e-5  # shape-key values are float32 on the mesh
SNAP_TOLERANCE = 1.1e-4  # Blender writes driven values within 1e-4 of 0 or 1 as 0 or 1


def _predict(emotion: str = "NEUTRAL", strength: float = 1.0) -> TrackSet:
    return predict_tracks(DEMO_WAV, PredictOptions(fps=FPS, seed=SEED, emotion=emotion, strength=strength))


@pytest.fixture(scope="module")
def neutral() -> TrackSet:
    return _predict()


def _pick_frames(tracks: TrackSet) -> list[int]:
    """Frames worth checking: the strongest lip closures, the widest open vowels, a blink, a brow raise."""
    ch = tracks.channels
    closure = np.max([ch[c] for c in CLOSURE_AUS], axis=0)
    opening = np.maximum(ch["AU26"], ch["AU25"])
    picked: list[int] = []
    for score, count in ((closure, 3), (opening, 3), (ch["AU45"], 1), (ch["AU01"], 1)):
        for f in np.argsort(-score):
            if count == 0:
                break
            if all(abs(int(f) - p) > 3 for p in picked):
                picked.append(int(f))
                count -= 1
    assert closure[picked].max() >= 1.0 / CLOSURE_GAIN, "a closure frame (the gate fully shut) is checked"
    assert opening[picked].max() >= 0.3, "an open vowel is checked"
    assert ch["AU45"][picked].max() > 0.5 and ch["AU01"][picked].max() > 0.05, "a blink and a brow raise"
    return sorted(picked)


def _evaluate(bpy: ModuleType, control: object, face: object, props: dict[str, float]
              ) -> tuple[dict[str, float], np.ndarray]:
    """Set control-object properties, evaluate; (shape-key name -> value, landmark vertices [68, 3] m)."""
    for name, value in props.items():
        control[name] = float(value)  # type: ignore[index]
    control.update_tag()  # type: ignore[attr-defined]
    bpy.context.view_layer.update()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated = face.evaluated_get(depsgraph)  # type: ignore[attr-defined]
    blocks = face.data.shape_keys.evaluated_get(depsgraph).key_blocks  # type: ignore[attr-defined]
    values = {kb.name: float(kb.value) for kb in blocks}
    mesh = evaluated.to_mesh()
    co = np.empty(3 * len(mesh.vertices), np.float32)
    mesh.vertices.foreach_get("co", co)
    evaluated.to_mesh_clear()
    return values, co.reshape(-1, 3)[np.asarray(face["landmark_vertices"])].astype(np.float64)  # type: ignore[index]


def test_server_emotion_equals_the_rig(fresh: ModuleType, neutral: TrackSet) -> None:
    bpy = fresh
    control = make_rig(bpy)
    face = control["face_mesh"]  # type: ignore[index]
    head_size = float(face["head_size"])
    frames = _pick_frames(neutral)
    cases = [("NEUTRAL", 0.0)] + [(e, s) for e in EMOTIONS if e != "NEUTRAL" for s in STRENGTHS]
    assert {c for c, _ in SHAPE_KEYS} == set(AU_CODES)
    worst = {"landmark": 0.0, "channel": 0.0}
    failures: list[str] = []
    for emotion, strength in cases:
        tracks = neutral if emotion == "NEUTRAL" else _predict(emotion, strength)
        assert tracks.landmarks is not None
        emotion_props = {p: (strength if e == emotion else 0.0) for e, p in EMOTION_PROPS.items()}
        moved = 0.0
        for f in frames:
            aus = {code: float(neutral.channels[code][f]) for code in AU_CODES}
            keys, lm = _evaluate(bpy, control, face, {**aus, **emotion_props})
            lm_err = float(np.abs(lm - tracks.landmarks.frames[f]).max()) / head_size
            worst["landmark"] = max(worst["landmark"], lm_err)
            if lm_err > LANDMARK_TOLERANCE:
                failures.append(f"{emotion} {strength} frame {f}: landmarks off by {lm_err:.2e} head sizes")
            moved = max(moved, float(np.abs(tracks.landmarks.frames[f] - neutral.landmarks.frames[f]).max()))
            for code in AU_CODES:
                sides = [keys[n] for n in shape_key_names(code)]
                channel = float(tracks.channels[code][f])
                err = abs(float(np.mean(sides)) - channel)
                if emotion not in ONE_SIDED:  # both sides show the channel's value
                    err = max(err, *(abs(v - channel) for v in sides))
                snapped = any(v in (0.0, 1.0) for v in sides)
                if not snapped:
                    worst["channel"] = max(worst["channel"], err)
                if err > (SNAP_TOLERANCE if snapped else VALUE_TOLERANCE):
                    failures.append(f"{emotion} {strength} frame {f}: {code} keys {sides}, channel {channel}")
        if emotion != "NEUTRAL" and strength == 1.0:
            assert moved / head_size > 5e-3, f"{emotion} barely moves the landmarks: the check could not fail"
    print(f"frames {frames}; worst landmark error {worst['landmark']:.2e} head sizes, "
          f"worst channel error {worst['channel']:.2e} (keys not snapped to 0 or 1)")
    assert not failures, "\n".join(failures[:20])
