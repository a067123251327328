"""Quality summary: closures are counted, the lag is found, jitter separates smooth from shaky."""

from __future__ import annotations

import numpy as np

from au_contract import AU_CODES
from blender_addon.animation import quality


def _channels(n: int) -> dict[str, np.ndarray]:
    return {c: np.zeros(n, np.float64) for c in AU_CODES}


def test_closures_are_short_closed_runs_between_open_frames() -> None:
    ch = _channels(120)
    ch["AU25"][:] = 0.7
    ch["AU25"][20:23] = 0.0  # a bilabial
    ch["AU25"][50:52] = 0.05  # another
    ch["AU24"][80:83] = 0.9  # pressed lips count as closed even with AU25 high
    ch["AU25"][100:] = 0.0  # a pause to the end: not a closure
    runs = quality.closure_runs(quality.closed_mask(ch), 30.0)
    assert runs == [(20, 22), (50, 51), (80, 82)]
    ch["AU25"][20:40] = 0.0  # 20 frames = 0.67 s: a pause, not a consonant
    assert (20, 39) not in quality.closure_runs(quality.closed_mask(ch), 30.0)


def test_lag_is_recovered_from_a_shifted_envelope() -> None:
    rng = np.random.default_rng(3)
    fps = 30.0
    env = np.convolve(rng.random(300), np.ones(4) / 4, mode="same")
    mouth = np.roll(env, 3)  # the mouth follows the sound by 3 frames = 100 ms
    lag_ms, r = quality.estimate_lag(env, mouth, fps)
    assert lag_ms == 100.0 and r > 0.9


def test_audio_envelope_is_rms_per_frame() -> None:
    sr, fps = 16000, 25.0
    x = np.concatenate([np.zeros(sr // 2), 0.5 * np.ones(sr // 2)])
    env = quality.audio_envelope(x, sr, fps, 30)
    assert env[:12].max() == 0.0 and np.allclose(env[13:25], 0.5) and np.all(env[25:] == 0.0)


def test_jitter_and_summary() -> None:
    n = 300
    smooth = _channels(n)
    smooth["AU26"] = 0.5 + 0.4 * np.sin(np.arange(n) / 6.0)
    shaky = _channels(n)
    shaky["AU26"] = smooth["AU26"] + 0.08 * (np.arange(n) % 2)
    assert quality.jitter(smooth) < 0.005 < quality.JITTER_VISIBLE < quality.jitter(shaky) * 14
    q = quality.assess(shaky, 30.0, envelope=None)
    assert q.lag_ms is None and "lag n/a" in q.summary() and "lip closures" in q.summary()
