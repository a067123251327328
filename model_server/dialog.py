"""Dialog mode: a line's transcript makes the lips hit every bilabial the audio model may blur.

Stages (each one can decline; declining means "audio only" plus a warning, never a failed request):

1. clean the transcript (:func:`clean_transcript`): emoji, symbols and control characters go; numbers
   and punctuation stay (espeak-ng reads numbers in the line's language, punctuation gives pauses);
2. align it (:mod:`model_server.transcript_align`): espeak-ng speaks it in the voice of ``language``
   (:func:`~model_server.voices.resolve_voice`: ``en-US``, ``fr_CA``, ``zh`` work too) at the
   recording's rate, DTW over cepstra and the acoustic model's AUs moves its phones onto the recording,
   and the same recording aligned to that reading played backwards gives the chance level of the match;
3. judge the match (:func:`match_score`): how far the text beats its reversed self, in DTW cost
   (``relative_cost``), in how well the aligned phones' lip opening (AU25) and jaw (AU26) follow the audio
   model's (``agreement`` minus the reversed reading's ``null_agreement``) and, with weights that have the
   phone-class output, in how likely the model finds the aligned phone classes (``phone_gain``: mean log
   posterior of the aligned classes minus the reversed reading's) and how close they come to the classes
   the model hears best, frame by frame (``phone_fit``: mean log posterior of the aligned class minus that
   of the frame's most likely class; 0 = the model hears exactly the aligned phones). Below
   :data:`MIN_MATCH` (or a speaking-rate ratio outside :data:`RATE_RATIO_RANGE`) the transcript is not
   used; from :data:`TRUST_MATCH` every aligned bilabial closes; in between only those the audio model
   shows some sign of (:func:`_evidenced`: closure AUs or parting lips that dip, and with the phone-class
   output a bilabial posterior of at least :data:`MIN_BILABIAL_POSTERIOR`), so a wrong text that slips
   through can add little. The thresholds are per kind of score (with and without the phone terms). With
   them, :data:`TRUST_MATCH` and :data:`MIN_MATCH` pass the same shares of wrong transcripts (another
   clip's text) of the real-speech development set as the session-8 score did at 1.5 and 0.6 (2.6 %
   and 12 %), and about three quarters of the right ones reach trust instead of half
   (docs/evaluation.md, session 12);
4. blend (:func:`blend`): around each bilabial kept, the closure AUs rise to at least the aligned phones'
   target (weight ``w`` = the target's closure); every other AU, and every frame away from the kept
   bilabials, keeps the audio model's value, so amplitude, rounding and timing still come from the audio.
   The server's closure stage then seals those closures (``model_server.closure``).

``meta["dialog"]`` (:func:`dialog_meta`) says whether a transcript was given and used, the language, the
match figures, and the warning when it was not used. Pure module (numpy, soxr, the espeak-ng library).
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from au_contract import CLOSURE_AUS, MODEL_AUS

from . import transcript_align, voices
from .coarticulation import au_targets, bilabial_windows
from .features import SAMPLE_RATE
from .phonetics import PHONE_CLASSES, SILENCE_CLASS, phone_class_frames
from .transcript_align import Alignment, ModelFrames, ModelOf
from .voices import UnknownVoiceError

log = logging.getLogger(__name__)

#: Longest audio aligned to a transcript, seconds (the band grows with the line: on one core a 60 s line's
#: dialog stage takes ~0.3 s and its DTW ~60 MB, a 120 s line's ~0.8 s and ~120 MB; bench/) ...
MAX_DIALOG_S = 120.0
#: ... and the shortest (the aligner's coarse grid needs a few 40 ms frames; no word is shorter).
MIN_DIALOG_S = 0.1
#: Accepted ratio of the synthesis's speech length at the default rate to the recording's ...
RATE_RATIO_RANGE = (0.45, 2.2)
#: ... except that a reading this short (a word or two: espeak-ng reads "puits" in 0.22 s, "barrière" in
#: 0.4 s) may be said far slower than espeak-ng says it, down to ``SHORT_RATE_RATIO_MIN``: a word said on
#: its own is drawn out (a children's game, a language course, a call-out), and the real-speech
#: development set's French words are 0.33-0.45x as long in espeak-ng's reading. Between
#: ``SHORT_READING_S`` and ``LONG_READING_S`` the least ratio rises linearly to ``RATE_RATIO_RANGE[0]``;
#: the match score still judges every text the rate lets through.
SHORT_READING_S, LONG_READING_S = 0.6, 1.2
SHORT_RATE_RATIO_MIN = 0.3
#: A transcript with more characters than this per second of audio (at least one second) is declined
#: before espeak-ng reads it: espeak-ng speaks about 15 a second at its default rate, so such a text is
#: far outside ``RATE_RATIO_RANGE`` anyway, and reading a 4 KB text costs a quarter of a second.
MAX_CHARS_PER_S = 60.0
#: Weight of the relative cost's excess over 1 in :func:`match_score`.
RELATIVE_COST_WEIGHT = 4.0
#: Weight of the phone term (``phone_gain``, natural-log units per frame) in :func:`match_score`.
PHONE_GAIN_WEIGHT = 1.0
#: Weight of the phone fit (:func:`phone_fit`, natural-log units per frame) in :func:`match_score` ...
PHONE_FIT_WEIGHT = 2.0
#: ... counted from this fit (a text whose aligned classes the model finds e^1.5 times less likely than
#: its best ones, frame by frame, adds nothing: right dev transcripts have a median fit of -0.9, wrong
#: ones -2.2, wrong held-out TTS ones -3.6).
PHONE_FIT_OFFSET = 1.5
#: Least match score for the transcript to be used at all (only bilabials with evidence close), without
#: and with the phone terms ...
MIN_MATCH = {False: 0.3, True: 0.1}
#: ... and for every aligned bilabial to close.
TRUST_MATCH = {False: 0.5, True: 1.1}
#: Floor of a posterior before its logarithm (a class the model rules out costs at most log(1e-6)).
_MIN_POSTERIOR = 1e-6
#: A bilabial is forced closed only where the audio model shows closure AUs at least this high ...
MIN_EVIDENCE_CLOSURE = 0.15
#: ... or the lips' parting (AU25) dips below this share of its mean over the surrounding +-150 ms; and,
#: with the phone-class output, where the model gives the bilabial class at least this posterior.
DIP_RATIO = 0.7
MIN_BILABIAL_POSTERIOR = 0.05
_KEPT_CATEGORIES = ("L", "M", "N", "P", "Zs")


@dataclass
class DialogResult:
    """What the transcript adds to one clip.

    Attributes:
        targets: [T, len(MODEL_AUS)] AU targets at 100 Hz from the aligned phones, or None when unused.
        weight: [T] how much the targets count per frame (the targets' closure), or None.
        meta: the ``meta["dialog"]`` block (see :func:`dialog_meta`).
        trusted: the match reached :data:`TRUST_MATCH` (every aligned bilabial kept), not only
            :data:`MIN_MATCH` (those the audio supports).
    """

    targets: np.ndarray | None = None
    weight: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    trusted: bool = False


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
    ``voice`` (the espeak-ng voice that read it),
    ``dtw_cost``, ``relative_cost`` (reversed reading's cost / this one's), ``rate_ratio``, ``agreement``
    (correlation of targets and audio model, -1..1), ``phone_gain`` and ``phone_fit`` (None without the
    phone-class output), ``match`` (:func:`match_score`), ``bilabials_closed``, ``bilabials`` (aligned
    bilabial phones), ``dropped_characters``.
    """
    return {"transcript": given, "used": used, "language": language, "warning": warning, **figures}


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


def match_score(relative_cost: float, agreement_gain: float, phone_gain: float | None = None,
                phone_fit: float | None = None) -> float:
    """How well a transcript fits its recording, beyond chance: ``RELATIVE_COST_WEIGHT * (relative_cost -
    1) + agreement_gain (+ PHONE_GAIN_WEIGHT * phone_gain) (+ PHONE_FIT_WEIGHT * (phone_fit +
    PHONE_FIT_OFFSET))`` where each gain is this reading's figure minus the reversed reading's (the aligner
    hears the model, so any text's phones agree with it somewhat) and ``phone_fit`` is :func:`phone_fit`.
    Mostly below :data:`MIN_MATCH` (``[phone_gain is not None]``) for a wrong text; a NaN relative cost
    counts as 1."""
    excess = 0.0 if not np.isfinite(relative_cost) else relative_cost - 1.0
    score = RELATIVE_COST_WEIGHT * excess + agreement_gain
    if phone_gain is not None:
        score += PHONE_GAIN_WEIGHT * phone_gain
    if phone_fit is not None:
        score += PHONE_FIT_WEIGHT * (phone_fit + PHONE_FIT_OFFSET)
    return score


def _aligned_classes(found: Alignment, n: int) -> np.ndarray:
    """[n] the phone class of each 100 Hz frame under the alignment (what :func:`phone_gain` and
    :func:`phone_fit` score; computing it once serves both)."""
    return phone_class_frames(found.phones, found.starts_s, found.ends_s, n)


def phone_gain(found: Alignment, posteriors: np.ndarray, labels: np.ndarray | None = None) -> float:
    """Mean log posterior of the aligned phone classes minus that of the reversed reading's, over the
    frames either reading puts speech in (0 when neither does).

    Args:
        found: the alignment (with ``null_segments``).
        posteriors: [T, C] the model's phone-class posteriors of the recording.
        labels: [T] :func:`_aligned_classes` of ``found``, when the caller has them.
    """
    if found.null_segments is None:
        return 0.0
    n = len(posteriors)
    labels = _aligned_classes(found, n) if labels is None else labels
    null = phone_class_frames(*found.null_segments, n)
    speech = (labels != SILENCE_CLASS) | (null != SILENCE_CLASS)
    if not speech.any():
        return 0.0
    rows = np.flatnonzero(speech)
    logp = np.log(np.maximum(posteriors[rows], _MIN_POSTERIOR))
    rows_here = np.arange(len(rows))
    return float(logp[rows_here, labels[rows]].mean() - logp[rows_here, null[rows]].mean())


def phone_fit(found: Alignment, posteriors: np.ndarray, labels: np.ndarray | None = None) -> float:
    """How close the aligned phone classes come to what the model hears: the mean, over the frames the
    alignment puts speech in, of the log posterior of the aligned class minus that of the frame's most
    likely class (<= 0; 0 = the model's best class everywhere; 0 when no frame holds speech).

    A right transcript's phones land where the model hears them; a wrong one's cannot, whatever path the
    aligner finds (development set: AUC 0.91 between right and wrong texts, against 0.86 for
    :func:`phone_gain`; held-out TTS 0.999).

    Args:
        found: the alignment.
        posteriors: [T, C] the model's phone-class posteriors of the recording.
        labels: [T] :func:`_aligned_classes` of ``found``, when the caller has them.
    """
    labels = _aligned_classes(found, len(posteriors)) if labels is None else labels
    rows = np.flatnonzero(labels != SILENCE_CLASS)
    if not len(rows):
        return 0.0
    logp = np.log(np.maximum(posteriors[rows], _MIN_POSTERIOR))
    return float((logp[np.arange(len(rows)), labels[rows]] - logp.max(axis=1)).mean())


def transcript_targets(samples: np.ndarray, speech100: np.ndarray, text: str, language: str,
                       model_of: ModelOf | None = None, posteriors: np.ndarray | None = None,
                       mel: np.ndarray | None = None) -> DialogResult:
    """Align ``text`` to the clip and decide whether its targets may shape the tracks (never raises).

    Args:
        samples: [N] mono 16 kHz audio.
        speech100: [T, len(MODEL_AUS)] the audio model's AUs at 100 Hz (T = ceil(N / 160)).
        text: the transcript as the user gave it ("" = none).
        language: espeak-ng voice code (``en``, ``de``, ``fr``...), or a language tag or name espeak-ng's
            voice can be found for (``en-US``, ``de-DE``, ``zh``, ``French``:
            :func:`model_server.voices.resolve_voice`).
        model_of: the acoustic model for the aligner (None: cepstra only).
        posteriors: [T, C] the model's phone-class posteriors of ``samples`` (what ``model_of(samples)``
            gives with them); None for weights without the phone-class output (or without ``model_of``).
        mel: the log-mel frames the model heard in ``samples`` (``log_mel(samples)``), when the caller has
            them: the aligner makes its cepstra from them instead of a second spectrum.
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
    if len(samples) < MIN_DIALOG_S * SAMPLE_RATE:
        return unused(f"the audio is only {len(samples) / SAMPLE_RATE:.2f} s long, too short to align a "
                      f"transcript to: audio only")
    seconds = len(samples) / SAMPLE_RATE
    if len(cleaned) > MAX_CHARS_PER_S * max(seconds, 1.0):
        return unused(f"the transcript is far longer than the audio ({len(cleaned)} characters for "
                      f"{seconds:.1f} s): is it this line's text? audio only")
    try:
        voice = voices.resolve_voice(language)
        reading = transcript_align.read(samples, cleaned, voice)
        if reading is None:
            return unused("espeak-ng spoke nothing for this transcript: audio only")
        lo, hi = rate_ratio_range(reading.span_s[1] - reading.span_s[0])
        if not lo <= reading.rate_ratio <= hi:  # a reading far longer or shorter than the recording
            return unused(f"the transcript's length does not fit the audio (espeak-ng's speech is "
                          f"{reading.rate_ratio:.2f}x as long): is it this line's text? audio only",
                          rate_ratio=round(reading.rate_ratio, 3), voice=voice)
        heard = ModelFrames(speech100, posteriors, mel) if model_of else None
        found = transcript_align.align(samples, cleaned, voice, model_of, heard, reading=reading)
    except UnknownVoiceError:
        return unused(f"espeak-ng has no voice {language!r} (give an espeak-ng voice code, a language tag "
                      f"or a language name, such as en, en-US, de, fr, es-MX, French): audio only")
    except Exception as exc:  # a missing library or a failed alignment: audio only, never a failure
        return unused(f"the transcript could not be aligned ({exc}): audio only")
    assert found is not None  # the reading spoke
    result = _judge(found, speech100, language, dropped, posteriors if model_of else None)
    result.meta["voice"] = voice
    return result


def rate_ratio_range(reading_s: float) -> tuple[float, float]:
    """The accepted rate ratios (:data:`RATE_RATIO_RANGE`) of a reading whose speech lasts ``reading_s``
    seconds: wider below for a word or two (:data:`SHORT_READING_S`)."""
    lo = float(np.interp(reading_s, (SHORT_READING_S, LONG_READING_S),
                         (SHORT_RATE_RATIO_MIN, RATE_RATIO_RANGE[0])))
    return lo, RATE_RATIO_RANGE[1]


def _judge(found: Alignment, speech100: np.ndarray, language: str, dropped: int,
           posteriors: np.ndarray | None = None) -> DialogResult:
    """Targets of an alignment, kept only when the match is plausible (see the module's stage 3)."""
    n = speech100.shape[0]
    targets = au_targets(found.phones, found.starts_s, found.ends_s, n)  # [T, K]
    agreement = _agreement(targets, speech100)
    null_agreement = 0.0
    if found.null_segments is not None:
        null_agreement = _agreement(au_targets(*found.null_segments, n), speech100)
    phones = fit = None
    if posteriors is not None:
        labels = _aligned_classes(found, len(posteriors))
        phones, fit = phone_gain(found, posteriors, labels), phone_fit(found, posteriors, labels)
    score = match_score(found.relative_cost, agreement - null_agreement, phones, fit)
    least, trusted = MIN_MATCH[phones is not None], TRUST_MATCH[phones is not None]
    windows = bilabial_windows(found.phones, found.starts_s, found.ends_s)
    relative = found.relative_cost
    figures = {"dtw_cost": round(found.cost, 3),
               "relative_cost": round(relative, 3) if np.isfinite(relative) else None,
               "rate_ratio": round(found.rate_ratio, 3), "agreement": round(agreement, 3),
               "null_agreement": round(null_agreement, 3),
               "phone_gain": None if phones is None else round(phones, 3),
               "phone_fit": None if fit is None else round(fit, 3), "match": round(score, 3),
               "dropped_characters": dropped, "bilabials": len(windows)}
    if score < least:
        warning = (f"the transcript does not match the audio (match {score:.2f} < {least}): "
                   f"is it this line's text, in language {language!r}? audio only")
        log.warning("transcript not used: %s", warning)
        return DialogResult(meta=dialog_meta(True, language, False, warning, **figures))
    kept = windows if score >= trusted else _evidenced(windows, speech100, posteriors)
    figures["bilabials_closed"] = len(kept)
    weight = np.clip(targets[:, MODEL_AUS.index("AU24")] / 0.8, 0.0, 1.0) * _window_mask(kept, n)
    notes = [] if score >= trusted else [
        f"the transcript matches the audio only loosely (match {score:.2f} < {trusted}): "
        f"{len(kept)} of {len(windows)} bilabials closed, those the audio supports"]
    if dropped:
        notes.append(f"{dropped} symbol(s) of the transcript were ignored")
    return DialogResult(targets, weight, dialog_meta(True, language, True, "; ".join(notes) or None,
                                                     **figures), trusted=score >= trusted)


def _evidenced(windows: list[tuple[float, float]], speech100: np.ndarray,
               posteriors: np.ndarray | None = None) -> list[tuple[float, float]]:
    """The aligned bilabials the audio model shows some sign of: closure AUs at least
    :data:`MIN_EVIDENCE_CLOSURE` or lips parting (AU25) dipping below :data:`DIP_RATIO` of their
    neighbourhood's mean, and (with ``posteriors`` [T, C]) the bilabial class at least
    :data:`MIN_BILABIAL_POSTERIOR` somewhere in the window. A bilabial with no sign at all (a
    misalignment, a wrong word) is left out."""
    closure = speech100[:, [MODEL_AUS.index(c) for c in CLOSURE_AUS]].max(axis=1)  # [T]
    lips = speech100[:, MODEL_AUS.index("AU25")]
    bilabial = None if posteriors is None else posteriors[:, PHONE_CLASSES.index("bilabial")]
    n = len(closure)
    out = []
    for a, b in windows:
        lo, hi = max(0, int((a - 0.05) * 100)), min(n, int(np.ceil((b + 0.05) * 100)))
        around = lips[max(0, lo - 15):min(n, hi + 15)]
        if hi <= lo or not len(around):
            continue
        seen = closure[lo:hi].max() >= MIN_EVIDENCE_CLOSURE or lips[lo:hi].min() <= DIP_RATIO * around.mean()
        heard = bilabial is None or bilabial[lo:hi].max() >= MIN_BILABIAL_POSTERIOR
        if seen and heard:
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

    With ``w`` the weight per frame (the targets' closure around each kept bilabial, else 0), each closure
    AU becomes ``model + w * max(target - model, 0)``; every other AU keeps the model's value (a wrong
    vowel in the text cannot change the mouth's shape; the closure stage opens and shuts the lips).
    """
    if result.targets is None or result.weight is None:
        return speech100
    w = result.weight[:, None]  # [T, 1]
    closing = np.array([code in CLOSURE_AUS for code in MODEL_AUS])
    raise_by = np.maximum(result.targets - speech100, 0.0) * closing  # [T, K]
    return np.clip(speech100 + w * raise_by, 0.0, 1.0).astype(np.float32)


__all__ = ["MAX_DIALOG_S", "MIN_DIALOG_S", "MIN_MATCH", "RATE_RATIO_RANGE", "SHORT_RATE_RATIO_MIN",
           "TRUST_MATCH", "DialogResult", "blend", "clean_transcript", "dialog_meta", "match_score",
           "phone_fit", "phone_gain", "rate_ratio_range", "transcript_targets"]
