"""New Kokoro voices for training: random blends of the training voices' style tables (recipe v20).

Kokoro-82M's voices are style tables ([510, 256] per voice); a convex blend of two or more speaks with a
voice between theirs, so every clip of :func:`blended_clips` has a voice of its own. They speak the
development set's three languages and three more (:data:`BLEND_LANGUAGES`) with espeak-ng phonemes; in
a probe of 10 clips per language through dialog mode with their own text, one Italian clip of 40
matched poorly (0.49; garbled, as :mod:`model_training.kokoro_gen` says), the rest as English does.
The held-out voice is never blended in. Recipe v20 (docs/evaluation.md, "Session 15") trained on 400 of
them beside v16's data and was not shipped.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np

from model_training import kokoro_gen
from model_training.corpus import utterance
from model_training.corpus_build import Clip, to_clip

#: Languages of the blended voices: the development set's three plus English, Portuguese and German.
BLEND_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "it", "pt", "de")
#: Dirichlet concentration of a blend's weights over the training voices (below 1: mostly one or two).
BLEND_ALPHA = 0.7
#: The engine (a name the tests can replace with a shared instance).
KokoroEngine = kokoro_gen.KokoroEngine


def blended_clips(n: int, seed: int, split: str) -> Iterator[Clip]:
    """``n`` Kokoro clips in :data:`BLEND_LANGUAGES`, each read by a new voice, for ``"train"`` or ``"val"``
    only: a random convex blend of the style tables of :data:`~model_training.kokoro_gen.TRAIN_VOICES`
    (weights ~ Dirichlet(:data:`BLEND_ALPHA`)); the held-out voice is never blended in.

    Raises:
        ValueError: another split name.
    """
    if split not in ("train", "val"):
        raise ValueError(f"blended Kokoro clips are made for 'train' or 'val', not {split!r}")
    engine, rng = KokoroEngine(), random.Random(seed)
    weights_rng = np.random.default_rng(seed)
    tables = np.stack([engine.voices[v] for v in kokoro_gen.TRAIN_VOICES])  # [V, 510, 256]
    for k in range(n):
        weights = weights_rng.dirichlet(np.full(len(kokoro_gen.TRAIN_VOICES), BLEND_ALPHA))
        blend = np.tensordot(weights, tables, axes=1).astype(np.float32)  # [510, 256]
        language = rng.choice(BLEND_LANGUAGES)
        text = utterance(rng, language, max_sentences=2)
        speech = engine.synthesize(text, blend, language, speed=rng.uniform(*kokoro_gen.SPEED_RANGE))
        mix = "+".join(f"{w:.2f}{v}" for w, v in zip(weights, kokoro_gen.TRAIN_VOICES, strict=True))
        yield to_clip(speech, rng, {"source": "kokoro_blend", "speaker": f"kokoro:blend{k}", "voice_mix": mix,
                                    "language": language, "split": split, "text": text})


__all__ = ["BLEND_ALPHA", "BLEND_LANGUAGES", "blended_clips"]
