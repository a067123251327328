"""Data and training recipes (``quick`` for smoke runs, ``full`` for the shipped weights, ``v12`` adds the
natural Kokoro voices).

Three disjoint clip sets per recipe, all deterministic from the seed:

* ``train``: training speakers/voice variants, augmented ``copies`` times plus once clean;
* ``val``: other sentences of the *training* speakers, used only to pick the best checkpoint;
* ``heldout``: held-out speakers and voice variants (espeak-ng m3, f3, klatt4, steph, Annie,
  grandpa; Festival ked; Flite awb; Kokoro jf_nezumi), never seen in training or model selection; read by
  ``python -m model_training.evaluate``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from model_training.corpus import ESPEAK_LANGUAGE
from model_training.corpus_build import Clip, espeak_clips, read_clips, write_clips
from model_training.dataset import FrameSet, build

log = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = tuple(ESPEAK_LANGUAGE)


@dataclass(frozen=True)
class Recipe:
    """Sizes and hyper-parameters of one training run.

    Attributes:
        name: recipe id (cache folder name).
        clips: per split (train/val/heldout), clips per source (``espeak``, ``festival``, ``flite``,
            ``piper``, ``kokoro``, ``asterisk``).
        copies: augmented copies per training clip.
        steps, batch, crop_frames, lr, channels: training schedule and network width.
        eval_every: validation interval in steps.
        feature_noise: std of Gaussian noise added to input features in training.
        phone_weight: weight of the auxiliary phone-class cross-entropy in the loss (0 = the head is
            still built and exported, but untrained).
        channel_share: probability of a speech-codec channel (GSM, G.722, 8 kHz, telephone band) in an
            augmented copy (``augment.augment``); 0 keeps the older chain's telephone step.
        channel_weights: relative odds of those channels (``augment.CHANNELS`` order); () = all alike.
        timing_version: phone timings of the sources in :data:`TIMED_SOURCES`: 2 (the default, v13 on)
            starts espeak-ng's stops at their closure and times the Asterisk prompts with pocketsphinx; 1 (as
            v12 was trained) keeps espeak-ng's stop events at the release and times the Asterisk prompts
            with the DTW aligner. The other engines' clips are the same in both (and share their caches).
        source_weights: ``(source, factor)`` pairs: training crops come from a clip with probability
            proportional to its length times its source's factor (1 for sources not named); the frames
            and their caches are the same.
        freq_masks: ``(count, widest)``: in training, ``count`` bands of up to ``widest`` log-mel bins of
            every crop are set to the crop's mean in each bin (frequency masking, as SpecAugment), so the
            network cannot lean on any one band; (0, 0) = none. The frames and their caches are the same.
    """

    name: str
    clips: dict[str, dict[str, int]] = field(default_factory=dict)
    copies: int = 2
    steps: int = 6000
    batch: int = 16
    crop_frames: int = 300
    lr: float = 3e-3
    channels: int = 96
    eval_every: int = 250
    feature_noise: float = 0.02
    phone_weight: float = 0.1
    channel_share: float = 0.0
    channel_weights: tuple[float, ...] = ()
    timing_version: int = 2
    source_weights: tuple[tuple[str, float], ...] = ()
    freq_masks: tuple[int, int] = (0, 0)


RECIPES: dict[str, Recipe] = {
    "tiny": Recipe("tiny", {"train": {"espeak": 12}, "val": {"espeak": 4}, "heldout": {"espeak": 4}},
                   copies=1, steps=6, batch=2, crop_frames=100, eval_every=3, channels=16),
    "quick": Recipe("quick", {"train": {"espeak": 500}, "val": {"espeak": 40}, "heldout": {"espeak": 60}},
                    copies=1, steps=700, eval_every=100),
    "full": Recipe("full", {
        "train": {"espeak": 2500, "festival": 400, "flite": 500, "piper": 150},
        "val": {"espeak": 100, "festival": 15, "flite": 20, "piper": 10},
        "heldout": {"espeak": 240, "festival": 60, "flite": 60},
    }, copies=2, steps=12000, channels=128, lr=2e-3, eval_every=500, feature_noise=0.04),
    # full + natural voices (Kokoro-82M: four training voices, jf_nezumi held out) + real speech (the
    # CC-BY-3.0 Asterisk prompts of two speakers, machine-aligned; they leave the development set)
    "v12": Recipe("v12", {
        "train": {"espeak": 2500, "festival": 400, "flite": 500, "piper": 150, "kokoro": 300,
                  "asterisk": 562},
        "val": {"espeak": 100, "festival": 15, "flite": 20, "piper": 10, "kokoro": 12, "asterisk": 22},
        "heldout": {"espeak": 240, "festival": 60, "flite": 60, "kokoro": 40},
    }, copies=2, steps=12000, channels=128, lr=2e-3, eval_every=500, feature_noise=0.04, timing_version=1),
}
# v13: v12's data with closure-true timings (timing version 2: espeak-ng stops start at their closure;
# the Asterisk prompts timed by the pocketsphinx aligner instead of DTW)
RECIPES["v13"] = replace(RECIPES["v12"], name="v13", timing_version=2)
# v14: v13 + real speech codecs in augmentation (GSM, G.722, 8 kHz linear, telephone band), about a quarter
# of all training frames: the real-speech development set is mostly coded telephone audio
RECIPES["v14"] = replace(RECIPES["v13"], name="v14", channel_share=0.35)
# v14w: v14 with a wider network (160 channels instead of 128)
RECIPES["v14w"] = replace(RECIPES["v14"], name="v14w", channels=160)
# v15: v14w with v12's phone timings (timing version 1: espeak-ng stops at their release, the Asterisk
# prompts timed by DTW): v13 closed fewer real-speech bilabials than v12 (dev recall 0.672 against 0.720).
# Trained in session 8, not shipped: dev recall 0.742 against v14w's 0.723, but depth 0.689 / 0.745 and
# speech r 0.449 / 0.497
RECIPES["v15"] = replace(RECIPES["v14w"], name="v15", timing_version=1)

# v16: v14w with five times the crops from the real speech (the two CC-BY Asterisk voices, 5.8 % of the
# training frames, so about 24 % of the crops): the development set's gap is real voices
RECIPES["v16"] = replace(RECIPES["v14w"], name="v16", source_weights=(("asterisk", 5.0),))
# v18: v16 with frequency masking (two bands of up to 8 of the 64 log-mel bins per crop): real voices and
# telephone channels differ from the training voices band by band, and the network should hear a closure
# in any of them
RECIPES["v18"] = replace(RECIPES["v16"], name="v18", freq_masks=(2, 8))
# v19: v18's masking at half strength (one band of up to 8 bins): v18 (session 12, not shipped) gained
# closure depth, rounding and rest on the real-speech dev set but lost speech r there and rounding on the
# held-out TTS voices (French -0.08)
RECIPES["v19"] = replace(RECIPES["v16"], name="v19", freq_masks=(1, 8))
# v20: v16 + 400 clips of new neural voices in six languages (Kokoro's four training voices blended at
# random, speaking en/es/fr/it/pt/de: ``kokoro_blend.blended_clips``): the development set is Spanish,
# French and Italian, and the only natural voices in training spoke English
RECIPES["v20"] = replace(RECIPES["v16"], name="v20", clips={
    split: {**n, **({"kokoro_blend": {"train": 400, "val": 12}[split]} if split != "heldout" else {})}
    for split, n in RECIPES["v16"].clips.items()})

# v21: v16 with GSM, the codec that costs real voices most, in about a fifth of all training frames (v16:
# 6 %): the development set's weakest voices are 8 kHz GSM prompts, and a GSM round trip alone takes clean
# 16 kHz prompts from 0.974 to 0.883 (Allison) and 0.838 to 0.676 (June) closure recall (session 16)
RECIPES["v21"] = replace(RECIPES["v16"], name="v21", channel_share=0.5,
                         channel_weights=(0.55, 0.15, 0.15, 0.15))

_SEED_OFFSET = {"train": 0, "val": 1_000_003, "heldout": 2_000_029}
_SOURCE_OFFSET = {"espeak": 0, "festival": 101, "flite": 211, "piper": 307, "kokoro": 401, "asterisk": 503,
                  "kokoro_blend": 601}


def source_clips(source: str, n: int, seed: int, split: str, timing_version: int = 2) -> Iterator[Clip]:
    """Clips of one engine for one split (``val`` uses training speakers with other sentences), timed as
    ``timing_version`` says (:attr:`Recipe.timing_version`; only the sources in :data:`TIMED_SOURCES`)."""
    speakers = "heldout" if split == "heldout" else "train"
    if source == "espeak":
        return espeak_clips(n, seed, LANGUAGES, speakers, closures=timing_version >= 2)
    if source == "festival":
        from model_training.festival_gen import festival_clips
        return festival_clips(n, seed, speakers)
    if source == "flite":
        from model_training.flite_gen import flite_clips
        return flite_clips(n, seed, speakers)
    if source == "piper":
        from model_training.piper_gen import piper_clips
        return piper_clips(n, seed, speakers)
    if source == "kokoro":
        from model_training.kokoro_gen import kokoro_clips
        return kokoro_clips(n, seed, speakers)
    if source == "kokoro_blend":
        from model_training.kokoro_blend import blended_clips
        return blended_clips(n, seed, split)
    if source == "asterisk":  # real speech: its own train/val prompt split (heldout: none)
        from model_training.asterisk_gen import asterisk_clips
        return asterisk_clips(n, seed, split, timing_version=timing_version)
    raise ValueError(f"unknown source {source!r}")


#: Bumped when an engine's phone timings change meaning (2: espeak-ng stops start at their closure,
#: ``model_server.espeak.attach_stop_closures``), so every cached clip set is made again; the current
#: meaning, and the default of :attr:`Recipe.timing_version`.
TIMING_VERSION = 2
#: Sources whose phone timings depend on :attr:`Recipe.timing_version` (espeak-ng's stop events, the
#: Asterisk prompts' aligner); the others keep the cache key of :data:`TIMING_VERSION` in every recipe.
TIMED_SOURCES = ("espeak", "asterisk")


def voices_version(timing_version: int = TIMING_VERSION) -> str:
    """A short hash of the speaker split and a timing version (keys the clip caches: a changed voice list
    regenerates)."""
    from model_training import corpus_build as generate

    voices = (generate.ESPEAK_TRAIN_VARIANTS, generate.ESPEAK_HELDOUT_VARIANTS,
              sorted(generate.ENGINE_SPLIT.items()), timing_version)
    return hashlib.sha1(repr(voices).encode()).hexdigest()[:6]


def source_version(source: str, timing_version: int = TIMING_VERSION) -> str:
    """The cache key of one source's clips: the shared speaker split and, for :data:`TIMED_SOURCES`,
    ``timing_version`` (:data:`TIMING_VERSION` for the others), plus the voice lists of the sources that
    keep their own (so adding one never regenerates the others' caches)."""
    base = voices_version(timing_version if source in TIMED_SOURCES else TIMING_VERSION)
    if source in ("kokoro", "kokoro_blend"):
        from model_training import kokoro_blend, kokoro_gen

        voices: tuple[object, ...] = (kokoro_gen.TRAIN_VOICES, kokoro_gen.HELDOUT_VOICES,
                                      kokoro_gen.ALIGNMENT_DELAY_S)
        if source == "kokoro_blend":
            voices += (kokoro_blend.BLEND_LANGUAGES, kokoro_blend.BLEND_ALPHA)
        return base + hashlib.sha1(repr(voices).encode()).hexdigest()[:4]
    if source == "asterisk":
        from model_training import asterisk_gen

        key = (asterisk_gen.TRAIN_SPEAKERS, asterisk_gen.CACHE_VERSION)
        return base + hashlib.sha1(repr(key).encode()).hexdigest()[:4]
    return base


def clip_path(recipe: Recipe, cache: Path, split: str, source: str, n: int, seed: int) -> Path:
    """Where :func:`split_clips` caches ``n`` clips of ``source`` for ``split`` (recipes that differ only
    in what the clips do not depend on share the name)."""
    return cache / f"clips_{split}_{source}_{n}_s{seed}_{source_version(source, recipe.timing_version)}.pkl"


def split_clips(recipe: Recipe, cache: Path, split: str, seed: int) -> list[Clip]:
    """Generate (or read from ``cache``) all clips of one split."""
    out: list[Clip] = []
    for source, n in recipe.clips.get(split, {}).items():
        path = clip_path(recipe, cache, split, source, n, seed)
        if not path.exists():
            log.info("generating %d %s clips for %s", n, source, split)
            s = seed + _SEED_OFFSET[split] + _SOURCE_OFFSET[source]
            write_clips(path, source_clips(source, n, s, split, recipe.timing_version))
        out.extend(read_clips(path))
    return out


def code_version(recipe: Recipe) -> str:
    """A short hash of the recipe's clip counts and of the modules that shape features and targets
    (keys the frame caches, so a changed recipe or target model never reuses stale frames)."""
    from model_server import coarticulation, features, phonetics
    from model_training import augment, dataset

    digest = hashlib.sha1(repr(sorted((k, sorted(v.items())) for k, v in recipe.clips.items())).encode())
    digest.update(voices_version(recipe.timing_version).encode())
    if recipe.channel_share > 0:
        digest.update(repr(recipe.channel_share).encode())
    if recipe.channel_weights:
        digest.update(repr(recipe.channel_weights).encode())
    for module in (features, augment, coarticulation, phonetics, dataset):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:10]


def build_sets(recipe: Recipe, cache: Path, seed: int) -> tuple[FrameSet, FrameSet]:
    """Train and validation frame sets of ``recipe`` (built once per code version, cached as .npz)."""
    sets = []
    for split, copies in (("train", recipe.copies), ("val", 0)):
        path = cache / f"frames_{split}_c{copies}_s{seed}_{code_version(recipe)}.npz"
        if path.exists():
            sets.append(FrameSet.load(path))
            continue
        clips = split_clips(recipe, cache, split, seed)
        frames = build(clips, copies, seed + _SEED_OFFSET[split], channel_share=recipe.channel_share,
                       channel_weights=recipe.channel_weights)
        frames.save(path)
        sets.append(frames)
    return sets[0], sets[1]
