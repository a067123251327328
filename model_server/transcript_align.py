"""A transcript aligned to its recording: espeak-ng speaks it, DTW moves espeak-ng's phones onto the audio.

Steps (:func:`align`):

1. espeak-ng speaks the text in the recording's language at its default rate, then again at the rate that
   makes its speech as long as the recording's (DTW copes badly with rate ratios far from 1);
2. both signals become frames at 100 Hz (:func:`model_server.dtw_align.features`: speaker-normalised
   cepstra, deltas, log energy) plus, when the caller passes the acoustic model (``aus_of``), the model's
   AUs of each signal weighted by :data:`AU_WEIGHT`. The model was trained to hear the same articulation
   in any voice, so its outputs are more alike across voices than cepstra are: on Festival and Flite
   clips with known timings the median bilabial error falls from 34 to 26 ms (docs/evaluation.md);
3. DTW within a band around the line joining the two speech spans (:data:`BAND_MIN_S`,
   :data:`BAND_SHARE`) pairs the frames, and every espeak-ng boundary moves through the path;
4. chance level: the same recording aligned the same way to a *scrambled* transcript (words and letters
   reversed: the same voice, channel and sounds in the wrong order). The right text costs less than its
   scrambled self and a wrong text about the same, so ``null_cost / cost``
   (:attr:`Alignment.relative_cost`) says how much better than chance the text fits, whatever the voice
   or the channel; :attr:`Alignment.null_segments` lets the caller compare anything else the same way.

Pure module (numpy, soxr, the espeak-ng library).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import dtw_align
from .features import SAMPLE_RATE

#: Weight of the acoustic model's AUs (0..1 each) next to the cepstral features (unit variance each).
AU_WEIGHT = 8.0
#: The DTW band: at least this many seconds either side of the line joining the speech spans ...
BAND_MIN_S = 1.0
#: ... or this share of the recording's length, whichever is larger.
BAND_SHARE = 0.12
DEFAULT_WPM = 175
_PAD_S = 0.25

#: The acoustic model as the aligner uses it: 16 kHz audio -> [ceil(N / 160), K] AUs at 100 Hz.
AusOf = Callable[[np.ndarray], np.ndarray]


@dataclass
class Alignment:
    """A recording's phone segmentation from its transcript.

    Attributes:
        phones: IPA phone per segment (``"_"`` = pause).
        starts_s / ends_s: [S] contiguous segment times covering the clip.
        cost: mean cepstral distance between the frames the path pairs (lower = closer match).
        null_cost: the same for the scrambled transcript (its own best path); NaN when not computed.
        null_segments: the scrambled transcript's aligned (phones, starts_s, ends_s), or None.
        rate_ratio: synthesis speech length / recording speech length at espeak-ng's default rate.
        rate_wpm: the espeak-ng rate the reference was synthesised at.
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
        """``null_cost / cost``: about 1 for a wrong transcript, above 1 for the right one."""
        return self.null_cost / max(self.cost, 1e-9)


def synthesis(text: str, language: str, rate_wpm: int
              ) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray] | None:
    """espeak-ng speech of ``text`` at 16 kHz padded with silence: (audio, phones, starts_s, ends_s).

    Raises:
        model_server.espeak.EspeakUnavailableError: no espeak-ng here.
        ValueError: espeak-ng has no voice ``language``.
    """
    import soxr

    from .espeak import shared_library

    raw = shared_library().speak(text, language, rate_wpm)
    if not raw.phones:
        return None
    audio = np.asarray(soxr.resample(raw.audio, raw.sample_rate, SAMPLE_RATE, quality="HQ"), np.float32)
    pad = np.zeros(int(_PAD_S * SAMPLE_RATE), np.float32)
    starts = np.array([a for _, a, _ in raw.phones], np.float64) / raw.sample_rate + _PAD_S
    ends = np.array([b for _, _, b in raw.phones], np.float64) / raw.sample_rate + _PAD_S
    return np.concatenate([pad, audio, pad]), [p for p, _, _ in raw.phones], starts, ends


def scrambled(text: str) -> str:
    """The null transcript: words in reverse order, each spelt backwards ("map it" -> "ti pam")."""
    return " ".join(word[::-1] for word in text.split()[::-1])


def _frames(audio: np.ndarray, aus: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(cepstral features [T, 25], features for the path [T, 25 (+ K)]) of 16 kHz audio."""
    ceps = dtw_align.features(audio)
    if aus is None:
        return ceps, ceps
    n = min(len(ceps), len(aus))
    ceps = ceps[:n]
    return ceps, np.concatenate([ceps, AU_WEIGHT * aus[:n].astype(np.float32)], axis=1)


def _band(ref_audio: np.ndarray, audio: np.ndarray, n_ref: int, n_real: int) -> tuple[np.ndarray, int]:
    """(centre [n_ref], half width) of the DTW band: the line through both speech spans' edges."""
    a0, b0 = dtw_align.speech_span_s(ref_audio)
    a1, b1 = dtw_align.speech_span_s(audio)
    hz = dtw_align.FRAME_RATE_HZ
    centre = dtw_align.band_centre(n_ref, n_real, [(a0 * hz, a1 * hz), (b0 * hz, b1 * hz)])
    half = int(max(BAND_MIN_S * hz, BAND_SHARE * max(n_ref, n_real)))
    return centre, half


def _path(ref_audio: np.ndarray, audio: np.ndarray, ref_aus: np.ndarray | None,
          real_aus: np.ndarray | None) -> tuple[np.ndarray, float]:
    """(DTW path, cepstral cost along it) between a reference and the recording."""
    ref_ceps, ref_f = _frames(ref_audio, ref_aus)
    real_ceps, real_f = _frames(audio, real_aus)
    centre, half = _band(ref_audio, audio, len(ref_f), len(real_f))
    path, _ = dtw_align.dtw_path(ref_f, real_f, half, centre)
    return path, dtw_align.path_cost(ref_ceps, real_ceps, path)


def align(samples: np.ndarray, text: str, language: str, aus_of: AusOf | None = None,
          real_aus: np.ndarray | None = None, null: bool = True) -> Alignment | None:
    """Align ``text`` spoken by espeak-ng voice ``language`` to 16 kHz ``samples`` (None: nothing spoken).

    Args:
        aus_of: the acoustic model (see :data:`AusOf`); None aligns on cepstra alone.
        real_aus: ``aus_of(samples)`` when the caller has it already ([T, K] at 100 Hz).
        null: also align the scrambled transcript the same way (:attr:`Alignment.null_cost`,
            :attr:`Alignment.null_segments`).

    Raises:
        model_server.espeak.EspeakUnavailableError: no espeak-ng here.
        ValueError: espeak-ng has no voice ``language``.
    """
    first = synthesis(text, language, DEFAULT_WPM)
    if first is None:
        return None
    a0, b0 = dtw_align.speech_span_s(first[0])
    a1, b1 = dtw_align.speech_span_s(samples)
    ratio = (b0 - a0) / max(b1 - a1, 0.05)
    rate = int(np.clip(DEFAULT_WPM * ratio, 80, 450))
    ref = synthesis(text, language, rate) if abs(rate - DEFAULT_WPM) > 8 else first
    if ref is None:
        ref, rate = first, DEFAULT_WPM
    if aus_of is not None and real_aus is None:
        real_aus = aus_of(samples)
    segments, cost = _moved(ref, samples, aus_of, real_aus)
    null_segments, null_cost = None, float("nan")
    if null:
        null_ref = synthesis(scrambled(text), language, rate)
        if null_ref is not None:
            null_segments, null_cost = _moved(null_ref, samples, aus_of, real_aus)
    return Alignment(*segments, cost, null_cost, float(ratio), rate, null_segments)


def _moved(ref: tuple[np.ndarray, list[str], np.ndarray, np.ndarray], samples: np.ndarray,
           aus_of: AusOf | None, real_aus: np.ndarray | None
           ) -> tuple[tuple[list[str], np.ndarray, np.ndarray], float]:
    """A reference's phones moved onto the recording: ((phones, starts_s, ends_s), cepstral path cost)."""
    ref_audio, phones, starts, ends = ref
    path, cost = _path(ref_audio, samples, None if aus_of is None else aus_of(ref_audio), real_aus)
    new_starts = dtw_align.transfer(starts, path)
    new_ends = np.append(new_starts[1:], dtw_align.transfer(ends[-1:], path))
    total = len(samples) / SAMPLE_RATE
    return dtw_align.contiguous(phones, new_starts, np.minimum(new_ends, total), total), cost


__all__ = ["AU_WEIGHT", "Alignment", "AusOf", "align", "scrambled", "synthesis"]
