"""Forced alignment of a known English text with pocketsphinx (for the ALSA real-speech check)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model_server.features import SAMPLE_RATE
from model_server.phonetics import ARPABET_TO_IPA


def load_16k(path: Path) -> np.ndarray:
    """Read an audio file as [N] float32 mono at 16 kHz."""
    import librosa
    import soundfile as sf

    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if sr != SAMPLE_RATE:
        mono = librosa.resample(mono, orig_sr=sr, target_sr=SAMPLE_RATE)
    return mono.astype(np.float32)


def sphinx_decoder() -> Any:
    """A pocketsphinx decoder for forced alignment (its en-us model, no language model).

    Raises:
        RuntimeError: if pocketsphinx is missing.
    """
    try:
        from pocketsphinx import Decoder
    except ImportError as exc:
        raise RuntimeError("pocketsphinx is needed for forced alignment: pip install pocketsphinx") from exc
    return Decoder(lm=None, bestpath=False, loglevel="FATAL")


def aligned(decoder: Any, audio: np.ndarray) -> Any:
    """pocketsphinx's two passes over 16 kHz ``audio`` for the text set by ``set_align_text`` (words, then
    phones and states); its alignment, or None when it finds none."""
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()
    for second_pass in (False, True):
        if second_pass:
            decoder.set_alignment()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
    return decoder.get_alignment()


def align_words(audio: np.ndarray, text: str, decoder: Any = None
                ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Align ``text`` to 16 kHz ``audio``; returns IPA phones (``"_"`` pauses), starts_s, ends_s.

    Args:
        decoder: a :func:`sphinx_decoder` to reuse (one is made when None).

    Raises:
        RuntimeError: if pocketsphinx is missing or finds no alignment.
    """
    decoder = decoder or sphinx_decoder()
    decoder.set_align_text(text)
    alignment = aligned(decoder, audio)
    if alignment is None:
        raise RuntimeError(f"pocketsphinx found no alignment of {text!r}")
    phones: list[str] = []
    starts: list[float] = []
    ends: list[float] = []
    for word in alignment:
        for ph in word:
            name = ARPABET_TO_IPA.get(ph.name.lower(), "_")
            phones.append(name)
            starts.append(ph.start / 100.0)
            ends.append((ph.start + ph.duration) / 100.0)
    total = len(audio) / SAMPLE_RATE
    if ends and ends[-1] < total:
        phones.append("_")
        starts.append(ends[-1])
        ends.append(total)
    return phones, np.asarray(starts), np.asarray(ends)
