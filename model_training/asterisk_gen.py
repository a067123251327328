"""Real-speech training clips: the CC-BY-3.0 Asterisk core prompts (Italian Carlo Flora, Russian Maxim).

Sources (Debian packages, version 1.6.1-1, fetched and unpacked by :func:`model_training.devset.package_root`
under ``.cache/devset/root``; their ``/usr/share/doc/<pkg>/copyright`` files are identical):

* ``asterisk-core-sounds-it-g722`` (audio, 16 kHz G.722, ``it_IT_m_Carlo``) with the transcripts of
  ``asterisk-core-sounds-it`` (``core-sounds-it.txt.gz``): stanza ``Files: it-*``, "Copyright: 2012 Carlo
  Flora, <http://www.segreterietelefoniche.it>", recorded by Carlo Flora (http://www.carloflora.com),
  translated by Silvia Petrin from the English text distributed by Digium; **License: CC-BY-3.0**.
* ``asterisk-core-sounds-ru-g722`` (``ru_RU_f_IvrvoiceRU``) with the transcripts of
  ``asterisk-core-sounds-ru``: stanza ``Files: ru-*``, "Copyright: 2010, Maxim", "Provided by: Maxim Topal,
  http://www.ivrvoice.ru"; **License: CC-BY-3.0**.

The other Asterisk voices (Allison Smith es/en, June Wallack fr: CC-BY-SA-3.0; Menardi, Armelle, es-co:
CC-BY-SA / GPL) and ktuberling (GPL) stay development-only and are never read here; the English prompts
are reserved. CC BY 3.0 allows training and distributing the model on condition of attribution: the model
card must carry :data:`ATTRIBUTION` (author, copyright notice, title/source, licence URI, and a note that
the recordings were modified). Since these two speakers are now heard in training, they are no longer a
held-out voice: evaluation must drop :data:`TRAIN_SPEAKERS` from the development set.

Pipeline (:func:`build_speaker`): every prompt of :func:`model_training.devset.candidates` (2-22 words,
0.2-10 s) is decoded to 16 kHz, aligned with :class:`model_training.forced_align.Aligner` (espeak-ng
reference + DTW) and cached per speaker under ``.cache/asterisk_train`` (a pickle keyed by
:func:`cache_key`: the aligner's code and the prompt list). The dev set's gate
(:func:`model_training.devset._passes`, DTW cost <= ``MAX_COST`` and rate within 30 % of the speaker's
median over all aligned prompts) is applied when reading, so a gate change needs no new alignment.
The phone timings come from :mod:`model_training.sphinx_align` (timing version 2) or, for recipes of
timing version 1 (``Recipe.timing_version``: v15, and v12 as it was trained), from the DTW aligner itself
over a reference whose stops start at their release; each version has its own cache (:func:`cache_key`).
Prompts are split by a hash of their file name: :data:`VAL_PERCENT` % go to ``val`` (the same prompt
names for both speakers), the rest to ``train``. Clip audio is peak-normalised to 0.7 full scale (as
:func:`model_training.corpus_build.to_clip` does) but not padded: the recordings carry their own silence,
and the aligner's segmentation covers the whole clip. ``python -m model_training.asterisk_gen`` builds
both caches and prints their make-up and the prompts the gate refused.

Measured (one core): it-carlo 311 prompts, 310 aligned, 299 kept (287 train, 12 val), 12.4 min;
ru-maxim 293 prompts, 291 aligned, 285 kept (275 train, 10 val), 12.8 min. Decoding takes ~70 ms and
aligning ~28 ms per prompt: the whole build runs in about a minute, so nothing is capped. The gate refuses
tones ("un suono beep"), spelling-alphabet items and one merged transcript line (``vm-tempremoved``), but it
cannot verify transcripts: another prompt's text of similar length passes it for ~60 % of the clips and,
for the Russian voice, often aligns at a lower cost than the true text. The Russian voice is female
(folder ``ru_RU_f_``, F0 ~225 Hz); Maxim Topal is named as its provider.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import pickle
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model_server.features import SAMPLE_RATE
from model_training import devset
from model_training.corpus_build import Clip

if TYPE_CHECKING:
    from model_training.forced_align import Aligner

log = logging.getLogger(__name__)

#: Real speakers whose recordings may be trained on (CC-BY-3.0); evaluation drops them from the dev set.
TRAIN_SPEAKERS: tuple[str, ...] = ("asterisk:it-carlo", "asterisk:ru-maxim")
#: Share of prompts (by a hash of the file name, in %) kept for the ``val`` split.
VAL_PERCENT = 5
CACHE = devset.ROOT / ".cache" / "asterisk_train"
#: Bump when the stored format or the per-prompt processing here changes.
CACHE_VERSION = "3"  # 3: phone timings from the pocketsphinx aligner
_PEAK = 0.7
_CC_BY_3 = "Creative Commons Attribution 3.0 Unported (CC BY 3.0), https://creativecommons.org/licenses/by/3.0/"
#: Attribution the model card must carry, per training speaker (CC BY 3.0 section 4(b)).
ATTRIBUTION: dict[str, str] = {
    "asterisk:it-carlo": (
        "Italian Asterisk voice prompts (asterisk-core-sounds-it 1.6.1, "
        "http://downloads.asterisk.org/pub/telephony/asterisk/), Copyright 2012 Carlo Flora "
        "<http://www.segreterietelefoniche.it>; recorded by Carlo Flora (http://www.carloflora.com), "
        f"translated by Silvia Petrin. Licensed under {_CC_BY_3}. Modified: decoded from G.722, "
        "level-normalised and annotated with machine-aligned phone timings to train this model."),
    "asterisk:ru-maxim": (
        "Russian Asterisk voice prompts (asterisk-core-sounds-ru 1.6.1, "
        "http://downloads.asterisk.org/pub/telephony/asterisk/), Copyright 2010 Maxim; provided by "
        f"Maxim Topal (http://www.ivrvoice.ru). Licensed under {_CC_BY_3}. Modified: decoded from G.722, "
        "level-normalised and annotated with machine-aligned phone timings to train this model."),
}


@dataclass
class AlignedPrompt:
    """One aligned prompt, before the gate.

    Attributes:
        clip: the clip (16 kHz int16 audio, phones, starts_s / ends_s, meta without ``split``).
        cost: DTW cost (mean frame distance); rate_wpm: espeak-ng rate fitted to the recording.
    """

    clip: Clip
    cost: float
    rate_wpm: int


@dataclass
class SpeakerBuild:
    """All aligned prompts of one speaker and how they were obtained.

    Attributes:
        speaker: id in :data:`devset.SPEAKERS`; pool: candidate prompts (transcript and audio found).
        prompts: the aligned ones (in file-name order); skipped_length: outside 0.2-10 s;
        failed: espeak-ng gave no reference.
        decode_s / align_s: wall seconds spent decoding and aligning (one thread).
    """

    speaker: str
    pool: int
    prompts: list[AlignedPrompt] = field(default_factory=list)
    skipped_length: int = 0
    failed: int = 0
    decode_s: float = 0.0
    align_s: float = 0.0

    @property
    def median_rate_wpm(self) -> float:
        """The speaker's median fitted rate over all aligned prompts (the gate's reference)."""
        return float(np.median([p.rate_wpm for p in self.prompts])) if self.prompts else 0.0

    def passes(self, prompt: AlignedPrompt) -> bool:
        """Whether ``prompt`` passes the dev set's gate with this speaker's median rate."""
        return devset._passes(prompt.cost, prompt.rate_wpm, self.median_rate_wpm)


def speaker_of(speaker_id: str) -> devset.Speaker:
    """The :class:`devset.Speaker` of a training speaker (ValueError for any other)."""
    if speaker_id not in TRAIN_SPEAKERS:
        raise ValueError(f"{speaker_id!r} is not a training speaker (only {TRAIN_SPEAKERS})")
    return next(s for s in devset.SPEAKERS if s.speaker == speaker_id)


def prompt_name(path: Path, spk: devset.Speaker) -> str:
    """The prompt's name: its file name without extension (``agent-pass``)."""
    return path.name[: -len(spk.ext) - 1]


def prompt_split(name: str) -> str:
    """``"val"`` for :data:`VAL_PERCENT` % of prompt names (stable hash), else ``"train"``."""
    return "val" if int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) % 100 < VAL_PERCENT else "train"


def cache_key(pool: list[tuple[Path, str]], timing_version: int = 2) -> str:
    """Hash of :data:`CACHE_VERSION`, the timing version (when not 2), the aligner's code and the prompt
    list (names and texts)."""
    from model_server import dtw_align, espeak
    from model_training import espeak_gen, forced_align, sphinx_align

    tag = "" if timing_version == 2 else f"-t{timing_version}"  # version 2's keys predate the switch
    digest = hashlib.sha1(f"{CACHE_VERSION}-{devset._MAX_S}-{SAMPLE_RATE}{tag}".encode())
    for module in (forced_align.__file__, dtw_align.__file__, espeak_gen.__file__, sphinx_align.__file__,
                   espeak.__file__):
        digest.update(Path(str(module)).read_bytes())
    for path, text in pool:
        digest.update(f"{path.name}\t{text}\n".encode())
    return digest.hexdigest()[:10]


def align_prompts(spk: devset.Speaker, pool: list[tuple[Path, str]], aligner: Aligner | None = None,
                  timing_version: int = 2) -> SpeakerBuild:
    """Decode and align ``pool`` ((audio file, transcript) pairs of ``spk``), in order: the DTW aligner's
    cost and rate feed the gate, the phone timings come from :mod:`model_training.sphinx_align` (about
    twice as precise on clips with known timings; a prompt it cannot align is counted as failed).

    Args:
        aligner: a :class:`model_training.forced_align.Aligner` to reuse; one is made (and closed) if None.
        timing_version: 1 takes the timings from the DTW aligner instead, over a reference whose stops
            start at their release (an own aligner is made so; a given one is used as it is).
    """
    from model_training import forced_align
    from model_training.sphinx_align import SphinxAligner

    own = aligner is None
    al = forced_align.Aligner(closures=timing_version >= 2) if aligner is None else aligner
    timer = SphinxAligner() if timing_version >= 2 else None
    out = SpeakerBuild(spk.speaker, len(pool))
    try:
        for path, text in pool:
            t0 = time.perf_counter()
            audio = devset.decode(path, spk.ffmpeg_format)  # [N] float32, 16 kHz
            t1 = time.perf_counter()
            out.decode_s += t1 - t0
            if not 0.2 < len(audio) / SAMPLE_RATE <= devset._MAX_S:
                out.skipped_length += 1
                continue
            res = al.align(audio, text, spk.espeak)
            timed = res if timer is None or res is None else timer.align(audio, text, spk.espeak)
            out.align_s += time.perf_counter() - t1
            if res is None or timed is None:
                out.failed += 1
                continue
            peak = float(np.max(np.abs(audio)))
            scaled = audio / peak * _PEAK if peak > 0 else audio
            meta = {"source": "asterisk", "speaker": spk.speaker, "language": spk.language, "text": text,
                    "licence": spk.licence, "file": path.name, "align_cost": f"{res.cost:.3f}"}
            clip = Clip((np.clip(scaled, -1, 1) * 32767).astype(np.int16), timed.phones, timed.starts_s,
                        timed.ends_s, meta)
            out.prompts.append(AlignedPrompt(clip, res.cost, res.rate_wpm))
    finally:
        if timer is not None:
            timer.close()
        if own:
            al.close()
    return out


def build_speaker(speaker_id: str, cache: Path = CACHE, timing_version: int = 2) -> SpeakerBuild:
    """All aligned prompts of one training speaker, from the cache or aligned now (then cached), with the
    phone timings of ``timing_version`` (:func:`align_prompts`).

    Aligning everything takes about 30 s per speaker on one core (three quarters of it ffmpeg decoding).
    """
    spk = speaker_of(speaker_id)
    pool = devset.candidates(spk, devset.CACHE)
    path = cache / f"{speaker_id.replace(':', '_')}_{cache_key(pool, timing_version)}.pkl"
    if path.exists():
        with path.open("rb") as fh:
            record = pickle.load(fh)
        prompts = [AlignedPrompt(clip, cost, rate) for clip, cost, rate in record.pop("prompts")]
        return SpeakerBuild(prompts=prompts, **record)
    log.info("aligning %d prompts of %s (cached afterwards in %s)", len(pool), speaker_id, path)
    built = align_prompts(spk, pool, timing_version=timing_version)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        # plain types only (Clip lives in corpus_build): loadable whichever module name wrote it
        record = {k: v for k, v in vars(built).items() if k != "prompts"}
        record["prompts"] = [(p.clip, p.cost, p.rate_wpm) for p in built.prompts]
        pickle.dump(record, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    log.info("%s: %d aligned of %d in %.0f s (decode %.0f s, align %.0f s)", speaker_id, len(built.prompts),
             len(pool), built.decode_s + built.align_s, built.decode_s, built.align_s)
    return built


def gated_clips(built: SpeakerBuild, split: str) -> list[Clip]:
    """The clips of ``built`` that pass the gate and whose prompt belongs to ``split`` (``train`` / ``val``),
    in file-name order, with ``meta["split"]`` set (fresh meta dicts; audio and timings shared)."""
    spk = speaker_of(built.speaker)
    out = []
    for p in built.prompts:
        if prompt_split(prompt_name(Path(p.clip.meta["file"]), spk)) == split and built.passes(p):
            c = p.clip
            out.append(Clip(c.audio, c.phones, c.starts_s, c.ends_s, {**c.meta, "split": split}))
    return out


def draw(clips: list[Clip], n: int, seed: int, split: str) -> list[Clip]:
    """Up to ``n`` of ``clips`` in a seeded order (a larger ``n`` extends a smaller draw of the same seed)."""
    order = list(clips)
    random.Random(f"asterisk-{seed}-{split}").shuffle(order)
    return order[:max(n, 0)]


def asterisk_clips(n: int, seed: int, split: str, cache: Path = CACHE, timing_version: int = 2
                   ) -> Iterator[Clip]:
    """Up to ``n`` real-speech clips of the training speakers for ``split``, drawn with ``seed``, timed as
    ``timing_version`` says (:func:`align_prompts`).

    ``train`` and ``val`` draw from disjoint prompt sets (:func:`prompt_split`) of both speakers;
    ``heldout`` yields none (these speakers are heard in training). The first call aligns everything
    (about 1 min on one core), later ones read the cache (about 1 s).
    """
    if split not in ("train", "val"):
        return
    clips = [c for speaker_id in TRAIN_SPEAKERS
             for c in gated_clips(build_speaker(speaker_id, cache, timing_version), split)]
    yield from draw(clips, n, seed, split)


def main(argv: list[str] | None = None) -> int:
    """``python -m model_training.asterisk_gen``: build both caches, print counts and refused prompts."""
    parser = argparse.ArgumentParser(description="Align the CC-BY-3.0 Asterisk training prompts (cached)")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(f"{'speaker':<20}{'pool':>6}{'len':>5}{'fail':>5}{'aligned':>8}{'kept':>6}{'train':>6}{'val':>5}"
          f"{'min kept':>9}{'decode s':>9}{'align s':>8}{'rate':>6}")
    total_s = 0.0
    for speaker_id in TRAIN_SPEAKERS:
        b = build_speaker(speaker_id, args.cache)
        kept = [p for p in b.prompts if b.passes(p)]
        n_val = len(gated_clips(b, "val"))
        secs = sum(len(p.clip.audio) for p in kept) / SAMPLE_RATE
        total_s += secs
        n_aligned = max(len(b.prompts) + b.failed, 1)
        print(f"{speaker_id:<20}{b.pool:>6}{b.skipped_length:>5}{b.failed:>5}{len(b.prompts):>8}"
              f"{len(kept):>6}{len(kept) - n_val:>6}{n_val:>5}{secs / 60:>9.1f}"
              f"{b.decode_s / max(b.pool, 1):>9.3f}{b.align_s / n_aligned:>8.3f}{b.median_rate_wpm:>6.0f}")
        for p in b.prompts:
            if not b.passes(p):
                print(f"    refused {p.clip.meta['file']:<36} cost {p.cost:4.2f} rate {p.rate_wpm:>3}  "
                      f"{p.clip.meta['text']}")
    print(f"total kept: {total_s / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
