"""Features + coarticulation targets + phone-class labels for training and evaluation, and random crops.

A built set is one ``.npz`` of concatenated frames: ``feats`` [F, n_mels] float16, ``targets``
[F, n_aus] float16, ``labels`` [F] int8 phone classes (``model_server.phonetics.PHONE_CLASSES``, from the
same phone timings as the targets), ``offsets`` [C + 1] clip starts, plus per-clip metadata in a JSON
string.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_server.coarticulation import au_targets
from model_server.features import log_mel, n_frames
from model_server.phonetics import SILENCE_CLASS, phone_class_frames
from model_training.augment import augment, background, voice_shift
from model_training.corpus_build import Clip

log = logging.getLogger(__name__)


@dataclass
class FrameSet:
    """Concatenated clips. feats: [F, M]; targets: [F, A]; offsets: [C + 1]; meta: C dicts;
    labels: [F] phone-class indices."""

    feats: np.ndarray
    targets: np.ndarray
    offsets: np.ndarray
    meta: list[dict[str, str]]
    labels: np.ndarray

    def clip(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(feats [T, M], targets [T, A]) of clip ``i`` as float32."""
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.feats[a:b].astype(np.float32), self.targets[a:b].astype(np.float32)

    def save(self, path: Path) -> None:
        """Write to ``path`` (.npz)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, feats=self.feats, targets=self.targets, offsets=self.offsets,
                 meta=np.array(json.dumps(self.meta)), labels=self.labels)

    @classmethod
    def load(cls, path: Path) -> FrameSet:
        """Read a set written by :meth:`save`.

        Raises:
            ValueError: for a set written before the phone-class labels (delete it to rebuild).
        """
        with np.load(path) as z:
            if "labels" not in z:
                raise ValueError(f"{path} has no phone-class labels: delete it (the next run rebuilds it)")
            return cls(z["feats"], z["targets"], z["offsets"], json.loads(str(z["meta"])), z["labels"])


def clip_example(clip: Clip, rng: np.random.Generator | None, strength: float = 1.0,
                 channel_share: float = 0.0, channel_weights: tuple[float, ...] = ()
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, targets and phone-class labels of one clip, augmented when ``rng`` is given
    (``channel_share``, ``channel_weights``: see :func:`model_training.augment.augment`).

    Returns:
        (feats [T, n_mels] float32, targets [T, n_aus] float32, labels [T] int64), T = ceil(N' / 160).
    """
    audio = clip.float_audio()
    scale = 1.0
    if rng is not None:
        audio = voice_shift(audio, rng, strength)
        audio, scale = augment(audio, rng, strength, channel_share=channel_share,
                               channel_weights=channel_weights)
    t = n_frames(len(audio))
    starts, ends = clip.starts_s * scale, clip.ends_s * scale
    return (log_mel(audio), au_targets(clip.phones, starts, ends, t),
            phone_class_frames(clip.phones, starts, ends, t))


def build(clips: list[Clip], copies: int, seed: int, clean_copy: bool = True,
          background_share: float = 0.1, channel_share: float = 0.0,
          channel_weights: tuple[float, ...] = ()) -> FrameSet:
    """Build a frame set: each clip once clean (if ``clean_copy``) plus ``copies`` augmented versions,
    plus ``background_share`` (of the clip count) speech-free noise clips whose target is rest."""
    rng = np.random.default_rng(seed)
    feats: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    meta: list[dict[str, str]] = []
    for _ in range(round(background_share * len(clips) * (copies + int(clean_copy)))):
        audio = background(rng, float(rng.uniform(1.0, 6.0)))
        t = n_frames(len(audio))
        feats.append(log_mel(audio).astype(np.float16))
        targets.append(au_targets(["_"], np.zeros(1), np.array([len(audio) / 16000]), t).astype(np.float16))
        labels.append(np.full(t, SILENCE_CLASS, np.int8))
        meta.append({"source": "background", "speaker": "none", "language": "none", "split": "train"})
    for k, clip in enumerate(clips):
        versions: list[np.random.Generator | None] = [None] if clean_copy else []
        versions += [np.random.default_rng(rng.integers(1 << 62)) for _ in range(copies)]
        for v in versions:
            f, y, c = clip_example(clip, v, channel_share=channel_share, channel_weights=channel_weights)
            feats.append(f.astype(np.float16))
            targets.append(y.astype(np.float16))
            labels.append(c.astype(np.int8))
            meta.append({**clip.meta, "augmented": str(v is not None)})
        if (k + 1) % 200 == 0:
            log.info("features: %d / %d clips", k + 1, len(clips))
    offsets = np.concatenate([[0], np.cumsum([len(f) for f in feats])]).astype(np.int64)
    return FrameSet(np.concatenate(feats), np.concatenate(targets), offsets, meta, np.concatenate(labels))


class CropSampler:
    """Random fixed-length crops of a :class:`FrameSet` (clips shorter than the crop are padded
    with their edge rest frames)."""

    def __init__(self, data: FrameSet, crop_frames: int, seed: int) -> None:
        self.data = data
        self.crop = crop_frames
        self.rng = np.random.default_rng(seed)
        lengths = np.diff(data.offsets)
        self.weights = lengths / lengths.sum()

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(feats [B, crop, M] float32, targets [B, crop, A] float32, labels [B, crop] int64)."""
        xs, ys, cs = [], [], []
        clips = self.rng.choice(len(self.weights), size=size, p=self.weights)
        for i in clips:
            a, b = int(self.data.offsets[i]), int(self.data.offsets[i + 1])
            if b - a >= self.crop:
                s = int(self.rng.integers(a, b - self.crop + 1))
                a, b, pad = s, s + self.crop, 0
            else:
                pad = self.crop - (b - a)
            xs.append(np.pad(self.data.feats[a:b], ((0, pad), (0, 0)), mode="edge"))
            ys.append(np.pad(self.data.targets[a:b], ((0, pad), (0, 0)), mode="edge"))
            cs.append(np.pad(self.data.labels[a:b], (0, pad), mode="edge"))
        return (np.stack(xs).astype(np.float32), np.stack(ys).astype(np.float32),
                np.stack(cs).astype(np.int64))
