"""Precise mode (pure numpy): the acoustic model hears each recording three ways and the outputs are averaged.

The model was trained on synthetic voices plus two real ones; on a voice it never heard, its closures and
rounding are less sure than on its training voices. Vocal-tract length is the largest difference between
speakers that a spectrum shows: every formant of a shorter tract sits higher by the same factor. Precise
mode lets the network hear the recording as it is and with every frequency scaled by ``0.9`` and
``1.1`` (vocal-tract length normalisation's warp, applied to the log-mel frames: each mel band reads the
band at its centre frequency times the factor, interpolated), and averages what it hears: AUs and raw AUs
arithmetically, phone-class logits too (the posteriors' normalised geometric mean). A voice the model
hears badly at its own length is often heard well at one of the other two; averaging keeps what the
views agree on. It costs one network pass per view (about twice the model stage's time, the predict
path 1.3-1.65x): an option (``RequestOptions.precise``), not the default, so the server keeps its speed
targets.

On the real-speech development set (docs/evaluation.md, "Session 17") precise mode deepens the closures
and removes false ones; averaged posteriors peak lower, so the closure stage's bilabial event threshold is
lower in precise mode (``model_server.closure.BILABIAL_EVENT_MIN_PRECISE``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .features import hz_to_mel, mel_edges_hz

#: Frequency factors of precise mode's views (1 = the recording as it is).
PRECISE_FACTORS: tuple[float, ...] = (1.0, 0.9, 1.1)
#: The default: one view, the recording as it is.
PLAIN_FACTORS: tuple[float, ...] = (1.0,)


@lru_cache(maxsize=8)
def _source_bins(factor: float, n_mels: int) -> np.ndarray:
    """[n_mels] fractional band index each band reads from: the band whose centre is ``factor`` x its own
    centre frequency (clipped to the filterbank's range)."""
    centres = hz_to_mel(mel_edges_hz(n_mels)[1:-1])  # mel, [M]
    source = hz_to_mel(mel_edges_hz(n_mels)[1:-1] * factor)
    out = np.interp(source, centres, np.arange(n_mels, dtype=np.float64))
    out.flags.writeable = False
    return out


def warped(mel: np.ndarray, factor: float) -> np.ndarray:
    """Log-mel frames [T, M] as a vocal tract ``1 / factor`` times as long would give them: band ``j``
    takes the (interpolated) value at ``factor`` times its centre frequency. ``factor`` 1 returns ``mel``.

    Raises:
        ValueError: a factor outside 0.5..2 or frames that are not [T, M].
    """
    if not 0.5 <= factor <= 2.0:
        raise ValueError(f"a view's frequency factor must be from 0.5 to 2, got {factor!r}")
    mel = np.asarray(mel, np.float32)
    if mel.ndim != 2:
        raise ValueError(f"log-mel frames must be [T, M], got shape {mel.shape}")
    if factor == 1.0 or mel.size == 0:
        return mel
    src = _source_bins(float(factor), mel.shape[1])
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, mel.shape[1] - 1)
    frac = (src - lo).astype(np.float32)
    return (mel[:, lo] * (1.0 - frac) + mel[:, hi] * frac).astype(np.float32)


def mean_or_none(parts: list[np.ndarray | None]) -> np.ndarray | None:
    """The element-wise mean of the views' arrays (None when the views have none)."""
    if not parts or any(p is None for p in parts):
        return None
    return np.mean(np.stack(parts), axis=0).astype(np.float32)  # type: ignore[arg-type]


__all__ = ["PLAIN_FACTORS", "PRECISE_FACTORS", "mean_or_none", "warped"]
