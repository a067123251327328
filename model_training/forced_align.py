"""Cross-language forced alignment: DTW between a recording and an espeak-ng synthesis of its transcript.

espeak-ng speaks the transcript in the recording's language; its phone boundaries are exact (library
phoneme events, :mod:`model_training.espeak_gen`). Both signals become speaker-normalised cepstra at
100 frames/s, dynamic time warping pairs their frames, and every espeak-ng boundary moves to the
recording through the warping path. Two details make it usable across voices and channels:

* the synthesis is made twice, the second time at the speaking rate that makes its speech as long as the
  recording's (DTW copes badly with rate ratios far from 1);
* features stop at 3.8 kHz (8 kHz telephone prompts and 16 kHz ones look alike), drop c0 and are
  normalised per utterance (cepstral mean and variance normalisation removes much of the voice and the
  channel), with deltas and a normalised log-energy channel (silence against speech).

The aligner's own error, measured on English TTS clips whose true timings are known
(``python -m model_training.forced_align``), is in docs/evaluation.md. Output phones are espeak-ng IPA
phones, pauses ``"_"``, contiguous over the clip.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from model_server.dtw_align import _log_energy, speech_span_s, transfer
from model_server.dtw_align import contiguous as _contiguous
from model_server.features import SAMPLE_RATE
from model_server.phonetics import phone_target, split_ipa
from model_training.timing import PAUSE

log = logging.getLogger(__name__)

FRAME_RATE_HZ = 100
_HOP = SAMPLE_RATE // FRAME_RATE_HZ
_FMAX_HZ = 3800.0
_PAD_S = 0.25  # silence added around the synthesis: recordings start and end with some
DEFAULT_WPM = 175
_SPEECH_DB = -35.0  # frames within this of the loudest (p99) frame count as speech for rate matching


@dataclass
class Alignment:
    """A recording's phone segmentation.

    Attributes:
        phones: IPA phone per segment (``"_"`` = pause).
        starts_s / ends_s: [S] contiguous segment times covering the clip.
        cost: mean DTW frame distance along the path (lower = better match; a wrong transcript is high).
        rate_wpm: the espeak-ng rate the reference was synthesised at.
    """

    phones: list[str]
    starts_s: np.ndarray
    ends_s: np.ndarray
    cost: float
    rate_wpm: int


def features(audio: np.ndarray) -> np.ndarray:
    """Speaker-normalised features of 16 kHz audio: [T, 25] (12 MFCC c1-c12 with CMVN, deltas, log energy).

    A faint deterministic dither keeps digital silence finite.
    """
    import librosa

    dither = 1e-4 * np.random.default_rng(0).standard_normal(len(audio))
    x = (audio + dither).astype(np.float32)
    mfcc = librosa.feature.mfcc(y=x, sr=SAMPLE_RATE, n_mfcc=13, n_fft=400, hop_length=_HOP, n_mels=30,
                                fmin=80.0, fmax=_FMAX_HZ, center=True)[1:]  # [12, T]
    mfcc = (mfcc - mfcc.mean(axis=1, keepdims=True)) / (mfcc.std(axis=1, keepdims=True) + 1e-6)
    delta = librosa.feature.delta(mfcc, width=5)
    energy = _log_energy(audio, mfcc.shape[1])
    energy = (energy - energy.max()) / 20.0  # 0 at the loudest frame, -1 per 20 dB below
    return np.concatenate([mfcc, 0.5 * delta, 2.0 * energy[None]], axis=0).T.astype(np.float32)


def dtw_path(ref: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, float]:
    """DTW of [Tr, D] against [Tx, D] (Euclidean frame distance, steps (1,1) (1,0) (0,1)).

    Returns:
        ([P, 2] path of (ref frame, real frame) from the start, mean distance along the path).
    """
    import librosa

    cost = np.sqrt(((ref[:, None, :] - real[None, :, :]) ** 2).sum(axis=-1))  # [Tr, Tx]
    _, path = librosa.sequence.dtw(C=cost, step_sizes_sigma=np.array([[1, 1], [0, 1], [1, 0]]),
                                   weights_add=np.array([0.0, 0.5, 0.5]), backtrack=True)
    path = path[::-1]
    return path, float(cost[path[:, 0], path[:, 1]].mean())


def _to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return audio.astype(np.float32)
    g = np.gcd(SAMPLE_RATE, rate)
    return resample_poly(audio.astype(np.float64), SAMPLE_RATE // g, rate // g).astype(np.float32)


class Aligner:
    """Aligns transcripts with espeak-ng references (one isolated espeak-ng child process).

    Args:
        closures: the reference's stops start at their closure (timing version 2, the default) or, if
            False, at their release (timing version 1; :class:`model_training.espeak_gen.EspeakEngine`).
            The path and its cost do not change (same audio), only the boundaries it carries over.
    """

    def __init__(self, closures: bool = True) -> None:
        from model_training.espeak_gen import IsolatedEspeak

        self._engine = IsolatedEspeak(closures)

    def close(self) -> None:
        """Stop the espeak-ng child process."""
        self._engine.close()

    def reference(self, text: str, language: str, variant: str, rate_wpm: int
                  ) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray] | None:
        """espeak-ng synthesis at 16 kHz, padded with silence: (audio, phones, starts_s, ends_s)."""
        from model_training.espeak_gen import EspeakVoice

        speech = self._engine.synthesize(text, EspeakVoice(language, variant, rate_wpm=rate_wpm))
        if speech is None or not speech.phones:
            return None
        audio = _to_16k(speech.audio, speech.sample_rate)
        pad = int(_PAD_S * SAMPLE_RATE)
        audio = np.concatenate([np.zeros(pad, np.float32), audio, np.zeros(pad, np.float32)])
        return audio, list(speech.phones), speech.starts_s + _PAD_S, speech.ends_s + _PAD_S

    def align(self, audio: np.ndarray, text: str, language: str, variant: str = "") -> Alignment | None:
        """Align ``text`` (in espeak-ng ``language``) to 16 kHz ``audio``; None if espeak-ng fails."""
        first = self.reference(text, language, variant, DEFAULT_WPM)
        if first is None:
            return None
        a0, b0 = speech_span_s(first[0])
        a1, b1 = speech_span_s(audio)
        rate = int(np.clip(DEFAULT_WPM * (b0 - a0) / max(b1 - a1, 0.05), 80, 450))
        ref = self.reference(text, language, variant, rate) if abs(rate - DEFAULT_WPM) > 8 else first
        if ref is None:
            ref, rate = first, DEFAULT_WPM
        ref_audio, phones, starts, ends = ref
        path, cost = dtw_path(features(ref_audio), features(audio))
        new_starts = transfer(starts, path)
        new_ends = np.append(new_starts[1:], transfer(ends[-1:], path))
        total = len(audio) / SAMPLE_RATE
        return Alignment(*_contiguous(phones, new_starts, np.minimum(new_ends, total), total), cost, rate)


# --- the aligner's own error on clips with known timings -------------------------------------------------

def _symbols(phones: list[str], starts: np.ndarray, ends: np.ndarray) -> list[tuple[str, float, float]]:
    """Split phones into single IPA symbols with proportional times (pauses kept as ``"_"``)."""
    out: list[tuple[str, float, float]] = []
    for p, a, b in zip(phones, starts, ends, strict=True):
        syms = [PAUSE] if p == PAUSE else (split_ipa(p) or ["?"])
        step = (b - a) / len(syms)
        out.extend((s, a + k * step, a + (k + 1) * step) for k, s in enumerate(syms))
    return out


def _cls(symbol: str) -> str:
    return "pause" if symbol == PAUSE else phone_target(symbol).kind


def match_boundaries(true: list[tuple[str, float, float]], aligned: list[tuple[str, float, float]]
                     ) -> list[tuple[str, float, float]]:
    """Pair two symbol sequences (edit distance: same symbol 0, same kind 0.6, else 1.3; gaps 1) and
    return (kind, true start, aligned start) of every pair of the same kind."""
    n, m = len(true), len(aligned)
    d = np.zeros((n + 1, m + 1))
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            si, sj = true[i - 1][0], aligned[j - 1][0]
            sub = 0.0 if si == sj else 0.6 if _cls(si) == _cls(sj) else 1.3
            d[i, j] = min(d[i - 1, j - 1] + sub, d[i - 1, j] + 1, d[i, j - 1] + 1)
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        si, sj = true[i - 1][0], aligned[j - 1][0]
        sub = 0.0 if si == sj else 0.6 if _cls(si) == _cls(sj) else 1.3
        if np.isclose(d[i, j], d[i - 1, j - 1] + sub):
            if _cls(si) == _cls(sj):
                pairs.append((_cls(si), true[i - 1][1], aligned[j - 1][1]))
            i, j = i - 1, j - 1
        elif np.isclose(d[i, j], d[i - 1, j] + 1):
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


#: Sources of :func:`check_on_tts`: (engine, split). espeak-ng's held-out variants speak 15+ languages
#: (the DTW aligner reads with espeak-ng itself there, so it is flattered; the HMM aligner is not).
CHECK_SOURCES = (("festival", "heldout"), ("flite", "heldout"), ("piper", "val"), ("kokoro", "heldout"),
                 ("espeak", "heldout"))


def reading_voice(meta: dict) -> str:
    """The espeak-ng voice that reads a clip's transcript: its ``language`` (``en`` reads as ``en-us``)."""
    language = str(meta.get("language", "en"))
    return "en-us" if language == "en" else language


def make_aligner(kind: str) -> Any:
    """``"dtw"``: :class:`Aligner`; ``"sphinx"``: :class:`model_training.sphinx_align.SphinxAligner`."""
    if kind == "sphinx":
        from model_training.sphinx_align import SphinxAligner

        return SphinxAligner()
    return Aligner()


def check_on_tts(n_per_source: int = 12, seed: int = 5, kind: str = "dtw",
                 sources: tuple[tuple[str, str], ...] = CHECK_SOURCES) -> dict[str, dict[str, float]]:
    """Align TTS clips against their transcripts and compare the aligned phone starts with the engines'
    own: median / 90th-percentile |error| in ms and the share within 30 ms per source, over all matched
    phones and over bilabials.
    """
    from model_training.recipe import source_clips

    aligner = make_aligner(kind)
    rows: dict[str, dict[str, float]] = {}
    errs_all: dict[str, list[float]] = {"all": [], "bilabial": []}
    try:
        for source, split in sources:
            errs: dict[str, list[float]] = {"all": [], "bilabial": []}
            for clip in source_clips(source, n_per_source, seed, split):
                res = aligner.align(clip.float_audio(), clip.meta["text"], reading_voice(clip.meta))
                if res is None:
                    continue
                true = [s for s in _symbols(clip.phones, clip.starts_s, clip.ends_s) if s[0] != PAUSE]
                got = [s for s in _symbols(res.phones, res.starts_s, res.ends_s) if s[0] != PAUSE]
                for phone_kind, t, a in match_boundaries(true, got):
                    e = 1000.0 * abs(a - t)
                    errs["all"].append(e)
                    if phone_kind == "bilabial":
                        errs["bilabial"].append(e)
            for k in errs:
                errs_all[k] += errs[k]
            rows[source] = _summary(errs)
    finally:
        aligner.close()
    rows["all"] = _summary(errs_all)
    return rows


def _summary(errs: dict[str, list[float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in errs.items():
        arr = np.asarray(v) if v else np.full(1, np.nan)
        out[f"{k}_n"] = float(len(v))
        out[f"{k}_median_ms"] = float(np.median(arr))
        out[f"{k}_p90_ms"] = float(np.percentile(arr, 90))
        out[f"{k}_30ms"] = float(np.mean(arr <= 30.0)) if v else float("nan")
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m model_training.forced_align [--clips N] [--aligner dtw|sphinx|both]``: print the
    aligners' error on TTS clips with known timings."""
    parser = argparse.ArgumentParser(description="The aligners' error on TTS clips with known timings")
    parser.add_argument("--clips", type=int, default=12, help="clips per source")
    parser.add_argument("--aligner", choices=("dtw", "sphinx", "both"), default="both")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cols = ("all_n", "all_median_ms", "all_p90_ms", "all_30ms", "bilabial_n", "bilabial_median_ms",
            "bilabial_p90_ms", "bilabial_30ms")
    print(f"{'aligner':<8}{'source':<10}" + "".join(f"{c:>19}" for c in cols))
    for kind in ("dtw", "sphinx") if args.aligner == "both" else (args.aligner,):
        for name, row in check_on_tts(args.clips, kind=kind).items():
            print(f"{kind:<8}{name:<10}" + "".join(
                f"{row[c]:>19.0f}" if c.endswith("_n") else f"{row[c]:>19.2f}" if c.endswith("30ms")
                else f"{row[c]:>19.1f}" for c in cols))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
