"""Evaluation metrics of predicted vs target AU tracks (pure numpy, 100 Hz inputs).

* closure recall: a bilabial counts as closed when predicted AU25 (Lips Part) drops to at most
  :data:`CLOSED_AU25` somewhere within +-20 ms of the phone;
* MAE per AU; jaw-opening (AU26) Pearson r; lag = the cross-correlation peak of the mean-removed AU26
  tracks within +-200 ms (positive = prediction late);
* AU-Jerk: mean |second difference| after linear resampling to 30 fps;
* smoothing-head noise test: jerk of ``head(raw + noise)`` vs ``raw + noise``;
* rest: the share of frames inside pauses of >= 250 ms (60 ms trimmed at both ends for the transition)
  where AU25 and AU26 are both <= 0.1.
"""

from __future__ import annotations

import numpy as np

FRAME_RATE_HZ = 100.0
CLOSED_AU25 = 0.15
CLOSURE_TOLERANCE_S = 0.02
REST_MAX = 0.1
MIN_PAUSE_S = 0.25
PAUSE_TRIM_S = 0.06


def closure_hits(au25: np.ndarray, windows: list[tuple[float, float]]) -> list[bool]:
    """Per bilabial window (start_s, end_s): whether predicted AU25 [T] reaches closure nearby."""
    hits = []
    for a, b in windows:
        lo = max(0, int(np.floor((a - CLOSURE_TOLERANCE_S) * FRAME_RATE_HZ)))
        hi = min(len(au25), int(np.ceil((b + CLOSURE_TOLERANCE_S) * FRAME_RATE_HZ)) + 1)
        hits.append(bool(hi > lo and au25[lo:hi].min() <= CLOSED_AU25))
    return hits


def resample(track: np.ndarray, fps: float = 30.0) -> np.ndarray:
    """Linear resampling of [T, ...] at 100 Hz to ``fps``."""
    t_in = np.arange(len(track)) / FRAME_RATE_HZ
    t_out = np.arange(0.0, t_in[-1] + 1e-9, 1.0 / fps) if len(track) else np.zeros(0)
    flat = track.reshape(len(track), -1)
    out = np.stack([np.interp(t_out, t_in, flat[:, i]) for i in range(flat.shape[1])], axis=1)
    return out.reshape((len(t_out), *track.shape[1:]))


def jerk(track: np.ndarray, fps: float = 30.0) -> float:
    """AU-Jerk: mean |second difference| of [T, A] (100 Hz) resampled to ``fps``."""
    r = resample(track, fps)
    if len(r) < 3:
        return 0.0
    return float(np.mean(np.abs(r[2:] - 2 * r[1:-1] + r[:-2])))


def apply_head(raw: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """The smoothing head in numpy: [T, A] raw, [A, K] taps -> [T, A] (edge-replicated FIR)."""
    radius = taps.shape[1] // 2
    padded = np.pad(raw, ((radius, radius), (0, 0)), mode="edge")
    out = np.zeros_like(raw)
    for k in range(taps.shape[1]):
        out += padded[k:k + len(raw)] * taps[:, k]
    return out


def lag_ms(pred: np.ndarray, target: np.ndarray, max_lag_frames: int = 20) -> float:
    """Lag (ms) at the peak of the cross-correlation of two [T] tracks (positive = ``pred`` late)."""
    p, t = pred - pred.mean(), target - target.mean()
    best, best_lag = -np.inf, 0
    for lag in range(-max_lag_frames, max_lag_frames + 1):
        if lag >= 0:
            c = float(np.dot(p[lag:], t[:len(t) - lag]))
        else:
            c = float(np.dot(p[:lag], t[-lag:]))
        if c > best:
            best, best_lag = c, lag
    return 1000.0 * best_lag / FRAME_RATE_HZ


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two [T] arrays (0 when either is constant)."""
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def rest_frames(au25: np.ndarray, au26: np.ndarray, phones: list[str], starts_s: np.ndarray,
                ends_s: np.ndarray) -> tuple[int, int]:
    """(frames at rest, frames checked) inside pauses of at least 250 ms."""
    ok = total = 0
    for p, a, b in zip(phones, starts_s, ends_s, strict=True):
        if p != "_" or b - a < MIN_PAUSE_S:
            continue
        lo = int(np.ceil((a + PAUSE_TRIM_S) * FRAME_RATE_HZ))
        hi = min(len(au25), int(np.floor((b - PAUSE_TRIM_S) * FRAME_RATE_HZ)))
        if hi <= lo:
            continue
        rest = (au25[lo:hi] <= REST_MAX) & (au26[lo:hi] <= REST_MAX)
        ok += int(rest.sum())
        total += hi - lo
    return ok, total
