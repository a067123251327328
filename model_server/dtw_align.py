"""Transcript alignment in numpy: DTW between a recording and an espeak-ng synthesis of its transcript.

espeak-ng speaks the transcript in the recording's language (:mod:`model_server.espeak`); its phone
boundaries are exact. Both signals become speaker-normalised cepstra at 100 frames/s, dynamic time
warping pairs their frames, and every espeak-ng boundary moves to the recording through the warping
path. As in the training aligner (``model_training.forced_align``, which uses these functions):

* the synthesis is made twice, the second time at the speaking rate that makes its speech as long as the
  recording's (DTW copes badly with rate ratios far from 1);
* features stop at 3.8 kHz, drop c0 and are normalised per utterance (CMVN), with deltas and a
  normalised log-energy channel (silence against speech).

Everything here is numpy (MFCC from the server's Slaney filterbank, an anti-diagonal DTW), so the server
runtime needs no librosa or scipy. Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .features import SAMPLE_RATE, mel_filterbank

FRAME_RATE_HZ = 100
PAUSE = "_"
_HOP = SAMPLE_RATE // FRAME_RATE_HZ
_N_FFT = 400
_N_MELS = 30
_FMIN_HZ, _FMAX_HZ = 80.0, 3800.0
_N_MFCC = 13
_SPEECH_DB = -35.0  # frames within this of the loudest (p99) frame count as speech (rate matching)


@dataclass
class Alignment:
    """A recording's phone segmentation.

    Attributes:
        phones: IPA phone per segment (``"_"`` = pause).
        starts_s / ends_s: [S] contiguous segment times covering the clip.
        cost: mean DTW frame distance along the path (lower = better match; a wrong transcript is high).
        rate_ratio: synthesis speech length / recording speech length at espeak-ng's default rate (how
            much faster the recording is spoken; far from 1 = the transcript's length does not fit).
        rate_wpm: the espeak-ng rate the reference was synthesised at.
    """

    phones: list[str]
    starts_s: np.ndarray
    ends_s: np.ndarray
    cost: float
    rate_ratio: float
    rate_wpm: int


@lru_cache(maxsize=1)
def _mfcc_basis() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(periodic Hann [N_FFT], mel filters [F, M], orthonormal DCT-II rows c1..c12 [M, 12])."""
    window = np.hanning(_N_FFT + 1)[:-1]
    mel = mel_filterbank(SAMPLE_RATE, _N_FFT, _N_MELS, _FMIN_HZ, _FMAX_HZ).T.astype(np.float64)
    n = np.arange(_N_MELS)
    k = np.arange(_N_MFCC)[:, None]
    dct = np.sqrt(2.0 / _N_MELS) * np.cos(np.pi * k * (2 * n + 1) / (2 * _N_MELS))  # [13, M]
    dct[0] /= np.sqrt(2.0)
    return window, mel, np.ascontiguousarray(dct[1:].T)


def _log_energy(audio: np.ndarray, n: int) -> np.ndarray:
    pad = np.pad(audio.astype(np.float64), (200, 200 + n * _HOP))
    frames = np.lib.stride_tricks.sliding_window_view(pad, 400)[::_HOP][:n]  # [n, 400]
    return 10.0 * np.log10((frames ** 2).mean(axis=1) + 1e-10)


def features(audio: np.ndarray) -> np.ndarray:
    """Speaker-normalised features of 16 kHz audio: [T, 25] (MFCC c1-c12 with CMVN, deltas, log energy).

    ``T = 1 + len(audio) // 160`` (centred frames). A faint deterministic dither keeps digital silence
    finite.
    """
    window, mel, dct = _mfcc_basis()
    x = audio.astype(np.float64) + 1e-4 * np.random.default_rng(0).standard_normal(len(audio))
    padded = np.pad(x, _N_FFT // 2, mode="reflect" if len(x) > _N_FFT // 2 else "constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]  # [T, N_FFT]
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # [T, F]
    db = 10.0 * np.log10(np.maximum(power @ mel, 1e-10))  # [T, M]
    db = np.maximum(db, db.max() - 80.0)
    mfcc = db @ dct  # [T, 12]
    mfcc = (mfcc - mfcc.mean(axis=0)) / (mfcc.std(axis=0) + 1e-6)
    edge = np.pad(mfcc, ((2, 2), (0, 0)), mode="edge")
    delta = (edge[3:-1] - edge[1:-3] + 2.0 * (edge[4:] - edge[:-4])) / 10.0  # regression over +-2 frames
    energy = _log_energy(audio, len(mfcc))
    energy = (energy - energy.max()) / 20.0  # 0 at the loudest frame, -1 per 20 dB below
    return np.concatenate([mfcc, 0.5 * delta, 2.0 * energy[:, None]], axis=1).astype(np.float32)


def speech_span_s(audio: np.ndarray) -> tuple[float, float]:
    """(first, last) time of frames within 35 dB of the loudest ones (the speech span), seconds."""
    n = max(1, len(audio) // _HOP)
    e = _log_energy(audio, n)
    loud = np.flatnonzero(e > np.percentile(e, 99) + _SPEECH_DB)
    if not len(loud):
        return 0.0, len(audio) / SAMPLE_RATE
    return loud[0] / FRAME_RATE_HZ, (loud[-1] + 1) / FRAME_RATE_HZ


def dtw_path(ref: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, float]:
    """DTW of [R, D] against [X, D]: Euclidean frame distance, steps (1,1) free, (1,0) and (0,1) + 0.5.

    Computed one anti-diagonal at a time (numpy over each diagonal), O(R * X) memory in float32.

    Returns:
        ([P, 2] path of (ref frame, real frame) from the start, mean distance along the path).
    """
    sq = (ref ** 2).sum(1)[:, None] + (real ** 2).sum(1)[None, :] - 2.0 * ref @ real.T
    cost = np.sqrt(np.maximum(sq, 0.0)).astype(np.float32)  # [R, X]
    n_ref, n_real = cost.shape
    acc = np.full((n_ref, n_real), np.inf, np.float32)
    step = np.zeros((n_ref, n_real), np.int8)  # 0 diagonal, 1 from (i-1, j), 2 from (i, j-1)
    acc[0, 0] = cost[0, 0]
    for d in range(1, n_ref + n_real - 1):
        i = np.arange(max(0, d - n_real + 1), min(d, n_ref - 1) + 1)
        j = d - i
        im, jm = np.maximum(i - 1, 0), np.maximum(j - 1, 0)
        options = np.stack([np.where((i > 0) & (j > 0), acc[im, jm], np.inf),
                            np.where(i > 0, acc[im, j] + 0.5, np.inf),
                            np.where(j > 0, acc[i, jm] + 0.5, np.inf)])  # [3, n]
        best = options.argmin(axis=0)
        acc[i, j] = options[best, np.arange(len(i))] + cost[i, j]
        step[i, j] = best
    path = [(n_ref - 1, n_real - 1)]
    i, j = n_ref - 1, n_real - 1
    while i > 0 or j > 0:
        k = step[i, j]
        i, j = (i - 1, j - 1) if k == 0 else (i - 1, j) if k == 1 else (i, j - 1)
        path.append((i, j))
    out = np.array(path[::-1], dtype=np.int64)
    return out, float(cost[out[:, 0], out[:, 1]].mean())


def transfer(times_s: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Move reference times through a DTW path. A boundary at reference frame k (between frames k-1 and
    k) goes halfway between the end of the real frames paired with k-1 and the start of those paired with
    k. [B] seconds -> [B] seconds, non-decreasing."""
    n_ref = int(path[:, 0].max()) + 1
    lo = np.full(n_ref, np.inf)
    hi = np.full(n_ref, -np.inf)
    np.minimum.at(lo, path[:, 0], path[:, 1])
    np.maximum.at(hi, path[:, 0], path[:, 1])
    k = np.clip(np.round(times_s * FRAME_RATE_HZ).astype(int), 0, n_ref)
    start_k = np.where(k < n_ref, lo[np.minimum(k, n_ref - 1)], hi[-1] + 1)
    end_prev = np.where(k > 0, hi[np.maximum(k - 1, 0)] + 1, lo[0])
    return np.maximum.accumulate((start_k + end_prev) / 2.0 / FRAME_RATE_HZ)


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


def align_reference(audio: np.ndarray, ref_audio: np.ndarray, phones: list[str], starts_s: np.ndarray,
                    ends_s: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray, float]:
    """Move a reference's phone times onto ``audio`` (both 16 kHz): (phones, starts, ends, DTW cost)."""
    path, cost = dtw_path(features(ref_audio), features(audio))
    new_starts = transfer(starts_s, path)
    new_ends = np.append(new_starts[1:], transfer(ends_s[-1:], path))
    total = len(audio) / SAMPLE_RATE
    out = contiguous(phones, new_starts, np.minimum(new_ends, total), total)
    return (*out, cost)


__all__ = ["FRAME_RATE_HZ", "PAUSE", "Alignment", "align_reference", "contiguous", "dtw_path", "features",
           "speech_span_s", "transfer"]
