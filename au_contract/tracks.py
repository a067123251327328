"""The au-tracks/1 track set (DESIGN.md §5): what the server returns and the add-on reads.

A :class:`TrackSet` holds one value per frame for every AU of the contract (``au_contract``), an
optional ``landmarks`` block (68 iBUG points per frame, 3D, metres, in the default head's space with
Blender axes: X = the character's left, -Y = forward, Z = up) and free-form ``meta``. JSON is the wire
format; :func:`TrackSet.to_json` / :func:`TrackSet.from_json` round-trip it and validate on the way in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .action_units import AU_CODES

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


class TrackFormatError(ValueError):
    """A track set (JSON or arrays) does not follow au-tracks/1; the message says what is wrong."""


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
        fps: frames per second (may be fractional, e.g. 29.97).
        frame_count: number of frames F; frame ``i`` is at time ``i / fps`` seconds.
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
        """Check shapes, ranges and channel names.

        Raises:
            TrackFormatError: naming the first problem found.
        """
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise TrackFormatError(f"fps must be a positive number, got {self.fps!r}")
        if self.frame_count < 0:
            raise TrackFormatError(f"frame_count must be >= 0, got {self.frame_count}")
        missing = [c for c in AU_CODES if c not in self.channels]
        if missing:
            raise TrackFormatError(f"missing AU channels: {', '.join(missing)}")
        unknown = [c for c in self.channels if c not in AU_CODES]
        if unknown:
            raise TrackFormatError(f"unknown channels (not in the AU contract): {', '.join(unknown)}")
        for code, values in self.channels.items():
            if values.shape != (self.frame_count,):
                raise TrackFormatError(f"channel {code} has shape {values.shape}, expected "
                                       f"({self.frame_count},)")
            if values.size and not (np.all(np.isfinite(values)) and values.min() >= 0.0
                                    and values.max() <= 1.0):
                raise TrackFormatError(f"channel {code} has values outside [0, 1] or not finite")
        if self.landmarks is not None:
            lm = self.landmarks
            if lm.layout != LANDMARK_LAYOUT:
                raise TrackFormatError(f"landmark layout {lm.layout!r} is not {LANDMARK_LAYOUT!r}")
            if lm.frames.shape != (self.frame_count, N_LANDMARKS, 3):
                raise TrackFormatError(f"landmark frames have shape {lm.frames.shape}, expected "
                                       f"({self.frame_count}, {N_LANDMARKS}, 3)")
            if not np.all(np.isfinite(lm.frames)):
                raise TrackFormatError("landmark coordinates must be finite")

    def to_dict(self) -> dict[str, Any]:
        """Return the au-tracks/1 JSON object (plain Python types, values rounded for the wire)."""
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
        """Serialise to compact au-tracks/1 JSON, UTF-8 bytes (what the server sends).

        Values are rounded to ``AU_DECIMALS`` (AUs) and ``LANDMARK_DECIMALS`` (landmark metres) and
        written as the shortest decimal that reads back as the rounded double. orjson, when installed,
        writes the arrays straight from numpy (about 50x faster than the standard library); the text
        parses to the same values either way.

        Raises:
            TrackFormatError: if ``meta`` holds an object JSON cannot represent.
        """
        if _orjson is not None:
            try:
                return bytes(_orjson.dumps(self._document(np.ascontiguousarray),
                                           option=_orjson.OPT_SERIALIZE_NUMPY))
            except TypeError as exc:
                raise TrackFormatError(f"track set is not JSON-serialisable: {exc}") from exc
        return self.to_json().encode("utf-8")

    def to_json(self) -> str:
        """Serialise to compact au-tracks/1 JSON text."""
        if _orjson is not None:
            return self.to_json_bytes().decode("utf-8")
        try:
            return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TrackFormatError(f"track set is not JSON-serialisable: {exc}") from exc

    @classmethod
    def from_dict(cls, obj: Any) -> TrackSet:
        """Build and validate a track set from a parsed au-tracks/1 JSON object.

        Raises:
            TrackFormatError: if the object is not valid au-tracks/1.
        """
        if not isinstance(obj, dict):
            raise TrackFormatError("an au-tracks/1 document must be a JSON object")
        if obj.get("schema") != SCHEMA:
            raise TrackFormatError(f"schema is {obj.get('schema')!r}, expected {SCHEMA!r}")
        try:
            fps = float(obj["fps"])
            frame_count = int(obj["frame_count"])
            duration_s = float(obj["duration_s"])
            raw_channels = obj["channels"]
            if not isinstance(raw_channels, dict):
                raise TrackFormatError("'channels' must be an object of AU code -> list of numbers")
            channels = {str(k): np.asarray(v, dtype=np.float32).reshape(-1) for k, v in raw_channels.items()}
            landmarks = None
            if obj.get("landmarks") is not None:
                raw = obj["landmarks"]
                frames = np.asarray(raw["frames"], dtype=np.float32)
                if frames.size == 0:
                    frames = frames.reshape(0, N_LANDMARKS, 3)
                landmarks = Landmarks(frames=frames, layout=str(raw.get("layout", "")),
                                      units=str(raw.get("units", "m")),
                                      head_size_m=float(raw.get("head_size_m", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, TrackFormatError):
                raise
            raise TrackFormatError(f"malformed au-tracks/1 document: {exc!r}") from exc
        meta = obj.get("meta") or {}
        if not isinstance(meta, dict):
            raise TrackFormatError("'meta' must be an object")
        tracks = cls(fps=fps, frame_count=frame_count, duration_s=duration_s, channels=channels,
                     landmarks=landmarks, meta=meta)
        tracks.validate()
        return tracks

    @classmethod
    def from_json(cls, text: str | bytes) -> TrackSet:
        """Parse and validate au-tracks/1 JSON text.

        Raises:
            TrackFormatError: if the text is not JSON or not valid au-tracks/1.
        """
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise TrackFormatError(f"not JSON: {exc}") from exc
        return cls.from_dict(obj)

    def matrix(self) -> np.ndarray:
        """Return the channels as a float32 array [F, K] in contract order (``AU_CODES``)."""
        if not self.channels:
            return np.zeros((self.frame_count, 0), np.float32)
        return np.stack([self.channels[c] for c in AU_CODES], axis=1).astype(np.float32)
