"""Leave-one-engine-out folds (issue 11): train without one TTS engine, evaluate on it.

A fold ``E`` is the full recipe with engine ``E``'s clips removed from training and validation
(:func:`fold_recipe`); its evaluation set is ``E``'s clips of *every* speaker it has
(:func:`fold_eval_clips`): the held-out ones and, with sentences the training never saw, the training ones.
Speakers are shared across engines (Festival kal and Flite kal16 are one man), so the tables split each
fold by speaker: ``festival`` kal was still heard through Flite in the festival fold, ked never.

Train a fold: ``python -m model_training.train --fold festival`` (writes
``.cache/folds/acoustic-no-festival.onnx``); evaluate it: ``python -m model_training.evaluate_viewer
--fold festival --weights model_server/weights/acoustic.onnx .cache/folds/acoustic-no-festival.onnx``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from model_training.corpus_build import Clip, read_clips, write_clips
from model_training.recipe import RECIPES, Recipe, source_clips

ROOT = Path(__file__).resolve().parents[1]
FOLD_ENGINES: tuple[str, ...] = ("festival", "flite", "piper", "kokoro")
#: The speakers of each engine, by recipe split ("train" speakers are heard in the full recipe).
ENGINE_SPEAKER_SPLITS: dict[str, tuple[str, ...]] = {
    "festival": ("train", "heldout"),  # kal, ked
    "flite": ("train", "heldout"),  # kal16, awb
    "piper": ("train",),  # joe (single speaker)
    "kokoro": ("train", "heldout"),  # four voices of recipe v12, and jf_nezumi (the full recipe has none)
}
_EVAL_SEED = 7_000_001  # far from the recipe's seeds: other sentences than training and validation


def fold_recipe(engine: str, base: str = "full") -> Recipe:
    """The ``base`` recipe without ``engine`` in training and validation (name ``<base>-no-<engine>``)."""
    if engine not in FOLD_ENGINES:
        raise ValueError(f"no fold {engine!r}; folds: {', '.join(FOLD_ENGINES)}")
    recipe = RECIPES[base]
    clips = {split: {s: n for s, n in per.items() if s != engine} for split, per in recipe.clips.items()}
    return replace(recipe, name=f"{base}-no-{engine}", clips=clips)


def fold_weights(engine: str) -> Path:
    """Where ``train --fold`` writes the fold's weights."""
    return ROOT / ".cache" / "folds" / f"acoustic-no-{engine}.onnx"


def fold_eval_clips(engine: str, n_per_split: int = 40, seed: int = 0) -> Iterator[Clip]:
    """``engine``'s evaluation clips: ``n_per_split`` per speaker split, sentences unseen in training
    (cached under ``.cache/folds``, keyed like the recipe's clip caches, so a slow engine speaks once)."""
    from model_training.recipe import source_version

    for split in ENGINE_SPEAKER_SPLITS[engine]:
        path = (ROOT / ".cache" / "folds" /
                f"eval_{engine}_{split}_{n_per_split}_s{seed}_{source_version(engine)}.pkl")
        if not path.exists():
            write_clips(path, source_clips(engine, n_per_split, seed + _EVAL_SEED, split))
        yield from read_clips(path)
