"""Whether a recording says the text it is aligned to: the development set's check of borrowed texts.

Three voices of the real-speech development set (:mod:`model_training.devset`) ship no transcript: the
Menardi, Colombian and Armelle prompt packages are aligned to the core packages' texts by file name, and
their recordings may word a prompt differently. A reference aligned to words nobody said scores the model
against closures nobody made. The DTW gate's cost and rate pass a wrong text of similar length, so these
clips also pass this check, which looks at the audio and texts only, never at a model under test.

The measure is pocketsphinx's (its en-us acoustic model, as in :mod:`model_training.sphinx_align`): the
*deficit* of a text is how much worse, per frame, the best path through its espeak-ng phones fits the
recording than a free loop of English phones does. A text the recording says fits nearly as well as the
free loop; another text fits far worse. The deficit alone depends on the voice and the channel (an 8 kHz
GSM prompt fits every text more alike), so it is compared with the deficits of other texts of the same
list on the same recording (*decoys*, of similar length, in an order seeded by the file name):

    ratio = deficit(own text) / median(deficit(decoys))

Measured by ``python -m model_training.text_check [--channel gsm]`` over each voice's first 30 candidate
prompts (seeded order, as the set draws them; before the DTW gate): on the four Asterisk voices whose texts
were written for them the median ratio is 0.50-0.57, and 0-3 % of the clips exceed 0.85; the same clips
through a GSM round trip (the borrowed voices' codec, the control) 0.62-0.76, and 3-17 % (9 % of 120). The
borrowed voices: Menardi 0.69 (10 % over 0.85), the Colombian prompts 0.90 (67 %), Armelle 0.96 (87 %).
A clip passes at :data:`MAX_RATIO` or less with at least :data:`MIN_DECOYS` decoys fitted
(docs/evaluation.md, "Session 16"). Single ktuberling words are too short for the check to be sure (their
texts are the file names, written for them, and are not gated).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from model_training.sphinx_align import SphinxAligner

#: Largest deficit ratio (own text / median decoy) of a recording that says its text.
MAX_RATIO = 0.85
#: Decoy texts scored per clip, at most; fewer than MIN_DECOYS aligned leaves the text unverified.
N_DECOYS, MIN_DECOYS = 6, 3
#: Decoys tried per clip at most (a decoy that does not fit the recording's length gives no score).
MAX_TRIES = 18
#: Decoys are texts whose length in characters is within this share of the clip's own text.
LENGTH_TOLERANCE = 0.35


@dataclass(frozen=True)
class TextFit:
    """The check of one recording's text.

    Attributes:
        own: the deficit of its own text (free-loop score minus text score per frame; None: no fit).
        decoys: the deficits of the decoy texts that fit.
    """

    own: float | None
    decoys: tuple[float, ...]

    @property
    def ratio(self) -> float:
        """own / median(decoys); inf when either is missing or the decoys fit as well as the free loop."""
        if self.own is None or not self.decoys:
            return float("inf")
        typical = float(np.median(self.decoys))
        if typical <= 0.0:
            return float("inf") if self.own > 0.0 else 1.0
        return self.own / typical

    @property
    def passed(self) -> bool:
        """Whether the recording says its text: enough decoys fitted and :data:`MAX_RATIO` met."""
        return len(self.decoys) >= MIN_DECOYS and self.ratio <= MAX_RATIO


def decoy_texts(text: str, others: list[str], key: str) -> list[str]:
    """The candidate decoys of ``text``: other texts of similar length, in an order seeded by ``key``."""
    pool = sorted({o for o in others if o != text
                   and abs(len(o) - len(text)) <= LENGTH_TOLERANCE * max(len(text), 1)})
    random.Random(f"decoys-{key}").shuffle(pool)
    return pool[:MAX_TRIES]


def check(aligner: SphinxAligner, audio: np.ndarray, text: str, language: str, others: list[str],
          key: str) -> TextFit:
    """Check that 16 kHz ``audio`` says ``text`` (espeak-ng ``language``) rather than one of ``others``
    (texts of the same list; ``key``, the file name, seeds which)."""
    free = aligner.free_score(audio)
    if free is None:
        return TextFit(None, ())

    def deficit(t: str) -> float | None:
        score = aligner.text_score(audio, t, language)
        return None if score is None else free - score

    # decoys first, then the own text: pocketsphinx's scores depend slightly on the words its dictionary
    # has seen (a different order changed one clip's timing when the dev set was rebuilt)
    decoys: list[float] = []
    for other in decoy_texts(text, others, key):
        d = deficit(other)
        if d is not None:
            decoys.append(d)
        if len(decoys) >= N_DECOYS:
            break
    return TextFit(deficit(text), tuple(decoys))


def main(argv: list[str] | None = None) -> int:
    """Print the check's figures per dev-set voice over its first candidates (seeded order, as the set;
    ``--channel gsm``: the written-text voices through the borrowed voices' codec, the control)."""
    import argparse

    from model_server.features import SAMPLE_RATE
    from model_server.filters import remove_dc
    from model_training import augment, devset
    from model_training.sphinx_align import SphinxAligner

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=30, help="candidates per voice (default 30)")
    ap.add_argument("--channel", choices=[c[0] for c in augment.CHANNELS],
                    help="pass the written-text voices' audio through this channel first (the control)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    aligner = SphinxAligner()
    print(f"{'voice':24s} {'texts':9s} {'clips':>5s} {'ratio p50':>9s} {'> ' + str(MAX_RATIO):>7s} "
          f"{'passed':>7s}")
    try:
        for spk in devset.SPEAKERS:
            pool, texts = devset.drawn(spk, devset.CACHE, args.seed)
            fits = []
            for f, text in pool:
                audio = remove_dc(devset.decode(f, spk.ffmpeg_format), SAMPLE_RATE)
                if not devset.usable_length(audio):
                    continue
                if args.channel and spk.trusted:
                    audio = augment.channel(audio, args.channel)
                fits.append(check(aligner, audio, text, spk.espeak, texts, f.stem))
                if len(fits) >= args.clips:
                    break
            ratios = np.array([fit.ratio for fit in fits])
            kind = ("written" if spk.trusted else "borrowed") + ("*" if args.channel and spk.trusted else "")
            passed = np.mean([fit.passed for fit in fits])
            print(f"{spk.speaker:24s} {kind:9s} {len(fits):5d} {np.median(ratios):9.2f} "
                  f"{np.mean(ratios > MAX_RATIO):7.2f} {passed:7.2f}", flush=True)
    finally:
        aligner.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
