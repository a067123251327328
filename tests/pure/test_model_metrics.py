"""Evaluation metrics behave as defined (so the printed verdicts can be trusted)."""

from __future__ import annotations

import numpy as np

from model_training import metrics as m


def test_closure_hits_use_the_20ms_tolerance() -> None:
    au25 = np.full(100, 0.6)
    au25[52] = 0.05  # closed 20 ms after a bilabial that ends at 0.50 s
    assert m.closure_hits(au25, [(0.40, 0.50)]) == [True]
    assert m.closure_hits(au25, [(0.20, 0.30)]) == [False]


def test_lag_finds_a_known_shift() -> None:
    rng = np.random.default_rng(0)
    target = np.convolve(rng.random(400), np.ones(9) / 9, mode="same")
    late = np.roll(target, 3)
    assert m.lag_ms(late, target) == 30.0
    assert m.lag_ms(target, target) == 0.0
    assert m.pearson(target, target) == 1.0


def test_head_cuts_noise_jerk_and_resampled_jerk() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.25, (3000, 2))
    offsets = np.arange(-5, 6)
    taps = np.exp(-0.5 * (offsets / 1.8) ** 2)
    taps = np.tile(taps / taps.sum(), (2, 1))
    assert m.jerk(m.apply_head(noise, taps)) < 0.4 * m.jerk(noise)
    identity = np.zeros((2, 11))
    identity[:, 5] = 1.0
    np.testing.assert_allclose(m.apply_head(noise, identity), noise)
    ramp = np.linspace(0, 1, 300)[:, None]
    assert m.jerk(ramp) < 1e-9  # a straight line has no jerk


def test_rest_counts_only_long_pauses() -> None:
    au = np.zeros(200)
    au[120:140] = 0.5  # mouth open inside the long pause
    ok, total = m.rest_frames(au, au, ["_", "a", "_"], np.array([0.0, 0.5, 1.0]), np.array([0.5, 1.0, 2.0]))
    assert total == (44 - 6) + (194 - 106)
    assert ok == total - 20
