"""Quality summary of a generated track set: estimated lag, lip closures, jitter.

Pure module (numpy only). Shown in the panel after each generation so a user can tell at a glance
whether the animation is in sync, whether the lips close, and whether the mouth is jittery.

Definitions (all on the tracks at the scene's frame rate):

- **Mouth openness** ``o = max(AU25, AU26, AU27)`` per frame; the mouth is **closed** at a frame when
  ``o < CLOSED_BELOW`` or a closure AU (``au_contract.CLOSURE_AUS``) is at least ``PRESSED_ABOVE``.
- **Lip closure**: a run of closed frames with open frames on both sides and at most
  ``MAX_CLOSURE_S`` long (a longer run is a pause, not a consonant).
- **Lag**: the shift (frames, then ms) that maximises the correlation between the audio's RMS envelope
  and the mouth openness, searched within ±``MAX_LAG_S``; positive means the mouth moves after the sound.
- **Jitter**: RMS of the second difference of each mouth-zone channel, averaged over those channels
  (AU per frame²); smooth speech motion stays well under 0.02, visible chatter is above ~0.05.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from au_contract import AU_CODES, CLOSURE_AUS, zone_of

CLOSED_BELOW = 0.15
PRESSED_ABOVE = 0.5
MAX_CLOSURE_S = 0.5
MAX_LAG_S = 0.3
JITTER_VISIBLE = 0.05


@dataclass(frozen=True)
class Quality:
    """The panel's quality summary.

    Attributes:
        lag_ms: estimated lag of the mouth behind the sound in ms (None without audio samples).
        lag_correlation: correlation at that lag in [-1, 1] (None without audio).
        closures: number of lip closures.
        jitter: mean RMS second difference of the mouth channels (AU / frame²).
    """

    lag_ms: float | None
    lag_correlation: float | None
    closures: int
    jitter: float

    def summary(self) -> str:
        """One line for the panel and the operator's report."""
        lag = "lag n/a" if self.lag_ms is None else f"lag {self.lag_ms:+.0f} ms"
        shaky = " (jittery)" if self.jitter > JITTER_VISIBLE else ""
        return f"{lag}, {self.closures} lip closures, jitter {self.jitter:.3f}{shaky}"


def mouth_openness(channels: dict[str, np.ndarray]) -> np.ndarray:
    """Return ``max(AU25, AU26, AU27)`` per frame, float64 [F]."""
    return np.maximum.reduce([np.asarray(channels[c], np.float64) for c in ("AU25", "AU26", "AU27")])


def closed_mask(channels: dict[str, np.ndarray]) -> np.ndarray:
    """Return a bool [F] mask of frames where the lips are closed (see the module docstring)."""
    pressed = np.maximum.reduce([np.asarray(channels[c], np.float64) for c in CLOSURE_AUS])
    return (mouth_openness(channels) < CLOSED_BELOW) | (pressed >= PRESSED_ABOVE)


def closure_runs(closed: np.ndarray, fps: float, max_closure_s: float = MAX_CLOSURE_S,
                 ) -> list[tuple[int, int]]:
    """Return the lip closures as inclusive frame ranges ``(first, last)`` of a closed mask [F]."""
    c = np.asarray(closed, bool)
    if c.size < 3:
        return []
    edges = np.diff(c.astype(np.int8))
    starts = np.flatnonzero(edges == 1) + 1
    ends = np.flatnonzero(edges == -1)
    runs: list[tuple[int, int]] = []
    max_len = max(1, round(max_closure_s * fps))
    for s in starts:
        after = ends[ends >= s]
        if after.size == 0:
            break  # closed until the end: not bounded by open frames
        e = int(after[0])
        if e - s + 1 <= max_len:
            runs.append((int(s), e))
    return runs


def audio_envelope(samples: np.ndarray, sample_rate: int, fps: float, frame_count: int) -> np.ndarray:
    """Return the RMS envelope of mono ``samples`` [S] at ``fps``: float64 [frame_count].

    Frame ``i`` covers the audio from ``i / fps`` to ``(i + 1) / fps`` seconds; frames past the end are 0.
    """
    x = np.asarray(samples, np.float64).reshape(-1)
    out = np.zeros(frame_count, np.float64)
    bounds = np.round(np.arange(frame_count + 1) / fps * sample_rate).astype(np.int64)
    bounds = np.clip(bounds, 0, x.size)
    csum = np.concatenate(([0.0], np.cumsum(x * x)))
    counts = np.diff(bounds)
    energy = csum[bounds[1:]] - csum[bounds[:-1]]
    ok = counts > 0
    out[ok] = np.sqrt(energy[ok] / counts[ok])
    return out


def estimate_lag(envelope: np.ndarray, openness: np.ndarray, fps: float,
                 max_lag_s: float = MAX_LAG_S) -> tuple[float, float]:
    """Return (lag in ms, correlation) between an audio envelope [F] and mouth openness [F].

    Positive lag: the mouth follows the sound by that much.
    """
    n = min(envelope.size, openness.size)
    a = np.asarray(envelope[:n], np.float64)
    b = np.asarray(openness[:n], np.float64)
    a = (a - a.mean()) / (a.std() + 1e-12)
    b = (b - b.mean()) / (b.std() + 1e-12)
    max_lag = max(1, round(max_lag_s * fps))
    best, best_r = 0, -2.0
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            x, y = a[: n - lag], b[lag:]
        else:
            x, y = a[-lag:], b[: n + lag]
        if x.size < 2:
            continue
        r = float(np.mean(x * y))
        if r > best_r:
            best, best_r = lag, r
    return best * 1000.0 / fps, best_r


def jitter(channels: dict[str, np.ndarray]) -> float:
    """Return the mean RMS second difference of the mouth-zone channels (AU / frame²)."""
    values = [np.asarray(channels[c], np.float64) for c in AU_CODES if zone_of(c) == "M" and c in channels]
    rms = [float(np.sqrt(np.mean(np.diff(v, 2) ** 2))) for v in values if v.size >= 3]
    return float(np.mean(rms)) if rms else 0.0


def assess(channels: dict[str, np.ndarray], fps: float, envelope: np.ndarray | None = None) -> Quality:
    """Compute the :class:`Quality` summary of AU ``channels`` (code -> [F]) at ``fps``.

    Args:
        channels: every AU of the contract, one value per frame.
        fps: frame rate of the channels.
        envelope: the audio's RMS envelope at ``fps`` (:func:`audio_envelope`), or None.
    """
    runs = closure_runs(closed_mask(channels), fps)
    lag_ms = corr = None
    if envelope is not None and envelope.size >= 3 and float(np.std(envelope)) > 0:
        lag_ms, corr = estimate_lag(envelope, mouth_openness(channels), fps)
    return Quality(lag_ms=lag_ms, lag_correlation=corr, closures=len(runs), jitter=jitter(channels))
