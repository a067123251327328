"""Scene time for track sets: Blender's effective frame rate and resampling to it (pure: numpy only).

The au-tracks/1 reader itself is the contract's (``au_contract.tracks.read_tracks``, lenient mode for
what a server sends); this module only holds what the add-on adds on top: the scene's rate and the
resampling of a track set to it.
"""

from __future__ import annotations

import numpy as np

from au_contract.tracks import TrackSet


def scene_fps(fps: int, fps_base: float) -> float:
    """Return Blender's effective frame rate ``fps / fps_base`` (e.g. 30 / 1.001 = 29.97).

    Raises:
        ValueError: if either number is not positive.
    """
    if fps <= 0 or fps_base <= 0:
        raise ValueError(f"invalid scene frame rate {fps}/{fps_base}")
    return fps / fps_base


def resample(tracks: TrackSet, fps: float) -> TrackSet:
    """Return ``tracks`` resampled to ``fps`` by linear interpolation in time.

    Frame ``j`` of the result is at time ``j / fps``; the result covers ``duration_s``. A track set
    already at ``fps`` (to 1e-6 relative) is returned unchanged. Landmarks are not carried over (the add-on
    does not use them); ``meta["resampled_from_fps"]`` records the source rate.

    Raises:
        ValueError: if ``fps`` is not positive.
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
    return TrackSet(fps=fps, frame_count=count, duration_s=tracks.duration_s, channels=channels,
                    meta=dict(tracks.meta, resampled_from_fps=tracks.fps))
