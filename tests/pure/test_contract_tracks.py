"""au-tracks/1 has one writer and one reader (``au_contract.tracks``): the same documents, valid and invalid,
go to every reader in the product and the verdicts must match the table below (one rule per case, as the
module docstring of ``au_contract.tracks`` lists them).

Readers: the strict reader (what ``predict`` writes and the server sends), ``TrackSet.from_json`` (the
same, by its class name), the lenient reader (what the add-on accepts) and the add-on's own entry point
(``animation.generation.read_answer``: lenient read + resample to the scene's rate). The batch renderer
reads no tracks itself: it drives the add-on's operator, so it goes through ``read_answer`` too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from au_contract import AU_CODES
from au_contract.errors import ContractError, TrackFormatError
from au_contract.options import MAX_FRAMES
from au_contract.tracks import LENIENT_OVERSHOOT, NOTES_KEY, Landmarks, TrackSet, read_tracks
from blender_addon.animation import generation

N = 30


def _doc(n: int = N, fps: float = 30.0) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    channels = {c: rng.random(n).round(4) for c in AU_CODES}
    lm = Landmarks(frames=rng.normal(0, 0.05, (n, 68, 3)).astype(np.float32), head_size_m=0.23)
    written = TrackSet(fps=fps, frame_count=n, duration_s=n / fps, channels=channels, landmarks=lm,
                       meta={"seed": 0}).to_json()
    return json.loads(written)  # exactly what the writer produces


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[key]
        node[last] = value
    return mutate


def _drop(path: str) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[key]
        del node[last]
    return mutate


def _value(code: str, index: int, value: Any) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        doc["channels"][code][index] = value
    return mutate


def _frames(n: int) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        doc["frame_count"] = n
        doc["duration_s"] = n / 30.0
        for code in AU_CODES:
            doc["channels"][code] = doc["channels"][code][:n]
        doc["landmarks"]["frames"] = doc["landmarks"]["frames"][:n]
    return mutate


OK = None  # accepted
# (case, mutation of a valid document (or raw text), strict verdict, lenient verdict): a verdict is OK or the
# words the rejection message must contain.
TABLE: list[tuple[str, Any, str | None, str | None]] = [
    ("as written", lambda d: None, OK, OK),
    ("one frame", _frames(1), OK, OK),
    ("no landmarks", _drop("landmarks"), OK, OK),
    ("landmarks null", _set("landmarks", None), OK, OK),
    ("meta null", _set("meta", None), OK, OK),
    ("meta missing", _drop("meta"), OK, OK),
    ("unknown top-level key", _set("events", [1, 2]), OK, OK),
    ("fps 29.97", _set("fps", 29.97), OK, OK),
    ("fps 240", _set("fps", 240), OK, OK),
    ("frame_count 30.0", _set("frame_count", 30.0), OK, OK),
    ("values exactly 0 and 1", lambda d: d["channels"].update(AU12=[0.0] * 15 + [1] * 15), OK, OK),
    # lenient forgives (and notes) what cannot change the animation; strict does not
    ("duration_s missing", _drop("duration_s"), "'duration_s' is missing", OK),
    ("unknown channel", _set("channels.AU99", [0.5] * N), "unknown channels (not in the AU contract): AU99",
     OK),
    ("tiny overshoot above 1", _value("AU26", 3, 1.0 + LENIENT_OVERSHOOT / 2),
     "AU26 has values outside [0, 1]", OK),
    ("tiny overshoot below 0", _value("AU26", 3, -LENIENT_OVERSHOOT / 2),
     "AU26 has values outside [0, 1]", OK),
    ("landmarks wrong shape", _set("landmarks.frames", [[[0.0, 0.0, 0.0]]]), "landmark frames have shape",
     OK),
    ("landmarks wrong layout", _set("landmarks.layout", "mediapipe478"), "landmark layout", OK),
    # invalid in both modes
    ("not JSON", "{oops", "not JSON", "not JSON"),
    ("a JSON array", "[1, 2]", "must be a JSON object", "must be a JSON object"),
    ("schema au-tracks/2", _set("schema", "au-tracks/2"), "schema", "schema"),
    ("schema missing", _drop("schema"), "schema", "schema"),
    ("fps 0", _set("fps", 0), "fps must be a number from 1 to 240", "fps must be a number from 1 to 240"),
    ("fps negative", _set("fps", -30), "fps must be", "fps must be"),
    ("fps 1000", _set("fps", 1000), "fps must be a number from 1 to 240",
     "fps must be a number from 1 to 240"),
    ("fps NaN", _set("fps", math.nan), "fps must be", "fps must be"),
    ("fps as text", _set("fps", "30"), "fps must be a number", "fps must be a number"),
    ("fps missing", _drop("fps"), "'fps' is missing", "'fps' is missing"),
    ("frame_count 0", _frames(0), "no frames", "no frames"),
    ("frame_count over the cap", _set("frame_count", MAX_FRAMES + 1), f"more than the {MAX_FRAMES}",
     f"more than the {MAX_FRAMES}"),
    ("frame_count 30.5", _set("frame_count", 30.5), "frame_count must be a whole number",
     "frame_count must be a whole number"),
    ("frame_count as text", _set("frame_count", "30"), "frame_count must be a whole number",
     "frame_count must be a whole number"),
    ("frame_count true", _set("frame_count", True), "frame_count must be a whole number",
     "frame_count must be a whole number"),
    ("duration_s negative", _set("duration_s", -1.0), "duration_s must be", "duration_s must be"),
    ("duration_s infinite", _set("duration_s", math.inf), "duration_s must be", "duration_s must be"),
    ("channel missing", _drop("channels.AU25"), "missing AU channels: AU25", "missing AU channels: AU25"),
    ("channels not an object", _set("channels", [[0.5] * N]), "'channels' must be an object",
     "'channels' must be an object"),
    ("channel too short", _set("channels.AU12", [0.5] * (N - 1)), "AU12 has 29 values, expected 30",
     "AU12 has 29 values, expected 30"),
    ("channel nested", _set("channels.AU12", [[0.5]] * N), "AU12 has 30 values, expected 30 (shape (30, 1))",
     "AU12 has 30 values, expected 30 (shape (30, 1))"),
    ("value far above 1", _value("AU12", 0, 1.01), "AU12 has values outside [0, 1]",
     "AU12 has values outside [0, 1]"),
    ("value far below 0", _value("AU12", 0, -0.5), "AU12 has values outside [0, 1]",
     "AU12 has values outside [0, 1]"),
    ("value NaN", _value("AU12", 0, math.nan), "AU12 has values that are not finite",
     "AU12 has values that are not finite"),
    ("value Infinity", _value("AU12", 0, math.inf), "not finite", "not finite"),
    ("value as text", _set("channels.AU12", ["0.5"] * N), "AU12 is not a list of numbers",
     "AU12 is not a list of numbers"),
    ("value null", _value("AU12", 0, None), "AU12 is not a list of numbers", "AU12 is not a list of numbers"),
    ("values true/false", _set("channels.AU12", [True] * N), "AU12 is not a list of numbers",
     "AU12 is not a list of numbers"),
    ("channel an object", _set("channels.AU12", {"0": 0.5}), "AU12 is not a list of numbers",
     "AU12 is not a list of numbers"),
    ("meta a list", _set("meta", [1]), "'meta' must be an object", "'meta' must be an object"),
]


def _raw(mutation: Any) -> bytes:
    if isinstance(mutation, str):
        return mutation.encode()
    doc = _doc()
    mutation(doc)
    return json.dumps(doc).encode()  # NaN/Infinity written as the JS literals Python's json reads back


#: Every reader of au-tracks/1 in the product -> (mode whose column applies, the call, its exception).
READERS: dict[str, tuple[str, Callable[[bytes], TrackSet], type[Exception]]] = {
    "read_tracks strict (server, predict)": ("strict", lambda raw: read_tracks(raw, "strict"),
                                             TrackFormatError),
    "TrackSet.from_json": ("strict", TrackSet.from_json, TrackFormatError),
    "read_tracks lenient": ("lenient", lambda raw: read_tracks(raw, "lenient"), TrackFormatError),
    "add-on generation.read_answer": ("lenient", lambda raw: generation.read_answer(raw, 30.0),
                                      generation.GenerationError),
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("case, mutation, strict, lenient", TABLE, ids=[row[0] for row in TABLE])
def test_every_reader_gives_the_table_verdict(reader: str, case: str, mutation: Any, strict: str | None,
                                              lenient: str | None) -> None:
    mode, read, error = READERS[reader]
    expected = strict if mode == "strict" else lenient
    raw = _raw(mutation)
    if expected is OK:
        tracks = read(raw)
        assert set(tracks.channels) == set(AU_CODES)
        if reader != "add-on generation.read_answer":  # that one resamples to the scene's 30 fps
            doc = json.loads(raw)
            assert (tracks.fps, tracks.frame_count) == (doc["fps"], doc["frame_count"])
        for values in tracks.channels.values():
            assert values.dtype == np.float32 and values.min() >= 0.0 and values.max() <= 1.0
    else:
        with pytest.raises(error) as info:
            read(raw)
        assert expected in str(info.value), f"{reader} on {case!r}: {info.value}"


def test_lenient_forgives_exactly_the_documented_cases() -> None:
    forgiven = {case for case, _, strict, lenient in TABLE if strict is not OK and lenient is OK}
    assert forgiven == {"duration_s missing", "unknown channel", "tiny overshoot above 1",
                        "tiny overshoot below 0", "landmarks wrong shape", "landmarks wrong layout"}
    assert all(lenient is OK for _, _, strict, lenient in TABLE if strict is OK), "lenient ⊇ strict"


def test_strict_and_lenient_read_a_written_document_to_the_same_values() -> None:
    raw = _raw(lambda d: None)
    strict, lenient = read_tracks(raw, "strict"), read_tracks(raw, "lenient")
    assert (strict.fps, strict.frame_count, strict.duration_s) == (lenient.fps, lenient.frame_count,
                                                                   lenient.duration_s)
    for code in AU_CODES:
        np.testing.assert_array_equal(strict.channels[code], lenient.channels[code])
    assert strict.landmarks is not None and strict.landmarks.frames.shape == (N, 68, 3)
    assert lenient.landmarks is None
    assert lenient.meta[NOTES_KEY] == ["landmarks not read (the add-on derives the face from the AU curves)"]
    assert NOTES_KEY not in strict.meta and strict.meta["seed"] == 0


def test_lenient_notes_what_it_forgave() -> None:
    def forgivable(doc: dict) -> None:
        del doc["duration_s"], doc["landmarks"]
        doc["channels"]["AU99"] = [0.0] * N
        doc["channels"]["AU26"][0] = 1.0 + LENIENT_OVERSHOOT
        doc["channels"]["AU12"][1] = -LENIENT_OVERSHOOT

    tracks = read_tracks(_raw(forgivable), "lenient")
    assert tracks.duration_s == pytest.approx(N / 30.0)
    assert "AU99" not in tracks.channels
    assert tracks.channels["AU26"][0] == 1.0 and tracks.channels["AU12"][1] == 0.0
    assert tracks.meta[NOTES_KEY] == [
        "duration_s missing: derived from frame_count / fps",
        "ignored unknown channels: AU99",
        f"clipped values within {LENIENT_OVERSHOOT:g} of [0, 1]: AU12, AU26",
    ]


def _track_set(**changes: Any) -> TrackSet:
    values: dict[str, Any] = {"fps": 30.0, "frame_count": 3, "duration_s": 0.1,
                              "channels": {c: np.full(3, 0.5, np.float32) for c in AU_CODES}}
    values.update(changes)
    return TrackSet(**values)


@pytest.mark.parametrize("changes, words", [
    ({"fps": 1000.0}, "fps must be a number from 1 to 240"),
    ({"frame_count": 0, "channels": {c: np.zeros(0, np.float32) for c in AU_CODES}}, "no frames"),
    ({"channels": {c: np.full(3, 1.5, np.float32) for c in AU_CODES}}, "values outside [0, 1]"),
    ({"channels": {**{c: np.zeros(3, np.float32) for c in AU_CODES}, "AU99": np.zeros(3, np.float32)}},
     "unknown channels"),
    ({"landmarks": Landmarks(frames=np.zeros((2, 68, 3), np.float32))}, "landmark frames have shape"),
    ({"meta": {"bad": object()}}, "not JSON-serialisable"),
])
def test_the_writer_refuses_what_strict_would_reject(changes: dict, words: str) -> None:
    tracks = _track_set(**changes)
    writers = [tracks.to_json, tracks.to_json_bytes] + ([] if "meta" in changes else [tracks.to_dict])
    for write in writers:
        with pytest.raises(TrackFormatError) as info:
            write()
        assert words in str(info.value)


def test_one_track_format_error_class_rooted_in_the_contract() -> None:
    assert issubclass(TrackFormatError, ContractError) and issubclass(ContractError, ValueError)
    import au_contract.tracks
    import blender_addon.animation.generation as gen

    assert au_contract.tracks.TrackFormatError is TrackFormatError
    assert gen.TrackFormatError is TrackFormatError
    with pytest.raises(ValueError, match="mode must be one of"):
        read_tracks(_raw(lambda d: None), "sloppy")  # type: ignore[arg-type]
