"""A transcript aligned to its recording: espeak-ng speaks it, DTW moves espeak-ng's phones onto the audio.

Steps (:func:`align`):

1. espeak-ng speaks the text in the recording's language at its default rate; its frames are stretched
   in time so that its speech is as long as the recording's (DTW copes badly with rate ratios far from
   1; stretching the frames costs less than a second synthesis at the matched rate and aligns as well);
2. both signals become frames at 100 Hz (:func:`model_server.dtw_align.features`: speaker-normalised
   cepstra, deltas, log energy) plus, when the caller passes the acoustic model (``model_of``), what the
   model hears in each signal (:class:`ModelFrames`): its AUs weighted by :data:`AU_WEIGHT` and its
   phone-class posteriors weighted by :data:`PHONE_WEIGHT`. The model was trained to hear the same
   articulation in any voice, so its outputs are more alike across voices than cepstra are: on Festival
   and Flite clips with known timings the median bilabial error falls from 34 to 26 ms with the AUs
   (docs/evaluation.md); the posteriors bring the aligned bilabials of the real-speech development set
   closer to its reference timings (median 20 -> 17 ms, 90th percentile 138 -> 117 ms);
3. DTW within a band around the line joining the two speech spans (:data:`BAND_MIN_S`,
   :data:`BAND_SHARE`) pairs the frames, and every espeak-ng boundary moves through the path;
4. chance level: the same recording aligned the same way to the reference *played backwards* (its frames
   in reverse order: the same voice, channel and sounds in the wrong order, at no extra synthesis). The
   right text costs clearly less than its reversed self, a wrong one about as much, so ``null_cost /
   cost`` (:attr:`Alignment.relative_cost`) says how much better than chance the text fits, whatever the
   voice or the channel; :attr:`Alignment.null_segments` lets the caller compare anything else the same
   way. (A scrambled transcript, words and letters reversed and spoken again, separated right from wrong
   texts as well, AUC 0.83 / 0.99 on the dev / held-out sets against 0.82 / 0.985, at the cost of a
   second synthesis and model pass.)

Numpy, soxr and the espeak-ng library; the only state is the kept readings (:func:`synthesis`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import dtw_align
from .features import SAMPLE_RATE
from .voices import UnknownVoiceError

#: Weight of the acoustic model's AUs (0..1 each) next to the cepstral features (unit variance each).
AU_WEIGHT = 8.0
#: Weight of the model's phone-class posteriors (0..1 each, summing to 1 per frame).
PHONE_WEIGHT = 8.0
#: The DTW band: at least this many seconds either side of the line joining the speech spans ...
BAND_MIN_S = 1.5
#: ... or this share of the recording's length, whichever is larger (3.6 s for a minute).
BAND_SHARE = 0.06
DEFAULT_WPM = 175
#: Speech spans (the rate gate's lengths, the band's knots) count only frames this many dB above the
#: recording's noise floor as well (:func:`model_server.dtw_align.speech_span_s`): 8 kHz GSM prompts whose
#: hiss lies 35 dB under the peak read as speech from end to end, and their transcripts were declined as
#: far too short (session 16).
SPAN_ABOVE_FLOOR_DB = 6.0
#: Bands wider than this (s either side) are searched coarse to fine: first on a coarse grid
#: (:data:`COARSE_STEP`), then at 10 ms within ``REFINE_S`` of the coarse path. 0: every recording (on the
#: development set's own transcripts and the held-out TTS the same closure recall and depth as one 10 ms
#: search, at two thirds of its cost).
COARSE_FINE_ABOVE_S = 0.0
REFINE_S = 0.1
#: The coarse grid of the line's path, in 10 ms frames: 40 ms gives every development-set and held-out
#: figure of the 20 ms grid to the third decimal, own and wrong transcripts, and halves the coarse search
#: (session 14) ...
COARSE_STEP = 4
#: ... and the grid of the reversed reading's path (only its cost and rough timing count; at 40 ms one
#: held-out bilabial of 2,597 lost its closure through a changed match score) ...
NULL_STEP = 2
#: ... or, where the band is wider than ``BAND_MIN_S`` (lines over 25 s), this one: the band grows with
#: the line, so there the reversed reading's search costs more than the line's own (a 120 s line's whole
#: predict path: 118x -> 129x real time on one core, best of seven; lines up to 25 s are unchanged).
NULL_STEP_WIDE = 4
_PAD_S = 0.25


@dataclass
class ModelFrames:
    """What the acoustic model hears in one signal, at 100 frames/s.

    Attributes:
        aus: [T, K] the model's mouth AUs (0..1), as the pipeline gates them.
        phones: [T, C] phone-class posteriors (``model_server.phonetics.PHONE_CLASSES`` order), or None for
            weights without the phone-class output.
        mel: [T, N_MELS] the log-mel frames the model heard (the aligner's cepstra are made from them), or
            None (the aligner computes them).
    """

    aus: np.ndarray
    phones: np.ndarray | None = None
    mel: np.ndarray | None = None

    def features(self) -> np.ndarray:
        """[T, K (+ C)] the aligner's model features: weighted AUs and posteriors."""
        parts = [AU_WEIGHT * self.aus.astype(np.float32)]
        if self.phones is not None:
            parts.append(PHONE_WEIGHT * self.phones[:len(self.aus)].astype(np.float32))
        return np.concatenate(parts, axis=1)


#: The acoustic model as the aligner uses it: 16 kHz audio -> :class:`ModelFrames` ([ceil(N / 160)] frames).
ModelOf = Callable[[np.ndarray], ModelFrames]


@dataclass
class Alignment:
    """A recording's phone segmentation from its transcript.

    Attributes:
        phones: IPA phone per segment (``"_"`` = pause).
        starts_s / ends_s: [S] contiguous segment times covering the clip.
        cost: mean cepstral distance between the frames the path pairs (lower = closer match).
        null_cost: the same for the reference played backwards (its own best path); NaN when not computed.
        null_segments: the reversed reference's aligned (phones, starts_s, ends_s), or None.
        rate_ratio: synthesis speech length / recording speech length at espeak-ng's default rate.
        rate_wpm: the espeak-ng rate the reference was synthesised at (its frames are then stretched in
            time to the recording's speaking rate).
    """

    phones: list[str]
    starts_s: np.ndarray
    ends_s: np.ndarray
    cost: float
    null_cost: float
    rate_ratio: float
    rate_wpm: int
    null_segments: tuple[list[str], np.ndarray, np.ndarray] | None = None

    @property
    def relative_cost(self) -> float:
        """``null_cost / cost``: near 1 for a wrong transcript, clearly above 1 for the right one."""
        return self.null_cost / max(self.cost, 1e-9)


#: Seconds of readings :func:`synthesis` keeps (the most recent texts; 300 s is about 19 MB) ...
SYNTHESIS_CACHE_S = 300.0
#: ... and at most this many texts.
SYNTHESIS_CACHE_TEXTS = 32
_Reading = tuple[np.ndarray, tuple[str, ...], np.ndarray, np.ndarray]
_readings: OrderedDict[tuple[str, str, int], _Reading | None] = OrderedDict()
_readings_lock = threading.Lock()


def synthesis(text: str, language: str, rate_wpm: int) -> _Reading | None:
    """espeak-ng speech of ``text`` at 16 kHz padded with silence: (audio, phones, starts_s, ends_s), arrays
    read-only (None: espeak-ng spoke nothing).

    The most recent readings (:data:`SYNTHESIS_CACHE_S` seconds of them) are kept and reused: espeak-ng
    carries a little state from one synthesis to the next (its pitch flutter and glottal phase run on), so
    a second reading of the same text differs slightly from the first, and so would the alignment. Reusing
    the reading makes a repeated request (a regenerated line) give the same tracks, and saves the synthesis.

    Raises:
        model_server.espeak.EspeakUnavailableError: no espeak-ng here.
        UnknownVoiceError: espeak-ng has no voice ``language``.
    """
    key = (text, language, int(rate_wpm))
    with _readings_lock:  # held while speaking (espeak-ng speaks one text at a time anyway): two requests
        if key in _readings:  # for the same text share one reading
            _readings.move_to_end(key)
            return _readings[key]
        reading = _speak(text, language, rate_wpm)
        _readings[key] = reading
        budget = int(SYNTHESIS_CACHE_S * SAMPLE_RATE)
        while (len(_readings) > SYNTHESIS_CACHE_TEXTS
               or sum(0 if r is None else len(r[0]) for r in _readings.values()) > budget):
            _readings.popitem(last=False)  # the oldest first (a reading over the budget is not kept)
    return reading


def clear_readings() -> None:
    """Forget the kept readings (the next request for each text synthesises it again)."""
    with _readings_lock:
        _readings.clear()


def _speak(text: str, language: str, rate_wpm: int) -> _Reading | None:
    """One espeak-ng synthesis for :func:`synthesis`."""
    import soxr

    from .espeak_fresh import speak_fresh

    try:  # a fresh library each time: a reading must not depend on what the process spoke before
        raw = speak_fresh(text, language, rate_wpm)
    except ValueError as exc:  # the voice lookup is speak's only ValueError
        raise UnknownVoiceError(str(exc)) from None
    if not raw.phones:
        return None
    audio = np.asarray(soxr.resample(raw.audio, raw.sample_rate, SAMPLE_RATE, quality="HQ"), np.float32)
    pad = np.zeros(int(_PAD_S * SAMPLE_RATE), np.float32)
    starts = np.array([a for _, a, _ in raw.phones], np.float64) / raw.sample_rate + _PAD_S
    ends = np.array([b for _, _, b in raw.phones], np.float64) / raw.sample_rate + _PAD_S
    padded = np.concatenate([pad, audio, pad])
    for array in (padded, starts, ends):
        array.flags.writeable = False  # shared by every caller of the cached reading
    return padded, tuple(p for p, _, _ in raw.phones), starts, ends


@dataclass
class _Frames:
    """One signal as the aligner sees it: cepstra [T, 25], path features [T, 25 (+ K)], speech span (s)."""

    ceps: np.ndarray
    feats: np.ndarray
    span_s: tuple[float, float]

    @classmethod
    def of(cls, audio: np.ndarray, heard: ModelFrames | None, span_s: tuple[float, float] | None = None
           ) -> _Frames:
        ceps = dtw_align.features(audio, None if heard is None else heard.mel)
        feats = ceps
        if heard is not None:
            model = heard.features()
            n = min(len(ceps), len(model))
            ceps = ceps[:n]
            feats = np.concatenate([ceps, model[:n]], axis=1)
        return cls(ceps, feats, span_s or dtw_align.speech_span_s(audio, SPAN_ABOVE_FLOOR_DB))

    def stretched(self, factor: float) -> _Frames:
        """The frames of this signal spoken ``factor`` times as long (linear interpolation in time)."""
        if abs(factor - 1.0) < 1e-3:
            return self
        n_out = max(2, round(len(self.feats) * factor))
        src = np.minimum(np.arange(n_out) / factor, len(self.feats) - 1.0)
        lerp = lambda x: np.stack([np.interp(src, np.arange(len(x)), c) for c in x.T], 1)  # noqa: E731
        a, b = self.span_s
        return _Frames(lerp(self.ceps).astype(np.float32), lerp(self.feats).astype(np.float32),
                       (a * factor, b * factor))

    def decimated(self, step: int) -> _Frames:
        """Means of ``step`` consecutive frames (a coarser, cheaper DTW grid)."""
        if step == 1:
            return self
        n = len(self.feats) // step * step
        mean = lambda x: x[:n].reshape(n // step, step, -1).mean(axis=1)  # noqa: E731
        return _Frames(mean(self.ceps), mean(self.feats), self.span_s)


def _path(ref: _Frames, real: _Frames, step: int = 1) -> tuple[np.ndarray, float]:
    """(DTW path on frames of ``step`` x 10 ms, cepstral cost along it) within the band around the line
    through both speech spans' edges (coarse to fine for wide bands at 10 ms)."""
    half_s = _band_s(ref, real)
    if step == 1 and half_s > COARSE_FINE_ABOVE_S:
        return _refined(ref, real, _path(ref, real, COARSE_STEP)[0], COARSE_STEP)
    ref, real = ref.decimated(step), real.decimated(step)
    hz = dtw_align.FRAME_RATE_HZ / step
    (a0, b0), (a1, b1) = ref.span_s, real.span_s
    n_ref, n_real = len(ref.feats), len(real.feats)
    centre = dtw_align.band_centre(n_ref, n_real, [(a0 * hz, a1 * hz), (b0 * hz, b1 * hz)])
    path, _ = dtw_align.dtw_path(ref.feats, real.feats, int(half_s * hz), centre)
    return path, dtw_align.path_cost(ref.ceps, real.ceps, path)


def _band_s(ref: _Frames, real: _Frames) -> float:
    """Seconds the DTW band reaches either side of its centre line (``BAND_MIN_S``, ``BAND_SHARE``)."""
    return max(BAND_MIN_S, BAND_SHARE * max(len(ref.feats), len(real.feats)) / dtw_align.FRAME_RATE_HZ)


def _refined(ref: _Frames, real: _Frames, coarse: np.ndarray, step: int = 2) -> tuple[np.ndarray, float]:
    """The 10 ms path within ``REFINE_S`` of a coarser one on ``step`` x 10 ms frames: coarse frame k is
    the mean of frames step k .. step k + step - 1, so those fine rows (and the rows left over at the end)
    may pair with the real frames the coarse path visits in row k, widened by ``REFINE_S`` either side."""
    n_ref, n_real = len(ref.feats), len(real.feats)
    last_row = int(coarse[-1, 0])
    first = np.full(last_row + 1, step * n_real)
    last = np.zeros(last_row + 1, np.int64)
    np.minimum.at(first, coarse[:, 0], step * coarse[:, 1])
    np.maximum.at(last, coarse[:, 0], step * coarse[:, 1] + step - 1)
    rows = np.minimum(np.arange(n_ref) // step, last_row)
    low = first[rows].astype(np.float64)
    high = np.minimum(last[rows], n_real - 1).astype(np.float64)
    half = round(REFINE_S * dtw_align.FRAME_RATE_HZ)
    path, _ = dtw_align.dtw_path(ref.feats, real.feats, half, low, high)
    return path, dtw_align.path_cost(ref.ceps, real.ceps, path)


@dataclass(frozen=True)
class Reading:
    """espeak-ng's kept reading of a transcript (:func:`synthesis`) beside the recording it is for.

    Attributes:
        reading: (audio, phones, starts_s, ends_s) of the reading.
        span_s / real_span_s: the speech spans of the reading and of the recording, seconds.
    """

    reading: _Reading
    span_s: tuple[float, float]
    real_span_s: tuple[float, float]

    @property
    def rate_ratio(self) -> float:
        """The reading's speech length over the recording's (at least 50 ms of recording): what
        :attr:`Alignment.rate_ratio` reports."""
        return (self.span_s[1] - self.span_s[0]) / max(self.real_span_s[1] - self.real_span_s[0], 0.05)


def read(samples: np.ndarray, text: str, language: str) -> Reading | None:
    """espeak-ng's reading of ``text`` in voice ``language`` beside 16 kHz ``samples`` (None: nothing
    spoken). The cheap first step of :func:`align`: a caller can decline a text far too long or short for
    the audio (:attr:`Reading.rate_ratio`) before the model hears the reading and DTW aligns it.

    Raises:
        model_server.espeak.EspeakUnavailableError: no espeak-ng here.
        UnknownVoiceError: espeak-ng has no voice ``language``.
    """
    ref = synthesis(text, language, DEFAULT_WPM)
    if ref is None:
        return None
    return Reading(ref, dtw_align.speech_span_s(ref[0], SPAN_ABOVE_FLOOR_DB),
                   dtw_align.speech_span_s(samples, SPAN_ABOVE_FLOOR_DB))


def align(samples: np.ndarray, text: str, language: str, model_of: ModelOf | None = None,
          real_heard: ModelFrames | None = None, null: bool = True, reading: Reading | None = None
          ) -> Alignment | None:
    """Align ``text`` spoken by espeak-ng voice ``language`` to 16 kHz ``samples`` (None: nothing spoken).

    Args:
        model_of: the acoustic model (see :data:`ModelOf`); None aligns on cepstra alone.
        real_heard: ``model_of(samples)`` when the caller has it already.
        null: also align the reference played backwards (:attr:`Alignment.null_cost`,
            :attr:`Alignment.null_segments`), on a coarse grid (``NULL_STEP``; only its cost and rough
            timing count).
        reading: ``read(samples, text, language)`` when the caller has it already.

    Raises:
        model_server.espeak.EspeakUnavailableError: no espeak-ng here.
        UnknownVoiceError: espeak-ng has no voice ``language``.
    """
    reading = reading or read(samples, text, language)
    if reading is None:
        return None
    ratio = reading.rate_ratio
    if model_of is not None and real_heard is None:
        real_heard = model_of(samples)
    real = _Frames.of(samples, real_heard if model_of is not None else None, reading.real_span_s)
    stretch = float(np.clip(1.0 / ratio, 1.0 / 4.0, 4.0))  # the synthesis spoken at the recording's rate
    frames, phones, starts, ends = _reference(reading.reading, model_of, stretch, reading.span_s)
    segments, cost = _moved(frames, phones, starts, ends, real, samples)
    null_segments, null_cost = None, float("nan")
    if null:
        step = NULL_STEP if _band_s(frames, real) <= BAND_MIN_S else NULL_STEP_WIDE
        null_segments, null_cost = _moved(*_reversed(frames, phones, starts, ends), real, samples, step=step)
    return Alignment(*segments, cost, null_cost, float(ratio), DEFAULT_WPM, null_segments)


def _reference(ref: _Reading, model_of: ModelOf | None,
               stretch: float, span_s: tuple[float, float] | None = None
               ) -> tuple[_Frames, list[str], np.ndarray, np.ndarray]:
    """A synthesis as frames stretched ``stretch`` times in time, with its phone times stretched alike."""
    ref_audio, phones, starts, ends = ref
    heard = None if model_of is None else model_of(ref_audio)
    return (_Frames.of(ref_audio, heard, span_s).stretched(stretch), list(phones), starts * stretch,
            ends * stretch)


def _reversed(frames: _Frames, phones: list[str], starts: np.ndarray, ends: np.ndarray
              ) -> tuple[_Frames, list[str], np.ndarray, np.ndarray]:
    """The reference played backwards: the same frames (voice, channel, sounds) in reverse order."""
    total = len(frames.feats) / dtw_align.FRAME_RATE_HZ
    a, b = frames.span_s
    flipped = _Frames(frames.ceps[::-1].copy(), frames.feats[::-1].copy(), (total - b, total - a))
    return flipped, phones[::-1], total - ends[::-1], total - starts[::-1]


def _moved(frames: _Frames, phones: list[str], starts: np.ndarray, ends: np.ndarray, real: _Frames,
           samples: np.ndarray, step: int = 1) -> tuple[tuple[list[str], np.ndarray, np.ndarray], float]:
    """A reference's phones moved onto the recording: ((phones, starts_s, ends_s), cepstral path cost)."""
    path, cost = _path(frames, real, step)
    hz = dtw_align.FRAME_RATE_HZ / step
    new_starts = dtw_align.transfer(starts, path, hz)
    new_ends = np.append(new_starts[1:], dtw_align.transfer(ends[-1:], path, hz))
    total = len(samples) / SAMPLE_RATE
    return dtw_align.contiguous(phones, new_starts, np.minimum(new_ends, total), total), cost


__all__ = ["AU_WEIGHT", "PHONE_WEIGHT", "SYNTHESIS_CACHE_S", "SYNTHESIS_CACHE_TEXTS", "Alignment",
           "ModelFrames", "ModelOf", "Reading", "align", "clear_readings", "read", "synthesis"]
