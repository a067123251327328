"""Generate the timed-speech corpus: engines -> 16 kHz clips with phone timings, split by speaker.

Every clip is resampled to 16 kHz, padded with a random stretch of silence on both sides (a clip's edges
are rest), and stored with its phones, times and metadata (source, speaker, language, split). The
split is by speaker / voice variant: a held-out speaker is never heard in training in any engine or
language (Festival kal and Flite kal16 are the same man, so both are "kal").

Reserved sources (CMU slt/rms/bdl/clb, MBROLA, RHVoice, Pico, recordings of real people) are refused
here: see :data:`RESERVED_SPEAKERS`.
"""

from __future__ import annotations

import logging
import pickle
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from model_server.features import SAMPLE_RATE
from model_training.corpus import ESPEAK_LANGUAGE, utterance
from model_training.timing import PAUSE, TimedSpeech

log = logging.getLogger(__name__)

#: Never used for training or tuning (issue #3): evaluation-only speakers and engines.
RESERVED_SPEAKERS = frozenset({"slt", "rms", "bdl", "clb", "mbrola", "rhvoice", "pico"})

#: espeak-ng variants heard in training, and the held-out ones (never trained on, any language).
ESPEAK_TRAIN_VARIANTS: tuple[str, ...] = (
    "", "m1", "m2", "m4", "m5", "m6", "m7", "f1", "f2", "f4", "f5", "klatt", "klatt2", "klatt3",
    "Andy", "adam", "anika", "benjamin", "david", "edward", "linda", "max", "michel", "paul",
    "quincy", "rob", "robert", "travis", "zac", "belinda", "john", "aunty", "iven", "Alicia",
)
ESPEAK_HELDOUT_VARIANTS: tuple[str, ...] = ("m3", "f3", "klatt4", "steph", "Annie", "grandpa")
#: Speakers of the other engines and their split.
ENGINE_SPLIT: dict[str, str] = {"kal": "train", "joe": "train", "ked": "heldout", "awb": "heldout"}


@dataclass
class Clip:
    """One stored clip.

    Attributes:
        audio: [N] int16 samples at 16 kHz.
        phones / starts_s / ends_s: contiguous IPA segmentation of the padded clip.
        meta: source, speaker, language, split, text.
    """

    audio: np.ndarray
    phones: list[str]
    starts_s: np.ndarray
    ends_s: np.ndarray
    meta: dict[str, str]

    def float_audio(self) -> np.ndarray:
        """[N] float32 in [-1, 1]."""
        return self.audio.astype(np.float32) / 32768.0


def to_clip(speech: TimedSpeech, rng: random.Random, meta: dict[str, str]) -> Clip:
    """Resample to 16 kHz, peak-normalise, pad 0.15-0.6 s of silence on both sides, shift times."""
    audio = speech.audio.astype(np.float64)
    if speech.sample_rate != SAMPLE_RATE:
        g = np.gcd(SAMPLE_RATE, speech.sample_rate)
        audio = resample_poly(audio, SAMPLE_RATE // g, speech.sample_rate // g)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    audio = audio / peak * 0.7 if peak > 0 else audio
    pre, post = int(rng.uniform(0.15, 0.6) * SAMPLE_RATE), int(rng.uniform(0.15, 0.6) * SAMPLE_RATE)
    audio = np.concatenate([np.zeros(pre), audio, np.zeros(post)])
    shift = pre / SAMPLE_RATE
    total = len(audio) / SAMPLE_RATE
    phones = [PAUSE, *speech.phones, PAUSE]
    starts = np.concatenate([[0.0], speech.starts_s + shift, [speech.duration_s + shift]])
    ends = np.concatenate([[shift], speech.ends_s + shift, [total]])
    phones, starts, ends = _merge_pauses(phones, starts, ends)
    return Clip((np.clip(audio, -1, 1) * 32767).astype(np.int16), phones, starts, ends, meta)


def _merge_pauses(phones: list[str], starts: np.ndarray, ends: np.ndarray
                  ) -> tuple[list[str], np.ndarray, np.ndarray]:
    out_p: list[str] = []
    out_s: list[float] = []
    out_e: list[float] = []
    for p, a, b in zip(phones, starts, ends, strict=True):
        if b <= a:
            continue
        if out_p and p == PAUSE and out_p[-1] == PAUSE:
            out_e[-1] = float(b)
            continue
        out_p.append(p)
        out_s.append(float(a))
        out_e.append(float(b))
    return out_p, np.asarray(out_s), np.asarray(out_e)


def espeak_clips(n: int, seed: int, languages: tuple[str, ...], split: str, closures: bool = True
                 ) -> Iterator[Clip]:
    """``n`` espeak-ng clips with random language, variant, rate and pitch for ``split``; ``closures``:
    stops start at their closure (timing version 2) or, if False, at their release (timing version 1,
    :class:`model_training.espeak_gen.EspeakEngine`)."""
    from model_training.espeak_gen import EspeakVoice, IsolatedEspeak

    engine = IsolatedEspeak(closures)
    rng = random.Random(seed)
    variants = ESPEAK_TRAIN_VARIANTS if split == "train" else ESPEAK_HELDOUT_VARIANTS
    for _ in range(n):
        lang = rng.choice(languages)
        variant = rng.choice(variants)
        voice = EspeakVoice(ESPEAK_LANGUAGE[lang], variant, rate_wpm=rng.randint(120, 260),
                            pitch=rng.randint(15, 90), pitch_range=rng.randint(10, 90))
        text = utterance(rng, lang)
        speech = engine.synthesize(text, voice)
        if speech is None or not speech.phones:
            continue
        yield to_clip(speech, rng, {"source": "espeak-ng", "speaker": f"espeak:{variant or 'default'}",
                                    "language": lang, "split": split, "text": text})
    engine.close()


def write_clips(path: Path, clips: Iterator[Clip], progress: Callable[[int], None] | None = None) -> int:
    """Pickle clips to ``path`` (one list); returns the number written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out: list[Clip] = []
    for clip in clips:
        if clip.meta.get("speaker", "").split(":")[-1].lower() in RESERVED_SPEAKERS:
            raise RuntimeError(f"reserved speaker {clip.meta['speaker']} must not enter the training data")
        out.append(clip)
        if progress:
            progress(len(out))
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(out, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    log.info("wrote %d clips (%.1f min) to %s", len(out),
             sum(len(c.audio) for c in out) / SAMPLE_RATE / 60, path)
    return len(out)


def read_clips(path: Path) -> list[Clip]:
    """Load clips written by :func:`write_clips`."""
    with path.open("rb") as fh:
        return list(pickle.load(fh))
