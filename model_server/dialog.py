"""Dialog mode: a line's transcript makes the lips hit every bilabial the audio model may blur.

Stages (each one can decline; declining means "audio only" plus a warning, never a failed request):

1. clean the transcript (:func:`clean_transcript`): emoji, symbols and control characters go; numbers
   and punctuation stay (espeak-ng reads numbers in the line's language, punctuation gives pauses);
2. speak it with espeak-ng (:mod:`model_server.espeak`, the voice ``language``), twice: at the default
   rate, then at the rate that makes its speech as long as the recording's;
3. align the synthesis to the recording (:mod:`model_server.dtw_align`) and turn the aligned phones into
   AU targets with the articulatory model the acoustic model was trained on
   (:func:`model_server.coarticulation.au_targets`);
4. check the match: the speaking-rate ratio must be plausible (:data:`RATE_RATIO_RANGE`) and the
   targets' lip opening (AU25) and jaw (AU26) must follow the audio model's (Pearson correlation at
   least :data:`MIN_AGREEMENT`). The DTW cost alone separates right from wrong transcripts poorly
   (docs/evaluation.md), but a wrong text's targets open and close the mouth at the wrong times;
5. blend (:func:`blend`): around every aligned bilabial, with weight ``w`` = the targets' closure, the
   closure AUs rise to at least the target and the other AUs move toward the target; elsewhere the
   audio model's AUs are kept, so amplitude and timing still come from the audio.

``meta["dialog"]`` (:func:`dialog_meta`) says whether a transcript was given and used, the language, the
match figures, and the warning when it was not used. Pure module (numpy, soxr, the espeak-ng library when
present).
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from au_contract import CLOSURE_AUS, MODEL_AUS

from . import dtw_align
from .coarticulation import au_targets, bilabial_windows
from .features import SAMPLE_RATE

log = logging.getLogger(__name__)

#: Longest audio aligned to a transcript, seconds (DTW needs memory ~ duration squared: 30 s = ~80 MB).
MAX_DIALOG_S = 30.0
#: Accepted ratio of the synthesis's speech length at the default rate to the recording's.
RATE_RATIO_RANGE = (0.45, 2.2)
#: Least correlation of the targets' AU25/AU26 with the audio model's for the transcript to be used.
MIN_AGREEMENT = 0.3
#: A bilabial is forced closed only where the audio model shows closure AUs at least this high ...
MIN_EVIDENCE_CLOSURE = 0.15
#: ... or the lips' parting (AU25) dips below this share of its mean over the surrounding +-150 ms.
DIP_RATIO = 0.7
_DEFAULT_WPM = 175
_PAD_S = 0.25
_KEPT_CATEGORIES = ("L", "M", "N", "P", "Zs")


@dataclass
class DialogResult:
    """What the transcript adds to one clip.

    Attributes:
        targets: [T, len(MODEL_AUS)] AU targets at 100 Hz from the aligned phones, or None when unused.
        weight: [T] how much the targets count per frame (the targets' closure), or None.
        meta: the ``meta["dialog"]`` block (see :func:`dialog_meta`).
    """

    targets: np.ndarray | None = None
    weight: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def clean_transcript(text: str) -> tuple[str, int]:
    """The transcript espeak-ng is given: letters, marks, numbers, punctuation and spaces only.

    Returns:
        (cleaned text with runs of white space collapsed, how many characters were dropped).
    """
    kept = []
    dropped = 0
    for ch in text:
        if ch in "\n\t\r" or unicodedata.category(ch).startswith(_KEPT_CATEGORIES):
            kept.append(ch)
        else:
            dropped += 1
    return " ".join("".join(kept).split()), dropped


def dialog_meta(given: bool, language: str, used: bool = False, warning: str | None = None,
                **figures: Any) -> dict[str, Any]:
    """The ``meta["dialog"]`` block.

    Keys: ``transcript`` (one was given), ``used`` (it shaped the tracks), ``language``, ``warning``
    (why it was not used, or what was odd; None when all went well), plus match figures when aligned:
    ``dtw_cost``, ``rate_ratio``, ``agreement`` (correlation of targets and audio model, -1..1),
    ``bilabials`` (aligned bilabial phones), ``dropped_characters``.
    """
    return {"transcript": given, "used": used, "language": language, "warning": warning, **figures}


def _synthesis(text: str, language: str, rate_wpm: int
               ) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray] | None:
    """espeak-ng speech of ``text`` at 16 kHz padded with silence: (audio, phones, starts_s, ends_s)."""
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


def align(samples: np.ndarray, text: str, language: str) -> dtw_align.Alignment | None:
    """Align ``text`` spoken by espeak-ng voice ``language`` to 16 kHz ``samples`` (None: nothing spoken).

    Raises:
        model_server.espeak.EspeakUnavailableError: no libespeak-ng here.
        ValueError: espeak-ng has no voice ``language``.
    """
    first = _synthesis(text, language, _DEFAULT_WPM)
    if first is None:
        return None
    a0, b0 = dtw_align.speech_span_s(first[0])
    a1, b1 = dtw_align.speech_span_s(samples)
    ratio = (b0 - a0) / max(b1 - a1, 0.05)
    rate = int(np.clip(_DEFAULT_WPM * ratio, 80, 450))
    ref = _synthesis(text, language, rate) if abs(rate - _DEFAULT_WPM) > 8 else first
    if ref is None:
        ref, rate = first, _DEFAULT_WPM
    phones, starts, ends, cost = dtw_align.align_reference(samples, *ref)
    return dtw_align.Alignment(phones, starts, ends, cost, float(ratio), rate)


def _agreement(targets: np.ndarray, speech100: np.ndarray) -> float:
    """Mean Pearson correlation of AU25 and AU26 between targets and the audio model ([T, K] each)."""
    values = []
    for code in ("AU25", "AU26"):
        i = MODEL_AUS.index(code)
        a, b = targets[:, i].astype(np.float64), speech100[:, i].astype(np.float64)
        if a.std() < 1e-6 or b.std() < 1e-6:
            values.append(0.0)
            continue
        values.append(float(np.corrcoef(a, b)[0, 1]))
    return float(np.mean(values))


def transcript_targets(samples: np.ndarray, speech100: np.ndarray, text: str, language: str
                       ) -> DialogResult:
    """Align ``text`` to the clip and decide whether its targets may shape the tracks (never raises).

    Args:
        samples: [N] mono 16 kHz audio.
        speech100: [T, len(MODEL_AUS)] the audio model's AUs at 100 Hz (T = ceil(N / 160)).
        text: the transcript as the user gave it ("" = none).
        language: espeak-ng voice code (``en``, ``de``, ``fr``...).
    """
    if not text.strip():
        return DialogResult(meta=dialog_meta(False, language))
    cleaned, dropped = clean_transcript(text)

    def unused(warning: str, **figures: Any) -> DialogResult:
        log.warning("transcript not used: %s", warning)
        return DialogResult(meta=dialog_meta(True, language, False, warning, dropped_characters=dropped,
                                             **figures))

    if not any(ch.isalnum() for ch in cleaned):
        return unused("the transcript has no words to speak (only symbols or emoji): audio only")
    if len(samples) > MAX_DIALOG_S * SAMPLE_RATE:
        return unused(f"the audio is longer than {MAX_DIALOG_S:g} s, the most a transcript is aligned "
                      f"to: audio only (split the line)")
    try:
        found = align(samples, cleaned, language)
    except ValueError:
        return unused(f"espeak-ng has no voice {language!r} (an espeak-ng voice code such as en, en-gb, de, "
                      f"fr, es): audio only")
    except Exception as exc:  # a missing library or a failed alignment: audio only, never a failure
        return unused(f"the transcript could not be aligned ({exc}): audio only")
    if found is None:
        return unused("espeak-ng spoke nothing for this transcript: audio only")
    return _judge(found, speech100, language, dropped)


def _judge(found: dtw_align.Alignment, speech100: np.ndarray, language: str, dropped: int) -> DialogResult:
    """Targets of an alignment, kept only when the match is plausible."""
    n = speech100.shape[0]
    targets = au_targets(found.phones, found.starts_s, found.ends_s, n)  # [T, K]
    agreement = _agreement(targets, speech100)
    figures = {"dtw_cost": round(found.cost, 3), "rate_ratio": round(found.rate_ratio, 3),
               "agreement": round(agreement, 3), "dropped_characters": dropped,
               "bilabials": len(bilabial_windows(found.phones, found.starts_s, found.ends_s))}
    lo, hi = RATE_RATIO_RANGE
    warning = None
    if not lo <= found.rate_ratio <= hi:
        warning = (f"the transcript's length does not fit the audio (espeak-ng's speech is "
                   f"{found.rate_ratio:.2f}x as long): is it this line's text? audio only")
    elif agreement < MIN_AGREEMENT:
        warning = (f"the transcript does not match the audio (agreement {agreement:.2f} < {MIN_AGREEMENT}): "
                   f"is it this line's text, in language {language!r}? audio only")
    if warning:
        log.warning("transcript not used: %s", warning)
        return DialogResult(meta=dialog_meta(True, language, False, warning, **figures))
    windows = bilabial_windows(found.phones, found.starts_s, found.ends_s)
    evidenced = _evidenced(windows, speech100)
    figures["bilabials_evidenced"] = len(evidenced)
    weight = np.clip(targets[:, MODEL_AUS.index("AU24")] / 0.8, 0.0, 1.0) * _window_mask(evidenced, n)
    note = f"{dropped} symbol(s) of the transcript were ignored" if dropped else None
    return DialogResult(targets, weight, dialog_meta(True, language, True, note, **figures))


def _evidenced(windows: list[tuple[float, float]], speech100: np.ndarray) -> list[tuple[float, float]]:
    """The aligned bilabials the audio model shows some sign of: closure AUs at least
    :data:`MIN_EVIDENCE_CLOSURE` or lips parting (AU25) dipping below :data:`DIP_RATIO` of their
    neighbourhood's mean. A bilabial with no sign at all (a misalignment, a wrong word) is left out."""
    closure = speech100[:, [MODEL_AUS.index(c) for c in CLOSURE_AUS]].max(axis=1)  # [T]
    lips = speech100[:, MODEL_AUS.index("AU25")]
    n = len(closure)
    out = []
    for a, b in windows:
        lo, hi = max(0, int((a - 0.05) * 100)), min(n, int(np.ceil((b + 0.05) * 100)))
        around = lips[max(0, lo - 15):min(n, hi + 15)]
        if hi <= lo or not len(around):
            continue
        if closure[lo:hi].max() >= MIN_EVIDENCE_CLOSURE or lips[lo:hi].min() <= DIP_RATIO * around.mean():
            out.append((a, b))
    return out


def _window_mask(windows: list[tuple[float, float]], n: int) -> np.ndarray:
    """[n] 1 within 80 ms of a window (100 Hz frames), else 0."""
    mask = np.zeros(n, np.float32)
    for a, b in windows:
        mask[max(0, int((a - 0.08) * 100)):max(0, int(np.ceil((b + 0.08) * 100)))] = 1.0
    return mask


def blend(speech100: np.ndarray, result: DialogResult) -> np.ndarray:
    """The audio model's AUs with the transcript's closures: [T, K] -> [T, K] float32.

    With ``w`` the targets' closure per frame: closure AUs become ``max(model, w * target)``-like
    (``model + w * max(target - model, 0)``), the others ``model + w * (target - model)``; where ``w`` is 0
    (away from bilabials) the model's values are kept unchanged.
    """
    if result.targets is None or result.weight is None:
        return speech100
    w = result.weight[:, None]  # [T, 1]
    delta = result.targets - speech100  # [T, K]
    closing = np.array([code in CLOSURE_AUS for code in MODEL_AUS])
    delta[:, closing] = np.maximum(delta[:, closing], 0.0)
    return np.clip(speech100 + w * delta, 0.0, 1.0).astype(np.float32)


__all__ = ["MAX_DIALOG_S", "MIN_AGREEMENT", "RATE_RATIO_RANGE", "DialogResult", "align", "blend",
           "clean_transcript", "dialog_meta", "transcript_targets"]
