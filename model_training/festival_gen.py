"""Timed speech from Festival's diphone voices kal and ked (``utt.save.segs``).

Festival runs in batch mode on a generated Scheme script, several utterances per process. Each
utterance is built with ``(eval (list 'Utterance 'Text "..."))`` because ``Utterance`` does not evaluate
its arguments. ``utt.save.segs`` writes ``end_time 100 phone`` lines in the CMU "radio" phone set
(``pau`` = pause), mapped to IPA by :data:`phonetics.ARPABET_TO_IPA`. ``Duration_Stretch`` varies tempo.
Speakers: kal (training; the same man as Flite kal16) and ked (held out).
"""

from __future__ import annotations

import random
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import soundfile as sf

from model_server.phonetics import ARPABET_TO_IPA
from model_training.corpus import utterance
from model_training.corpus_build import Clip, to_clip
from model_training.timing import TimedSpeech

VOICES = {"kal": "voice_kal_diphone", "ked": "voice_ked_diphone"}
BATCH = 20


def read_segs(path: Path) -> list[tuple[str, float]]:
    """Parse a Festival segs file into ``(ipa_phone, end_time_s)`` pairs."""
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] != "#":
            out.append((ARPABET_TO_IPA.get(parts[2].lower(), "_"), float(parts[0])))
    return out


def segments_from_ends(pairs: list[tuple[str, float]], sample_rate: int, n: int
                       ) -> list[tuple[str, int, int]]:
    """``(phone, end_s)`` pairs -> ``(phone, start_sample, end_sample)`` segments."""
    segs, prev = [], 0
    for phone, end_s in pairs:
        end = min(n, round(end_s * sample_rate))
        if end > prev:
            segs.append((phone, prev, end))
        prev = max(prev, end)
    return segs


def festival_clips(n: int, seed: int, split: str) -> Iterator[Clip]:
    """``n`` English Festival clips of the ``split``'s speakers (train: kal, held-out: ked)."""
    rng = random.Random(seed)
    speakers = ["kal"] if split == "train" else ["ked"]
    done = 0
    with tempfile.TemporaryDirectory() as tmp:
        while done < n:
            jobs = []
            lines = []
            for k in range(min(BATCH, n - done)):
                speaker, text = rng.choice(speakers), utterance(rng, "en")
                stretch = rng.uniform(0.8, 1.35)
                wav, segs = Path(tmp) / f"{k}.wav", Path(tmp) / f"{k}.segs"
                lines += [f"({VOICES[speaker]})", f"(Parameter.set 'Duration_Stretch {stretch:.3f})",
                          f'(set! u (eval (list \'Utterance \'Text "{text}")))', "(utt.synth u)",
                          f'(utt.save.wave u "{wav}" \'riff)', f'(utt.save.segs u "{segs}")']
                jobs.append((speaker, text, wav, segs))
            script = Path(tmp) / "batch.scm"
            script.write_text("\n".join(lines) + "\n")
            subprocess.run(["festival", "-b", str(script)], check=True, capture_output=True, timeout=600)
            for speaker, text, wav, segs in jobs:
                audio, sr = sf.read(wav, dtype="float32")
                pairs = read_segs(segs)
                speech = TimedSpeech.from_segments(audio, sr, segments_from_ends(pairs, sr, len(audio)))
                yield to_clip(speech, rng, {"source": "festival", "speaker": f"festival:{speaker}",
                                            "language": "en", "split": split, "text": text})
                done += 1


