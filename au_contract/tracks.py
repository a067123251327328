"""The au-tracks/1 track set (DESIGN.md §5): its one writer and its one reader, strict and lenient.

A :class:`TrackSet` holds one value per frame for every AU of the contract (``au_contract``), an
optional ``landmarks`` block (68 iBUG points per frame, 3D, metres, in the default head's space with
Blender axes: X = the character's left, -Y = forward, Z = up) and free-form ``meta``. JSON is the wire
format. :meth:`TrackSet.to_json_bytes` writes it (validating first); :func:`read_tracks` reads it in one
of two modes:

- ``"strict"``: what the server checks before it sends and what ``predict`` writes; also
  :meth:`TrackSet.from_dict` / :meth:`TrackSet.from_json`. A document is accepted only if the writer
  could have produced it.
- ``"lenient"``: what the add-on accepts from a server (possibly another version or another writer). It
  forgives only what cannot change the animation.

One rule per case (``tests/pure/test_contract_tracks.py`` holds the table and feeds the same documents to
every reader in the product):

- not JSON, not an object, ``schema`` not au-tracks/1: reject in both.
- ``fps`` not a number in [1, 240] (the request range of ``au_contract.options``): reject in both.
- ``frame_count`` < 1: reject in both (an empty track set animates nothing); > 360,000 (the request
  frame cap): reject in both; not a whole number: reject in both (``30.0`` is whole, ``30.5`` is not).
- ``duration_s`` missing: strict rejects; lenient derives ``frame_count / fps`` and notes it.
  Negative or not finite: reject in both.
- an AU channel missing, a channel's length != ``frame_count``, values that are not numbers, NaN or
  Inf: reject in both.
- unknown extra channels: strict rejects; lenient ignores them and notes it.
- values outside [0, 1]: strict rejects; lenient clips values at most ``LENIENT_OVERSHOOT`` (1e-3)
  outside and notes it, and rejects values farther out.
- ``landmarks``: optional in both. Strict checks them when present (layout ibug68, shape [F, 68, 3],
  finite); lenient does not read them (the add-on derives the face from the AU curves) and notes it.
- ``meta`` not an object: reject in both (missing or null reads as ``{}``).
- unknown top-level keys: ignored in both (room for later additions to au-tracks/1).

"Noted" means a line in ``meta["reader_notes"]`` (a list of strings) of the returned track set, so a
caller can log what was forgiven. Whatever strict accepts, lenient accepts with the same values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .action_units import AU_CODES
from .errors import TrackFormatError
from .options import MAX_FPS, MAX_FRAMES, MIN_FPS

try:  # optional speed-up: the server installs it; the plain json module is the fallback
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]

SCHEMA = "au-tracks/1"
LANDMARK_LAYOUT = "ibug68"
N_LANDMARKS = 68
#: Decimals kept on the wire: AU values to 1e-4, landmark coordinates to 0.01 mm.
AU_DECIMALS = 4
LANDMARK_DECIMALS = 5
#: Lenient mode clips AU values at most this far outside [0, 1]; farther is an error in both modes.
LENIENT_OVERSHOOT = 1e-3
#: Key of ``meta`` where the lenient reader lists what it forgave.
NOTES_KEY = "reader_notes"

ReadMode = Literal["strict", "lenient"]
MODES: tuple[ReadMode, ...] = ("strict", "lenient")

__all__ = ["AU_DECIMALS", "LANDMARK_DECIMALS", "LANDMARK_LAYOUT", "LENIENT_OVERSHOOT", "MODES", "NOTES_KEY",
           "N_LANDMARKS", "SCHEMA", "Landmarks", "ReadMode", "TrackFormatError", "TrackSet", "read_tracks"]


@dataclass
class Landmarks:
    """Per-frame 3D landmarks.

    Attributes:
        frames: float32 array [F, 68, 3], metres, default head's space (Blender axes, Z up).
        layout: point order, always ``"ibug68"`` (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes,
            48-59 outer lip, 60-67 inner lip).
        units: ``"m"`` (metres).
        head_size_m: the default head's size in metres (divide by it for head-relative units).
    """

    frames: np.ndarray  # [F, 68, 3] float32
    layout: str = LANDMARK_LAYOUT
    units: str = "m"
    head_size_m: float = 0.0


@dataclass
class TrackSet:
    """One utterance's animation tracks.

    Attributes:
        fps: frames per second (may be fractional, e.g. 29.97), 1..240.
        frame_count: number of frames F (1..360,000); frame ``i`` is at time ``i / fps`` seconds.
        duration_s: duration of the source audio in seconds.
        channels: AU code -> float32 array [F] in [0, 1]; every AU of the contract is present.
        landmarks: optional :class:`Landmarks`.
        meta: JSON-serialisable extras (model version, device, sample_rate, seed, language, timings...).
    """

    fps: float
    frame_count: int
    duration_s: float
    channels: dict[str, np.ndarray]
    landmarks: Landmarks | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Check the strict rules (see the module docstring) on the arrays in memory.

        Raises:
            TrackFormatError: naming the first problem found.
        """
        _check_header(self.fps, self.frame_count, self.duration_s)
        _check_channels(self.channels, self.frame_count, "strict")
        if self.landmarks is not None:
            _check_landmarks(self.landmarks, self.frame_count)
        if not isinstance(self.meta, dict):
            raise TrackFormatError("'meta' must be an object")

    def to_dict(self) -> dict[str, Any]:
        """Return the au-tracks/1 JSON object (plain Python types, values rounded for the wire).

        Raises:
            TrackFormatError: if the track set breaks a strict rule.
        """
        self.validate()
        return self._document(lambda values: values.tolist())

    def _document(self, convert: Callable[[np.ndarray], Any]) -> dict[str, Any]:
        """The au-tracks/1 object with every array rounded (float64) and passed through ``convert``."""
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "fps": float(self.fps),
            "frame_count": int(self.frame_count),
            "duration_s": round(float(self.duration_s), 6),
            "channels": {code: convert(np.round(self.channels[code].astype(np.float64), AU_DECIMALS))
                         for code in AU_CODES},
        }
        if self.landmarks is not None:
            out["landmarks"] = {
                "layout": self.landmarks.layout,
                "units": self.landmarks.units,
                "head_size_m": float(self.landmarks.head_size_m),
                "frames": convert(np.round(self.landmarks.frames.astype(np.float64), LANDMARK_DECIMALS)),
            }
        out["meta"] = self.meta
        return out

    def to_json_bytes(self) -> bytes:
        """Validate (strict) and serialise to compact au-tracks/1 JSON, UTF-8 bytes (what the server sends).

        Values are rounded to ``AU_DECIMALS`` (AUs) and ``LANDMARK_DECIMALS`` (landmark metres) and
        written as the shortest decimal that reads back as the rounded double. orjson, when installed,
        writes the arrays straight from numpy (about 50x faster than the standard library); the text
        parses to the same values either way.

        Raises:
            TrackFormatError: if the track set breaks a strict rule or ``meta`` holds an object JSON
                cannot represent.
        """
        if _orjson is not None:
            self.validate()
            try:
                return bytes(_orjson.dumps(self._document(np.ascontiguousarray),
                                           option=_orjson.OPT_SERIALIZE_NUMPY))
            except TypeError as exc:
                raise TrackFormatError(f"track set is not JSON-serialisable: {exc}") from exc
        return self.to_json().encode("utf-8")

    def to_json(self) -> str:
        """Validate (strict) and serialise to compact au-tracks/1 JSON text."""
        if _orjson is not None:
            return self.to_json_bytes().decode("utf-8")
        try:
            return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, TrackFormatError):
                raise
            raise TrackFormatError(f"track set is not JSON-serialisable: {exc}") from exc

    @classmethod
    def from_dict(cls, obj: Any) -> TrackSet:
        """Read a parsed au-tracks/1 JSON object in strict mode (:func:`read_tracks`)."""
        return read_tracks(obj, "strict")

    @classmethod
    def from_json(cls, text: str | bytes) -> TrackSet:
        """Read au-tracks/1 JSON text in strict mode (:func:`read_tracks`)."""
        return read_tracks(text, "strict")

    def matrix(self) -> np.ndarray:
        """Return the channels as a float32 array [F, K] in contract order (``AU_CODES``)."""
        if not self.channels:
            return np.zeros((self.frame_count, 0), np.float32)
        return np.stack([self.channels[c] for c in AU_CODES], axis=1).astype(np.float32)


def read_tracks(doc: str | bytes | dict[str, Any] | Any, mode: ReadMode = "strict") -> TrackSet:
    """Read an au-tracks/1 document (JSON text, bytes, or an already parsed object).

    Args:
        doc: the document.
        mode: ``"strict"`` or ``"lenient"``; the module docstring's table lists every difference.

    Returns:
        The track set; in lenient mode ``meta["reader_notes"]`` lists what was forgiven (if anything).

    Raises:
        TrackFormatError: naming the first problem found.
        ValueError: ``mode`` is not a mode (a programming error).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if isinstance(doc, str | bytes | bytearray):
        try:
            doc = json.loads(doc)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TrackFormatError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise TrackFormatError("an au-tracks/1 document must be a JSON object")
    if doc.get("schema") != SCHEMA:
        raise TrackFormatError(f"schema is {doc.get('schema')!r}, expected {SCHEMA!r} (are the server and "
                               "the add-on different versions?)")
    notes: list[str] = []
    fps = _number(doc, "fps")
    frame_count = _whole(doc.get("frame_count"))
    if "duration_s" in doc or mode == "strict":
        duration_s = _number(doc, "duration_s")
    else:
        duration_s = frame_count / fps if frame_count is not None and fps > 0 else 0.0
        notes.append("duration_s missing: derived from frame_count / fps")
    if frame_count is None:
        raise TrackFormatError(f"frame_count must be a whole number, got {doc.get('frame_count')!r}")
    _check_header(fps, frame_count, duration_s)
    raw = doc.get("channels")
    if not isinstance(raw, dict):
        raise TrackFormatError("'channels' must be an object of AU code -> list of numbers")
    channels, channel_notes = _check_channels(raw, frame_count, mode)
    notes += channel_notes
    landmarks = None
    if doc.get("landmarks") is not None:
        if mode == "strict":
            landmarks = _read_landmarks(doc["landmarks"], frame_count)
        else:
            notes.append("landmarks not read (the add-on derives the face from the AU curves)")
    meta = doc.get("meta")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise TrackFormatError("'meta' must be an object")
    if notes:
        meta = {**meta, NOTES_KEY: [*meta.get(NOTES_KEY, []), *notes]}
    return TrackSet(fps=fps, frame_count=frame_count, duration_s=duration_s, channels=channels,
                    landmarks=landmarks, meta=meta)


def _number(doc: dict[str, Any], key: str) -> float:
    value = doc.get(key)
    if key not in doc:
        raise TrackFormatError(f"'{key}' is missing")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TrackFormatError(f"{key} must be a number, got {value!r}")
    return float(value)


def _whole(value: Any) -> int | None:
    """``value`` as an int if it is a whole JSON number (``30`` or ``30.0``), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value)


def _check_header(fps: float, frame_count: int, duration_s: float) -> None:
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise TrackFormatError(f"fps must be a number from {MIN_FPS:g} to {MAX_FPS:g}, got {fps!r}")
    if frame_count < 1:
        raise TrackFormatError(f"the track set has no frames (frame_count={frame_count}): "
                               "is the audio empty?")
    if frame_count > MAX_FRAMES:
        raise TrackFormatError(f"frame_count {frame_count} is more than the {MAX_FRAMES} frames a track set "
                               "may hold")
    if not (math.isfinite(duration_s) and duration_s >= 0):
        raise TrackFormatError(f"duration_s must be a finite number >= 0, got {duration_s!r}")


def _check_channels(raw: dict[str, Any], frame_count: int,
                    mode: ReadMode) -> tuple[dict[str, np.ndarray], list[str]]:
    """The AU channels as float32 arrays [F] in contract order, checked by ``mode``'s rules; notes."""
    notes: list[str] = []
    missing = [c for c in AU_CODES if c not in raw]
    if missing:
        raise TrackFormatError(f"missing AU channels: {', '.join(missing)}")
    unknown = sorted(str(c) for c in raw if c not in AU_CODES)
    if unknown:
        if mode == "strict":
            raise TrackFormatError(f"unknown channels (not in the AU contract): {', '.join(unknown)}")
        notes.append(f"ignored unknown channels: {', '.join(unknown)}")
    slack = LENIENT_OVERSHOOT if mode == "lenient" else 0.0
    clipped: list[str] = []
    channels: dict[str, np.ndarray] = {}
    for code in AU_CODES:
        values = _numbers(code, raw[code])
        if values.shape != (frame_count,):
            raise TrackFormatError(f"channel {code} has {values.size} values, expected {frame_count} "
                                   f"(shape {values.shape})")
        if not np.all(np.isfinite(values)):
            raise TrackFormatError(f"channel {code} has values that are not finite")
        low, high = float(values.min()), float(values.max())
        if low < -slack or high > 1.0 + slack:
            raise TrackFormatError(f"channel {code} has values outside [0, 1] (from {low:.6g} to {high:.6g})")
        if low < 0.0 or high > 1.0:
            clipped.append(code)
            values = np.clip(values, 0.0, 1.0)
        channels[code] = values.astype(np.float32, copy=False)
    if clipped:
        notes.append(f"clipped values within {LENIENT_OVERSHOOT:g} of [0, 1]: {', '.join(clipped)}")
    return channels, notes


def _numbers(code: str, values: Any) -> np.ndarray:
    """A channel's values as a float array (any shape); lists of non-numbers are an error."""
    if isinstance(values, np.ndarray):
        array = values
    else:
        try:
            array = np.asarray(values)
        except ValueError as exc:  # ragged nested lists
            raise TrackFormatError(f"channel {code} is not a list of numbers: {exc}") from exc
    if array.dtype.kind not in "fiu" or (array.ndim == 0):
        raise TrackFormatError(f"channel {code} is not a list of numbers")
    return array.astype(np.float64, copy=False) if array.dtype.kind != "f" else array


def _read_landmarks(raw: Any, frame_count: int) -> Landmarks:
    if not isinstance(raw, dict):
        raise TrackFormatError("'landmarks' must be an object with layout, units and frames")
    try:
        frames = np.asarray(raw.get("frames"), dtype=np.float32)
        head_size_m = float(raw.get("head_size_m", 0.0))
    except (TypeError, ValueError) as exc:
        raise TrackFormatError(f"landmark frames are not [F, 68, 3] numbers: {exc}") from exc
    lm = Landmarks(frames=frames, layout=str(raw.get("layout", "")), units=str(raw.get("units", "m")),
                   head_size_m=head_size_m)
    _check_landmarks(lm, frame_count)
    return lm


def _check_landmarks(lm: Landmarks, frame_count: int) -> None:
    if lm.layout != LANDMARK_LAYOUT:
        raise TrackFormatError(f"landmark layout {lm.layout!r} is not {LANDMARK_LAYOUT!r}")
    if lm.frames.shape != (frame_count, N_LANDMARKS, 3):
        raise TrackFormatError(f"landmark frames have shape {lm.frames.shape}, expected "
                               f"({frame_count}, {N_LANDMARKS}, 3)")
    if not np.all(np.isfinite(lm.frames)):
        raise TrackFormatError("landmark coordinates must be finite")
