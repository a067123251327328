"""The add-on's au-tracks/1 reader agrees with the server's writer and rejects bad documents clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from au_contract import AU_CODES, EMOTION_PROPS
from blender_addon.animation import curveplan
from blender_addon.animation import tracks as addon_tracks


def _doc(frame_count: int = 30, fps: float = 30.0) -> dict:
    rng = np.random.default_rng(1)
    return {"schema": "au-tracks/1", "fps": fps, "frame_count": frame_count, "duration_s": frame_count / fps,
            "channels": {c: rng.random(frame_count).round(4).tolist() for c in AU_CODES}, "meta": {"seed": 0}}


def test_reads_what_the_server_writes() -> None:
    server_tracks = pytest.importorskip("au_contract.tracks")
    doc = _doc()
    written = server_tracks.TrackSet.from_dict(doc).to_json()
    got = addon_tracks.parse_tracks(written)
    assert got.fps == 30.0 and got.frame_count == 30
    for code in AU_CODES:
        np.testing.assert_allclose(got.channels[code], doc["channels"][code], atol=1e-6)


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.update(schema="au-tracks/2"), "schema"),
    (lambda d: d["channels"].pop("AU25"), "missing AU channels: AU25"),
    (lambda d: d["channels"].__setitem__("AU12", [0.5] * 29), "AU12 has 29 values"),
    (lambda d: d["channels"].__setitem__("AU12", [2.0] * 30), "outside [0, 1]"),
    (lambda d: d.update(fps=0), "fps"),
    (lambda d: d.update(frame_count=0), "no frames"),
])
def test_bad_documents_say_what_is_wrong(mutate, words: str) -> None:  # type: ignore[no-untyped-def]
    doc = _doc()
    mutate(doc)
    with pytest.raises(addon_tracks.TrackFormatError, match=__import__("re").escape(words)):
        addon_tracks.parse_tracks(json.dumps(doc))
    with pytest.raises(addon_tracks.TrackFormatError, match="not JSON"):
        addon_tracks.parse_tracks("{oops")


def test_resample_keeps_time_for_fractional_rates() -> None:
    doc = _doc(frame_count=301, fps=30.0)
    doc["duration_s"] = 10.0
    ramp = np.linspace(0, 1, 301)  # value = time / 10 s
    doc["channels"]["AU26"] = ramp.tolist()
    src = addon_tracks.parse_tracks(doc)
    fps = addon_tracks.scene_fps(30, 1.001)
    assert abs(fps - 29.97003) < 1e-4
    out = addon_tracks.resample(src, fps)
    assert out.fps == fps and out.frame_count == round(10.0 * fps) + 1
    t = np.arange(out.frame_count) / fps
    np.testing.assert_allclose(out.channels["AU26"], np.clip(t / 10.0, 0, 1), atol=1e-5)
    assert addon_tracks.resample(src, 30.0) is src


def test_plan_names_groups_and_emotions() -> None:
    src = addon_tracks.parse_tracks(_doc())
    curves = curveplan.plan_generated(src, 5.0, "SURPRISE", 0.6)
    paths = [c.data_path for c in curves]
    assert sorted(paths[: len(AU_CODES)]) == sorted(f'["{c}"]' for c in AU_CODES)
    by_path = {c.data_path: c for c in curves}
    assert by_path['["AU12"]'].group == "Blend · AU12 Lip Corner Puller"
    assert by_path['["AU26"]'].group == "Mouth · AU26 Jaw Drop"
    assert by_path['["AU01"]'].group == "Upper · AU01 Inner Brow Raiser"
    assert by_path['["AU26"]'].co[0, 0] == 5.0
    for emotion, prop in EMOTION_PROPS.items():
        c = by_path[f'["{prop}"]']
        assert c.co.tolist() == [[5.0, pytest.approx(0.6 if emotion == "SURPRISE" else 0.0)]]
    with pytest.raises(ValueError, match="unknown emotion"):
        curveplan.plan_emotion_curves("JOY", 1.0, 1.0)
