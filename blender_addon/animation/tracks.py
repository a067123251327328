"""Read au-tracks/1 track sets (DESIGN.md §5) inside Blender: parse, validate, resample.

Pure module (numpy + standard library): the add-on ships without the model server, so it carries its
own reader of the wire format. ``tests/pure/test_addon_tracks.py`` checks it agrees with the server's
writer (``model_server.tracks``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from au_contract import AU_CODES

SCHEMA = "au-tracks/1"


class TrackFormatError(ValueError):
    """The server's answer is not a valid au-tracks/1 track set; the message says what is wrong."""


@dataclass(frozen=True)
class Tracks:
    """One utterance's AU tracks, as the add-on uses them.

    Attributes:
        fps: frames per second of the samples (may be fractional, e.g. 29.97).
        frame_count: number of samples F per channel; sample ``i`` is at time ``i / fps`` seconds.
        duration_s: duration of the source audio in seconds.
        channels: AU code -> float32 array [F] in [0, 1]; every AU of the contract is present.
        meta: free-form extras from the server (model, seed, timings...).
    """

    fps: float
    frame_count: int
    duration_s: float
    channels: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)


def parse_tracks(doc: str | bytes | dict[str, Any]) -> Tracks:
    """Parse and validate an au-tracks/1 document (JSON text or an already parsed object).

    Landmarks, if present, are ignored: the rig derives the face from the AU curves.

    Raises:
        TrackFormatError: naming the first problem found.
    """
    if isinstance(doc, str | bytes):
        try:
            doc = json.loads(doc)
        except ValueError as exc:
            raise TrackFormatError(f"the server's answer is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise TrackFormatError("an au-tracks/1 document must be a JSON object")
    if doc.get("schema") != SCHEMA:
        raise TrackFormatError(f"schema is {doc.get('schema')!r}, expected {SCHEMA!r} "
                               "(is the server a different version than the add-on?)")
    try:
        fps = float(doc["fps"])
        frame_count = int(doc["frame_count"])
        duration_s = float(doc.get("duration_s", frame_count / fps if fps > 0 else 0.0))
        raw = doc["channels"]
    except (KeyError, TypeError, ValueError) as exc:
        raise TrackFormatError(f"malformed au-tracks/1 document: {exc!r}") from exc
    if not (math.isfinite(fps) and fps > 0):
        raise TrackFormatError(f"fps must be a positive number, got {fps!r}")
    if frame_count < 1:
        raise TrackFormatError(f"the track set has no frames (frame_count={frame_count}): "
                               "is the audio empty?")
    if not isinstance(raw, dict):
        raise TrackFormatError("'channels' must be an object of AU code -> list of numbers")
    missing = [c for c in AU_CODES if c not in raw]
    if missing:
        raise TrackFormatError(f"missing AU channels: {', '.join(missing)}")
    channels: dict[str, np.ndarray] = {}
    for code in AU_CODES:
        try:
            values = np.asarray(raw[code], dtype=np.float32).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise TrackFormatError(f"channel {code} is not a list of numbers") from exc
        if values.shape != (frame_count,):
            raise TrackFormatError(f"channel {code} has {values.size} values, expected {frame_count}")
        if not np.all(np.isfinite(values)):
            raise TrackFormatError(f"channel {code} has values that are not finite")
        if values.min() < -1e-4 or values.max() > 1.0 + 1e-4:
            raise TrackFormatError(f"channel {code} has values outside [0, 1]")
        channels[code] = np.clip(values, 0.0, 1.0)
    meta = doc.get("meta") or {}
    if not isinstance(meta, dict):
        raise TrackFormatError("'meta' must be an object")
    return Tracks(fps=fps, frame_count=frame_count, duration_s=duration_s, channels=channels, meta=meta)


def scene_fps(fps: int, fps_base: float) -> float:
    """Return Blender's effective frame rate ``fps / fps_base`` (e.g. 30 / 1.001 = 29.97)."""
    if fps <= 0 or fps_base <= 0:
        raise ValueError(f"invalid scene frame rate {fps}/{fps_base}")
    return fps / fps_base


def resample(tracks: Tracks, fps: float) -> Tracks:
    """Return ``tracks`` resampled to ``fps`` by linear interpolation in time.

    Frame ``j`` of the result is at time ``j / fps``; the result covers ``duration_s``. A track set
    already at ``fps`` (to 1e-6 relative) is returned unchanged.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if abs(tracks.fps - fps) <= 1e-6 * fps:
        return tracks
    duration_s = max(tracks.duration_s, (tracks.frame_count - 1) / tracks.fps)
    count = max(1, round(duration_s * fps) + 1 if duration_s > 0 else tracks.frame_count)
    t_src = np.arange(tracks.frame_count, dtype=np.float64) / tracks.fps  # [F] s
    t_dst = np.arange(count, dtype=np.float64) / fps  # [F'] s
    channels = {code: np.interp(t_dst, t_src, v.astype(np.float64)).astype(np.float32)
                for code, v in tracks.channels.items()}
    return Tracks(fps=fps, frame_count=count, duration_s=tracks.duration_s, channels=channels,
                  meta=dict(tracks.meta, resampled_from_fps=tracks.fps))
