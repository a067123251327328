"""Dynamic time warping of a recording against a reference in numpy: features, path, boundary transfer.

The building blocks of transcript alignment (:mod:`model_server.transcript_align` for the server's
dialog mode; ``model_training.forced_align``, the training-side aligner, uses the boundary helpers with
its own features and librosa's DTW):

* :func:`features`: speaker-normalised cepstra at 100 frames/s: MFCC c1-c12 below 3.8 kHz with
  per-utterance mean/variance normalisation (CMVN), deltas and a normalised log-energy channel (silence
  against speech), from the acoustic model's own log-mel frames (so dialog mode computes one spectrum per
  signal);
* :func:`dtw_path`: DTW, optionally within a band around an expected line (time and memory ~ length x
  band), one numpy step per reference frame;
* :func:`transfer`: reference boundaries moved through the path; :func:`contiguous`: a clean segmentation.

Everything here is numpy, so the server runtime needs no librosa or scipy. Pure module.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np

from .features import N_MELS, SAMPLE_RATE, log_mel, mel_edges_hz
from .prosody import speech_floor

FRAME_RATE_HZ = 100
PAUSE = "_"
_HOP = SAMPLE_RATE // FRAME_RATE_HZ
#: Cepstra come from the log-mel bands whose upper edge is at most this (Hz): the speech formants.
_CEPSTRA_MAX_HZ = 3800.0
_N_MFCC = 13
_SPEECH_DB = -35.0  # frames within this of the loudest (p99) frame count as speech (rate matching)
_MIN_SPEECH_RUN = 5  # frames: with a noise floor given, shorter loud runs are clicks, not speech


@lru_cache(maxsize=1)
def _dct_basis() -> tuple[int, np.ndarray]:
    """(B, orthonormal DCT-II rows c1..c12 over the first B log-mel bands [B, 12]): B = the bands of
    :func:`model_server.features.log_mel` that end below ``_CEPSTRA_MAX_HZ`` (49 of 64)."""
    edges = mel_edges_hz()
    bands = int((edges[2:] <= _CEPSTRA_MAX_HZ).sum())
    n = np.arange(bands)
    k = np.arange(_N_MFCC)[:, None]
    dct = np.sqrt(2.0 / bands) * np.cos(np.pi * k * (2 * n + 1) / (2 * bands))  # [13, B]
    return bands, np.ascontiguousarray(dct[1:].T)


def _log_energy(audio: np.ndarray, n: int) -> np.ndarray:
    """[n] mean power (dB) of 400-sample windows centred on samples ``k * 160`` (zeros beyond the ends),
    from one running sum of the squared samples (differences of it, clamped at 0 against rounding)."""
    x = audio.astype(np.float64)
    total = np.concatenate([[0.0], np.cumsum(x * x)])  # total[k] = sum of the first k squares
    centre = np.arange(n) * _HOP
    lo = np.clip(centre - 200, 0, len(x))
    hi = np.clip(centre + 200, 0, len(x))
    return 10.0 * np.log10(np.maximum(total[hi] - total[lo], 0.0) / 400.0 + 1e-10)


def features(audio: np.ndarray, mel: np.ndarray | None = None) -> np.ndarray:
    """Speaker-normalised features of 16 kHz audio: [T, 25] (MFCC c1-c12 with CMVN, deltas, log energy).

    The cepstra are the DCT of the acoustic model's own log-mel frames (:func:`model_server.features.log_mel`)
    below 3.8 kHz, and the energy channel their summed power, so a caller that has run the model passes
    its frames as ``mel`` and no second spectrum is computed. ``T = 1 + len(audio) // 160`` (centred
    frames; a missing last frame repeats the one before).

    Args:
        audio: [N] mono 16 kHz samples.
        mel: ``log_mel(audio)`` ([ceil(N / 160), N_MELS]) when the caller has it.
    """
    t = 1 + len(audio) // _HOP
    mel = log_mel(audio) if mel is None else mel
    db = np.zeros((t, N_MELS)) if not len(mel) else 20.0 * mel[np.minimum(np.arange(t), len(mel) - 1)]
    bands, dct = _dct_basis()
    mfcc = db[:, :bands] @ dct  # [T, 12]
    mfcc = (mfcc - mfcc.mean(axis=0)) / (mfcc.std(axis=0) + 1e-6)
    edge = np.pad(mfcc, ((2, 2), (0, 0)), mode="edge")
    delta = (edge[3:-1] - edge[1:-3] + 2.0 * (edge[4:] - edge[:-4])) / 10.0  # regression over +-2 frames
    energy = 10.0 * np.log10(np.power(10.0, db / 10.0).sum(axis=1) + 1e-10)
    energy = (energy - energy.max()) / 20.0  # 0 at the loudest frame, -1 per 20 dB below
    return np.concatenate([mfcc, 0.5 * delta, 2.0 * energy[:, None]], axis=1).astype(np.float32)


def speech_span_s(audio: np.ndarray, above_floor_db: float | None = None) -> tuple[float, float]:
    """(first, last) time of frames within 35 dB of the loudest ones (the speech span), seconds.

    ``above_floor_db``: frames must also lie this far above the recording's noise floor (the mean level of
    its quietest 100 ms), and runs of such frames shorter than 50 ms (a click, a codec's start-up) do not
    count. A telephone prompt whose hiss sits 35 dB under its peak, or that starts with a click, would
    otherwise count as speech from end to end."""
    n = max(1, len(audio) // _HOP)
    e = _log_energy(audio, n)
    threshold = float(np.percentile(e, 99)) + _SPEECH_DB
    if above_floor_db is None:
        loud = np.flatnonzero(e > threshold)
    else:
        floor = speech_floor(e, float("inf"))  # the quietest 100 ms, as the speech flag measures it
        loud = _long_runs(e > max(threshold, floor + above_floor_db), _MIN_SPEECH_RUN)
    if not len(loud):
        return 0.0, len(audio) / SAMPLE_RATE
    return loud[0] / FRAME_RATE_HZ, (loud[-1] + 1) / FRAME_RATE_HZ


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[a, b)`` of each run of True in ``mask`` [n], in order."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(mask, np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _long_runs(mask: np.ndarray, min_len: int) -> np.ndarray:
    """Indices of the True frames of ``mask`` [n] that lie in runs of at least ``min_len`` (all of them
    when no run is that long)."""
    keep = [np.arange(a, b) for a, b in runs(mask) if b - a >= min_len]
    return np.concatenate(keep) if keep else np.flatnonzero(mask)


def band_centre(n_ref: int, n_real: int, knots: list[tuple[float, float]] | None = None) -> np.ndarray:
    """[n_ref] the real frame expected for each reference frame: piecewise linear through (0, 0), the
    ``knots`` ((ref frame, real frame), e.g. the two speech spans' edges) and (n_ref - 1, n_real - 1)."""
    pts = [(0.0, 0.0), *sorted(knots or []), (float(n_ref - 1), float(n_real - 1))]
    xs = np.maximum.accumulate(np.clip([p[0] for p in pts], 0, max(n_ref - 1, 0)))
    ys = np.maximum.accumulate(np.clip([p[1] for p in pts], 0, max(n_real - 1, 0)))
    return np.interp(np.arange(n_ref, dtype=np.float64), xs, ys)


def _windows(centre: np.ndarray, half_width: int, n_real: int, top: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Per reference row the real frames [lo, hi) it may pair with: the band around ``centre`` (from
    ``centre - half_width`` to ``top + half_width`` when ``top`` is given), each window overlapping the
    previous one so a path can always continue."""
    top = centre if top is None else top
    lo = np.clip(np.floor(centre - half_width).astype(np.int64), 0, n_real - 1)
    hi = np.clip(np.ceil(top + half_width).astype(np.int64) + 1, 1, n_real)
    lo[0], hi[-1] = 0, n_real
    lo = np.maximum.accumulate(lo)
    hi = np.maximum.accumulate(hi)
    lo[1:] = np.minimum(lo[1:], hi[:-1] - 1)
    return lo, hi


def dtw_path(ref: np.ndarray, real: np.ndarray, half_width: int | None = None,
             centre: np.ndarray | None = None, top: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """DTW of [R, D] against [X, D]: Euclidean frame distance, steps (1,1) free, (1,0) and (0,1) + 0.5.

    Only pairs within ``half_width`` frames of ``centre`` ([R] real frame per reference frame, default the
    straight line between the corners) are considered (a Sakoe-Chiba band; None = no band), so time and
    memory grow with R x band. With ``top`` ([R], >= ``centre``) row i's band runs from ``centre[i] -
    half_width`` to ``top[i] + half_width`` (a coarser path's span per row). Each reference row is one
    numpy step: the horizontal moves inside a row are a running minimum (``acc[j] = S[j] + j/2 +
    min_k<=j (m[k] - S[k-1] - k/2)``, ``S`` the row's cumulative cost, ``m`` the best entry from the row
    before). Everything that does not depend on the row before (the band's distances, their cumulative
    sums) is computed for :data:`_CHUNK` rows at once, as wide as the widest band among them, so a row
    costs a handful of numpy calls on views, and one wide row (a long pause only one signal has, in a
    coarse-to-fine search) widens its own chunk, not every row's arrays.

    Returns:
        ([P, 2] path of (ref frame, real frame) from the start, mean distance along the path).
    """
    n_ref, n_real = len(ref), len(real)
    centre = band_centre(n_ref, n_real) if centre is None else centre
    lo, hi = _windows(centre, n_real if half_width is None else half_width, n_real, top)
    widths = hi - lo
    offsets = np.concatenate([[0], np.cumsum(widths)])  # row i's cells: offsets[i] + (j - lo[i])
    steps = np.zeros(int(offsets[-1]), np.int8)  # 0 diagonal, 1 up (from (i-1, j)), 2 left (from (i, j-1))
    # acc_prev[1 + j]: the previous row's accumulated cost at real frame j (inf outside its band); index 0
    # is frame -1, the start's virtual predecessor (0 for the first row, inf after)
    acc_prev = np.full(n_real + int(widths.max()) + 2, np.inf)
    acc_prev[0] = 0.0
    less, minimum, subtract, add = np.less, np.minimum, np.subtract, np.add  # local names: cheaper lookups
    running_min = np.minimum.accumulate
    previous = (-1, 0)  # the band [lo, hi) of the row before (frame -1 for the first row)
    for c0, dist in _band_chunks(ref, real, lo, hi):  # [c, W] each, _FAR outside the band
        c1 = c0 + len(dist)
        width = dist.shape[1]
        half_cols = 0.5 * (lo[c0:c1, None] + np.arange(width))
        csum = np.cumsum(dist, axis=1)
        into = csum - dist + half_cols  # g = m - into: the running minimum's argument
        out_of = csum + half_cols  # acc = best + out_of
        from_up = np.zeros((c1 - c0, width), bool)  # the step into (i, j): from (i-1, j) rather than diagonal
        from_left = np.zeros((c1 - c0, width), bool)  # from (i, j-1), overriding both
        up, g, best = np.empty(width), np.empty(width), np.empty(width)
        # ufuncs into preallocated rows: no allocation inside the loop
        for a, b, into_i, out_i, up_i, left_i in zip(lo[c0:c1].tolist(), hi[c0:c1].tolist(), into, out_of,
                                                     from_up, from_left, strict=True):
            diag = acc_prev[a:a + width]
            add(acc_prev[a + 1:a + 1 + width], 0.5, out=up)
            less(up, diag, out=up_i)
            minimum(diag, up, out=g)
            subtract(g, into_i, out=g)
            running_min(g, out=best)
            less(best, g, out=left_i)
            acc_prev[previous[0] + 1:previous[1] + 1] = np.inf
            previous = (a, b)
            valid = b - a
            add(best[:valid], out_i[:valid], out=acc_prev[a + 1:a + 1 + valid])
        inside = np.arange(width) < widths[c0:c1, None]
        steps[offsets[c0]:offsets[c1]] = np.where(from_left, np.int8(2), from_up.astype(np.int8))[inside]
    path = _backtrack(steps, offsets, lo, n_real)
    return path, path_cost(ref, real, path)


_FAR = 1e30  # the distance of pairs outside the band: finite, so cumulative sums never make inf - inf
_CHUNK = 64  # reference rows whose band distances are one matrix product


def _band_chunks(ref: np.ndarray, real: np.ndarray, lo: np.ndarray, hi: np.ndarray
                 ) -> Iterator[tuple[int, np.ndarray]]:
    """Per :data:`_CHUNK` reference rows from ``c0``: (c0, [c, W] float64) where row i holds the distances
    of reference frame c0 + i to real frames lo + k (k < hi - lo) and ``_FAR`` after them, W the chunk's
    widest band; one matrix product over the chunk's column span."""
    ref64, real64 = ref.astype(np.float64), real.astype(np.float64)
    real_sq = (real64 ** 2).sum(1)
    for c0 in range(0, len(ref64), _CHUNK):
        c1 = min(c0 + _CHUNK, len(ref64))
        a, b = int(lo[c0]), int(hi[c1 - 1])
        widths = hi[c0:c1] - lo[c0:c1]
        width = int(widths.max())
        block = ref64[c0:c1]
        sq = (block ** 2).sum(1)[:, None] + real_sq[None, a:b] - 2.0 * block @ real64[a:b].T  # [c, b - a]
        dist = np.sqrt(np.maximum(sq, 0.0))
        k = np.arange(width)
        cols = lo[c0:c1, None] - a + k  # [c, width]
        inside = k < widths[:, None]
        out = np.full((c1 - c0, width), _FAR)
        out[inside] = np.take_along_axis(dist, np.minimum(cols, b - a - 1), axis=1)[inside]
        yield c0, out


def _backtrack(steps: np.ndarray, offsets: np.ndarray, lo: np.ndarray, n_real: int) -> np.ndarray:
    """[P, 2] path from (0, 0) to (R - 1, X - 1) following the stored steps (row i's at ``offsets[i]``)."""
    flat = np.ascontiguousarray(steps, dtype=np.int8).tobytes()  # bytes index fast from Python
    starts, first = lo.tolist(), offsets.tolist()
    i, j = len(lo) - 1, n_real - 1
    rows, cols = [i], [j]
    while i > 0 or j > 0:
        k = flat[first[i] + j - starts[i]]
        if k != 2:
            i -= 1
        if k != 1:
            j -= 1
        rows.append(i)
        cols.append(j)
    return np.stack([np.array(rows[::-1], np.int64), np.array(cols[::-1], np.int64)], axis=1)


def path_cost(ref: np.ndarray, real: np.ndarray, path: np.ndarray) -> float:
    """Mean Euclidean distance between the frames a path pairs ([R, D], [X, D], [P, 2])."""
    return float(np.linalg.norm(ref[path[:, 0]] - real[path[:, 1]], axis=1).mean())


def transfer(times_s: np.ndarray, path: np.ndarray, frame_rate_hz: float = FRAME_RATE_HZ) -> np.ndarray:
    """Move reference times through a DTW path of frames at ``frame_rate_hz``. A boundary at reference
    frame k (between frames k-1 and k) goes halfway between the end of the real frames paired with k-1
    and the start of those paired with k. [B] seconds -> [B] seconds, non-decreasing."""
    n_ref = int(path[:, 0].max()) + 1
    lo = np.full(n_ref, np.inf)
    hi = np.full(n_ref, -np.inf)
    np.minimum.at(lo, path[:, 0], path[:, 1])
    np.maximum.at(hi, path[:, 0], path[:, 1])
    k = np.clip(np.round(times_s * frame_rate_hz).astype(int), 0, n_ref)
    start_k = np.where(k < n_ref, lo[np.minimum(k, n_ref - 1)], hi[-1] + 1)
    end_prev = np.where(k > 0, hi[np.maximum(k - 1, 0)] + 1, lo[0])
    return np.maximum.accumulate((start_k + end_prev) / 2.0 / frame_rate_hz)


def contiguous(phones: list[str], starts: np.ndarray, ends: np.ndarray, total: float
               ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Pauses at both edges, zero-length segments dropped, neighbouring pauses merged."""
    out: list[tuple[str, float, float]] = [(PAUSE, 0.0, float(starts[0]))]
    for p, a, b in zip(phones, starts, ends, strict=True):
        out.append((p, float(a), float(b)))
    out.append((PAUSE, float(ends[-1]), total))
    merged: list[list] = []
    for p, a, b in out:
        b = min(b, total)
        if b - a < 1e-6:
            continue
        if merged and p == PAUSE and merged[-1][0] == PAUSE:
            merged[-1][2] = b
            continue
        merged.append([p, a, b])
    return ([m[0] for m in merged], np.array([m[1] for m in merged]), np.array([m[2] for m in merged]))


__all__ = ["FRAME_RATE_HZ", "PAUSE", "band_centre", "contiguous", "dtw_path", "features", "path_cost", "runs",
           "speech_span_s", "transfer"]
