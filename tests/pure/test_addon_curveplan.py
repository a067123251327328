"""What the add-on adds on top of the contract's au-tracks/1 reader: scene rate, resampling, curve plan."""

from __future__ import annotations

import numpy as np
import pytest

from au_contract import AU_CODES, EMOTION_PROPS
from au_contract.errors import OptionsError
from au_contract.tracks import TrackSet, read_tracks
from blender_addon.animation import curveplan, timing


def _doc(frame_count: int = 30, fps: float = 30.0) -> dict:
    rng = np.random.default_rng(1)
    return {"schema": "au-tracks/1", "fps": fps, "frame_count": frame_count, "duration_s": frame_count / fps,
            "channels": {c: rng.random(frame_count).round(4).tolist() for c in AU_CODES}, "meta": {"seed": 0}}


def test_resample_keeps_time_for_fractional_rates() -> None:
    doc = _doc(frame_count=301, fps=30.0)
    doc["duration_s"] = 10.0
    ramp = np.linspace(0, 1, 301)  # value = time / 10 s
    doc["channels"]["AU26"] = ramp.tolist()
    src = read_tracks(doc, "lenient")
    fps = timing.scene_fps(30, 1.001)
    assert abs(fps - 29.97003) < 1e-4
    out = timing.resample(src, fps)
    assert isinstance(out, TrackSet) and out.fps == fps and out.frame_count == round(10.0 * fps) + 1
    t = np.arange(out.frame_count) / fps
    np.testing.assert_allclose(out.channels["AU26"], np.clip(t / 10.0, 0, 1), atol=1e-5)
    assert out.meta["resampled_from_fps"] == 30.0
    assert timing.resample(src, 30.0) is src
    with pytest.raises(ValueError, match="invalid scene frame rate"):
        timing.scene_fps(0, 1.0)


def test_plan_names_groups_and_emotions() -> None:
    src = read_tracks(_doc(), "lenient")
    curves = curveplan.plan_generated(src, 5.0, "SURPRISE", 0.6)
    paths = [c.data_path for c in curves]
    assert sorted(paths[: len(AU_CODES)]) == sorted(f'["{c}"]' for c in AU_CODES)
    by_path = {c.data_path: c for c in curves}
    # one group per zone, so a whole zone folds in the Graph Editor
    assert by_path['["AU12"]'].group == "Blend"
    assert by_path['["AU26"]'].group == "Mouth"
    assert by_path['["AU01"]'].group == "Upper"
    assert by_path['["AU26"]'].co[0, 0] == 5.0
    last = 5.0 + src.frame_count - 1
    for emotion, prop in EMOTION_PROPS.items():
        c = by_path[f'["{prop}"]']
        value = pytest.approx(0.6 if emotion == "SURPRISE" else 0.0)
        assert c.group == "Emotion" and c.co.tolist() == [[5.0, value], [last, value]], "held over the line"
    # the emotion and strength follow the contract's option rules and messages
    with pytest.raises(OptionsError, match=r"emotion must be one of NEUTRAL, .* got 'JOY'"):
        curveplan.plan_emotion_curves("JOY", 1.0, 1.0)
    with pytest.raises(OptionsError, match=r"strength must be a number from 0 to 1, got 1\.5"):
        curveplan.plan_emotion_curves("HAPPINESS", 1.5, 1.0)
