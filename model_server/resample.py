"""Resample 100 Hz AU tracks to a scene frame rate (any positive rate, 29.97 included) without aliasing.

Method: low-pass the 100 Hz tracks with a Gaussian whose response at the target Nyquist frequency
(fps / 2) is -20 dB (-26 dB at 1.1x Nyquist and falling fast: a component that would alias is gone),
then sample it at the frame times ``i / fps`` by linear interpolation. A Gaussian rather than a sharper
windowed sinc because animation curves must not ring: it never overshoots, so values stay in [0, 1]
and a blink never gets a negative lobe. Optional extra smoothing (0..1) widens the same Gaussian.
When fps >= 100 no anti-alias filter is needed and only the extra smoothing is applied.
"""

from __future__ import annotations

import math

import numpy as np

from au_contract.options import MAX_FPS, MIN_FPS

from .filters import gaussian_smooth1d

SOURCE_RATE = 100.0
#: Attenuation of the anti-alias filter at the target Nyquist frequency, in dB.
NYQUIST_ATTENUATION_DB = 20.0
#: Gaussian sigma (seconds) of the extra smoothing at ``smoothing = 1``.
MAX_EXTRA_SIGMA_S = 0.06


def frame_count(duration_s: float, fps: float) -> int:
    """Number of frames covering ``duration_s`` at ``fps``: ``max(1, round(duration * fps))``."""
    return max(1, math.floor(duration_s * fps + 0.5))


def antialias_sigma_s(fps: float, source_rate: float = SOURCE_RATE) -> float:
    """Gaussian sigma (s) whose gain at ``fps / 2`` is ``-NYQUIST_ATTENUATION_DB``; 0 when upsampling."""
    if fps >= source_rate:
        return 0.0
    nyquist = fps / 2.0
    # |H(f)| = exp(-2 pi^2 sigma^2 f^2) = 10^(-A/20)
    return math.sqrt(NYQUIST_ATTENUATION_DB / 20.0 * math.log(10.0) / 2.0) / (math.pi * nyquist)


def gaussian_smooth(values: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian filter along axis 0 with edge-value padding (no fade at the ends).

    Args:
        values: float32 [T, K].
        sigma_frames: sigma in frames; <= 0.05 returns the input unchanged.

    Returns:
        float32 [T, K].
    """
    if sigma_frames <= 0.05 or values.shape[0] < 2:
        return values
    return gaussian_smooth1d(values, sigma_frames, axis=0, mode="nearest", truncate=4.0).astype(np.float32)


def resample_tracks(values: np.ndarray, fps: float, n_frames: int, smoothing: float = 0.0,
                    source_rate: float = SOURCE_RATE) -> np.ndarray:
    """Resample tracks from ``source_rate`` to ``fps``.

    Args:
        values: float32 [T, K] at ``source_rate`` Hz, sample t at time ``t / source_rate``.
        fps: target frame rate (the contract's range, ``au_contract.options`` MIN_FPS..MAX_FPS), may be
            fractional.
        n_frames: number of output frames F; frame i is at time ``i / fps``.
        smoothing: extra smoothing strength in [0, 1].
        source_rate: rate of ``values`` in Hz.

    Returns:
        float32 [F, K]; values beyond the source's end hold its last value.

    Raises:
        ValueError: non-finite or non-positive fps, smoothing outside [0, 1].
    """
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise ValueError(f"fps must be a number from {MIN_FPS:g} to {MAX_FPS:g}, got {fps!r}")
    if not (math.isfinite(smoothing) and 0.0 <= smoothing <= 1.0):
        raise ValueError(f"smoothing must be between 0 and 1, got {smoothing!r}")
    if values.ndim != 2:
        raise ValueError(f"values must be [T, K], got shape {values.shape}")
    t_count, k = values.shape
    if t_count == 0:
        return np.zeros((n_frames, k), np.float32)
    sigma_s = math.hypot(antialias_sigma_s(fps, source_rate), smoothing * MAX_EXTRA_SIGMA_S)
    filtered = gaussian_smooth(values.astype(np.float32, copy=False), sigma_s * source_rate)
    positions = np.arange(n_frames, dtype=np.float64) * (source_rate / fps)  # [F] in source samples
    lo = np.clip(np.floor(positions).astype(np.int64), 0, t_count - 1)
    hi = np.minimum(lo + 1, t_count - 1)
    frac = np.clip(positions - lo, 0.0, 1.0).astype(np.float32)[:, None]
    out = filtered[lo] * (1.0 - frac) + filtered[hi] * frac
    return np.clip(out, 0.0, 1.0).astype(np.float32)
