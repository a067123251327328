"""Timed speech from Flite's kal16 and awb voices (``-psdur`` prints ``phone:end_time`` pairs).

Flite restarts its times at 0 for every sentence, so each call synthesises exactly one sentence; a
clip is one sentence. ``duration_stretch`` varies tempo. Speakers: kal (training; the same man as
Festival kal) and awb (held out).
"""

from __future__ import annotations

import random
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import soundfile as sf

from model_server.phonetics import ARPABET_TO_IPA
from model_training.corpus import sentence
from model_training.corpus_build import Clip, to_clip
from model_training.festival_gen import segments_from_ends
from model_training.timing import TimedSpeech

VOICES = {"kal": "kal16", "awb": "awb"}
#: CMU Arctic voices reserved for independent evaluation only (never training or tuning).
RESERVED_VOICES = {"slt": "slt", "rms": "rms"}


def parse_psdur(stdout: str) -> list[tuple[str, float]]:
    """``"pau:0.273 b:0.340 ..."`` -> ``[("_", 0.273), ("b", 0.340), ...]`` (IPA phones)."""
    out = []
    for token in stdout.split():
        if ":" not in token:
            continue
        phone, _, end = token.rpartition(":")
        try:
            out.append((ARPABET_TO_IPA.get(phone.lower(), "_"), float(end)))
        except ValueError:
            continue
    return out


def flite_clips(n: int, seed: int, split: str) -> Iterator[Clip]:
    """``n`` one-sentence English Flite clips of the ``split``'s speakers (train: kal, held-out: awb)."""
    yield from _flite(n, seed, ["kal"] if split == "train" else ["awb"], VOICES, split)


def reserved_clips(n: int, seed: int) -> Iterator[Clip]:
    """Evaluation-only clips of the reserved CMU voices slt and rms (``split = "reserved"``)."""
    yield from _flite(n, seed, sorted(RESERVED_VOICES), RESERVED_VOICES, "reserved")


def _flite(n: int, seed: int, speakers: list[str], voices: dict[str, str], split: str) -> Iterator[Clip]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "out.wav"
        for _ in range(n):
            speaker, text = rng.choice(speakers), sentence(rng, "en", 4, 14)
            stretch = rng.uniform(0.8, 1.35)
            result = subprocess.run(
                ["flite", "-voice", voices[speaker], "-psdur", "--setf", f"duration_stretch={stretch:.3f}",
                 "-t", text, "-o", str(wav)], check=True, capture_output=True, text=True, timeout=120)
            audio, sr = sf.read(wav, dtype="float32")
            pairs = parse_psdur(result.stdout)
            speech = TimedSpeech.from_segments(audio, sr, segments_from_ends(pairs, sr, len(audio)))
            yield to_clip(speech, rng, {"source": "flite", "speaker": f"flite:{speaker}", "language": "en",
                                        "split": split, "text": text})
