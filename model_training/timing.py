"""Timed speech: audio plus a phone segmentation, the common currency of every engine of the recipe.

Phones are IPA strings (``"p"``, ``"aɪ"``, ``"ʃ"``...; stress and length marks allowed), pauses are
``"_"``. Segments are contiguous and cover the whole clip, times in seconds.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

PAUSE = "_"


@dataclass
class TimedSpeech:
    """Audio with a contiguous phone segmentation.

    Attributes:
        audio: [N] float32 mono samples in [-1, 1].
        sample_rate: samples per second of ``audio``.
        phones: IPA phone (or ``"_"`` pause) per segment.
        starts_s: [S] segment start times in seconds (first is 0).
        ends_s: [S] segment end times in seconds (last is the audio duration).
        meta: engine, voice, language, text, speaker.
    """

    audio: np.ndarray
    sample_rate: int
    phones: list[str]
    starts_s: np.ndarray
    ends_s: np.ndarray
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Clip duration in seconds."""
        return len(self.audio) / float(self.sample_rate)

    @classmethod
    def from_segments(cls, audio: np.ndarray, sample_rate: int, segments: list[tuple[str, int, int]],
                      silences: list[tuple[int, int]] | None = None) -> TimedSpeech:
        """Build a contiguous segmentation from possibly gappy ``(phone, start, end)`` sample segments.

        Gaps become pauses; ``silences`` (sample runs known to be silent, e.g. exactly zero samples)
        override the phones they overlap, since an engine's pause phone may not match its audio.
        """
        n = len(audio)
        labels = np.full(n, -1, np.int64)  # [N] segment index per sample, -1 = pause
        names: list[str] = []
        for name, start, end in segments:
            start, end = max(0, int(start)), min(n, int(end))
            if end <= start:
                continue
            labels[start:end] = PAUSE_ID if name == PAUSE else len(names)
            if name != PAUSE:
                names.append(name)
        for start, end in silences or []:
            labels[start:end] = PAUSE_ID
        phones: list[str] = []
        starts: list[int] = []
        if n:
            change = np.flatnonzero(np.diff(labels)) + 1
            bounds = np.concatenate([[0], change, [n]])
            for a, _b in itertools.pairwise(bounds):
                lab = int(labels[a])
                phones.append(PAUSE if lab < 0 else names[lab])
                starts.append(int(a))
        starts_arr = np.asarray(starts, np.float64) / sample_rate
        ends_arr = np.append(starts_arr[1:], n / sample_rate) if starts else np.zeros(0)
        return cls(audio.astype(np.float32), int(sample_rate), phones, starts_arr, ends_arr)


PAUSE_ID = -1
#: Shortest run of silent samples that counts as a pause (:func:`silence_runs`).
MIN_SILENCE_S = 0.04


def silence_runs(audio: np.ndarray, min_s: float = MIN_SILENCE_S, sample_rate: int = 22050,
                 threshold: float = 1e-4) -> list[tuple[int, int]]:
    """Runs of (near-)silent samples at least ``min_s`` long, as ``(start, end)`` sample indices."""
    quiet = np.abs(audio) <= threshold  # [N]
    if not quiet.any():
        return []
    edges = np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    min_len = int(min_s * sample_rate)
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True) if b - a >= min_len]


def cut_runs(runs: list[tuple[int, int]], spans: list[tuple[int, int]], min_len: int = 1
             ) -> list[tuple[int, int]]:
    """``runs`` (sample ``(start, end)``) cut back to end where the first ``span`` they overlap starts, and
    dropped when less than ``min_len`` samples remain (a stop's closure written as silence must not become
    a pause: :func:`model_server.espeak.attach_stop_closures`)."""
    kept: list[tuple[int, int]] = []
    for a, b in runs:
        for c0, c1 in spans:
            if a < c1 and b > c0:
                b = min(b, c0)
        if b - a >= min_len:
            kept.append((a, b))
    return kept
