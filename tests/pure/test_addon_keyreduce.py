"""Key reduction: the documented bound holds, extrema are kept exactly, and it is sparse."""

from __future__ import annotations

import numpy as np
import pytest

from blender_addon.animation import keyreduce


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 30.0
    raw = 0.5 + 0.45 * np.sin(t * 9.0) * np.sin(t * 1.7) + 0.03 * rng.standard_normal(n)
    kernel = np.exp(-0.5 * (np.arange(-4, 5) / 1.5) ** 2)
    return np.clip(np.convolve(raw, kernel / kernel.sum(), mode="same"), 0, 1).astype(np.float32)


@pytest.mark.parametrize("tolerance", [0.002, 0.01, 0.05])
def test_error_bound_holds_at_every_sample(tolerance: float) -> None:
    values = _speechlike(3000)
    keys = keyreduce.reduce_keys(values, tolerance)
    err = np.abs(keyreduce.evaluate(keys, np.arange(values.size)) - values)
    assert err.max() <= tolerance + 1e-6
    assert keys.x[0] == 0 and keys.x[-1] == values.size - 1
    assert np.all(np.diff(keys.x) > 0)


def test_reduction_is_sparse_for_smooth_tracks() -> None:
    values = _speechlike(9000)
    keys = keyreduce.reduce_keys(values, 0.01)
    assert keys.x.size < 0.35 * values.size, keys.x.size


def test_peaks_and_closures_are_kept_exactly_with_flat_tangents() -> None:
    # a mouth that opens, closes (held for 3 frames at exactly 0), opens, with a tiny wiggle that is no peak
    values = np.array([0.0, 0.2, 0.6, 0.9, 0.6, 0.2, 0.0, 0.0, 0.0, 0.3, 0.8, 0.95, 0.7, 0.702, 0.4, 0.1],
                      np.float32)
    keys = keyreduce.reduce_keys(values, 0.01)
    kx = keys.x.astype(int).tolist()
    for peak in (3, 11):
        assert peak in kx
        i = kx.index(peak)
        assert keys.y[i] == values[peak] and keys.slope[i] == 0.0
    for closed in (6, 8):  # both ends of the held closure
        assert closed in kx and keys.y[kx.index(closed)] == 0.0 and keys.slope[kx.index(closed)] == 0.0
    dense = keyreduce.evaluate(keys, np.linspace(6, 8, 41))
    assert np.all(np.abs(dense) < 1e-9), "the closure must not lift between its keys"


def test_turning_points_ignore_wiggles_below_the_swing() -> None:
    values = np.array([0, 1, 0.99, 1, 0, 0.005, 0, 1], np.float64)
    # one maximum (the 0.01 dip between 1 and 3 is no trough) and one minimum (the 0.005 bump is no peak);
    # among equal extremes the latest is kept
    assert keyreduce.turning_points(values, 0.02).tolist() == [3, 6]


def test_bezier_handles_sit_a_third_of_the_way_along_the_tangent() -> None:
    keys = keyreduce.reduce_keys(_speechlike(300), 0.01)
    co, left, right = keyreduce.bezier_handles(keys, frame_start=10.0)
    assert co.shape == left.shape == right.shape == (keys.x.size, 2)
    np.testing.assert_allclose(co[:, 0], keys.x + 10.0)
    gaps = np.diff(co[:, 0])
    np.testing.assert_allclose(right[:-1, 0] - co[:-1, 0], gaps / 3, atol=1e-4)
    np.testing.assert_allclose(co[1:, 0] - left[1:, 0], gaps / 3, atol=1e-4)
    np.testing.assert_allclose(right[:, 1] - co[:, 1], keys.slope * (right[:, 0] - co[:, 0]), atol=1e-5)


def test_constant_and_tiny_tracks() -> None:
    keys = keyreduce.reduce_keys(np.full(500, 0.25, np.float32))
    assert keys.x.tolist() == [0.0, 499.0]
    one = keyreduce.reduce_keys(np.array([0.5], np.float32))
    assert one.x.tolist() == [0.0]
    with pytest.raises(ValueError):
        keyreduce.reduce_keys(np.zeros(0, np.float32))
    with pytest.raises(ValueError):
        keyreduce.reduce_keys(np.zeros(5, np.float32), tolerance=0.0)
