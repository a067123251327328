"""Small 1-D filters in numpy (pure): the moving maximum and the Gaussian smoothing the server needs.

They reproduce ``scipy.ndimage.maximum_filter1d`` and ``gaussian_filter1d`` for the modes the server
uses (``"nearest"``: edge values repeat; ``"constant"``: zeros outside), so the server runtime needs no
scipy (inside Blender only numpy comes free). ``tests/pure/test_features_numpy.py`` checks them against
scipy. Both cost ``O(T * taps)``, one vectorised pass per tap: the server's windows are short (under 60
taps at 100 Hz).
"""

from __future__ import annotations

import math

import numpy as np

_MODES = {"nearest": "edge", "constant": "constant"}


def _padded(values: np.ndarray, before: int, after: int, mode: str, axis: int) -> np.ndarray:
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
    pad = [(0, 0)] * values.ndim
    pad[axis] = (before, after)
    return np.pad(values, pad, mode=_MODES[mode])  # type: ignore[call-overload]


def moving_max(values: np.ndarray, size: int, mode: str = "constant", axis: int = 0) -> np.ndarray:
    """Running maximum over a centred window of ``size`` samples along ``axis``.

    Args:
        values: array of any shape (float).
        size: window length in samples (>= 1); an even size looks one sample further back, as scipy.
        mode: ``"constant"`` (zeros outside the array) or ``"nearest"`` (edge values repeat).
        axis: the axis to filter along.

    Returns:
        Array of the same shape and dtype.
    """
    values = np.asarray(values)
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    n = values.shape[axis]
    if n == 0 or size == 1:
        return values.copy()
    before = size // 2
    padded = np.moveaxis(_padded(values, before, size - 1 - before, mode, axis), axis, 0)
    out = padded[:n].copy()
    for shift in range(1, size):
        np.maximum(out, padded[shift:shift + n], out=out)
    return np.moveaxis(out, 0, axis)


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Normalised Gaussian taps [2 r + 1], ``r = int(truncate * sigma + 0.5)`` (float64)."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (x / float(sigma)) ** 2)
    return taps / taps.sum()


def gaussian_smooth1d(values: np.ndarray, sigma: float, axis: int = 0, mode: str = "nearest",
                      truncate: float = 4.0) -> np.ndarray:
    """Gaussian filter along ``axis`` (sigma in samples), accumulated in float64.

    Args:
        values: float array of any shape.
        sigma: standard deviation in samples (> 0).
        axis: the axis to filter along.
        mode: ``"nearest"`` (edge values repeat) or ``"constant"`` (zeros outside).
        truncate: the kernel reaches ``truncate`` sigmas on each side.

    Returns:
        Array of the same shape and dtype as ``values``.
    """
    values = np.asarray(values)
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number of samples, got {sigma!r}")
    n = values.shape[axis]
    if n == 0:
        return values.copy()
    taps = gaussian_kernel(sigma, truncate)
    radius = (taps.size - 1) // 2
    padded = np.moveaxis(_padded(values.astype(np.float64), radius, radius, mode, axis), axis, 0)
    out = np.zeros(padded[:n].shape, np.float64)
    for j, weight in enumerate(taps):
        out += weight * padded[j:j + n]
    return np.moveaxis(out, 0, axis).astype(values.dtype, copy=False)


def _box_mean(values: np.ndarray, size: int) -> np.ndarray:
    """Centred running mean of a 1-D float64 array over an odd ``size``, the ends mirrored (cumulative sums:
    one pass, whatever the window)."""
    half = size // 2
    padded = np.pad(values, half + 1, mode="reflect")
    sums = np.cumsum(padded)
    return (sums[size:size + values.size] - sums[:values.size]) / size


#: Length of :func:`remove_dc`'s two running means (s): its smoother's first null is near 10 Hz, and
#: everything from 25 Hz up (below any voice's pitch) passes within 5 %.
DC_WINDOW_S = 0.09


def remove_dc(samples: np.ndarray, sample_rate: int, window_s: float = DC_WINDOW_S) -> np.ndarray:
    """A recording's DC offset (and any slow drift) taken out: ``x`` minus its 10 ms block means smoothed by
    two centred running means of ``window_s`` (a triangular window, zero phase: no delay).

    Cheap microphones, old sound cards and some telephone prompts carry an offset of several percent of
    full scale; an offset of -23 dBFS raises every frame's level to at least -23 dB, so the level-based
    speech gates see no silence and no speech and the face stays still (issue 11: a quarter of the
    real-speech development set's French and Italian recordings). The block means keep the cost at a few
    milliseconds per minute of audio.

    Args:
        samples: [N] mono audio (float).
        sample_rate: its rate (Hz).
        window_s: length of each running mean (s).

    Returns:
        [N] float32.
    """
    x = np.asarray(samples, np.float32).reshape(-1)
    hop = max(1, sample_rate // 100)
    if x.size == 0:
        return x.copy()
    full = x.size // hop
    means = x[:full * hop].reshape(full, hop).mean(axis=1, dtype=np.float64)
    if x.size > full * hop:
        means = np.append(means, x[full * hop:].mean(dtype=np.float64))
    size = 2 * (max(1, round(window_s * 100)) // 2) + 1
    if means.size <= size:  # too short to tell an offset from the signal: the mean alone
        return (x - np.float32(means.mean())).astype(np.float32)
    offset = _box_mean(_box_mean(means, size), size).astype(np.float32)
    return x - np.repeat(offset, hop)[:x.size]
