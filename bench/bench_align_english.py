"""English forced alignment: pocketsphinx against the server's espeak-ng + DTW aligner, on true timings.

    nice -n 10 .venv/bin/python bench/bench_align_english.py [--clips N]

What it measures: the held-out Festival (ked) and Flite (awb) clips of the ``full`` recipe carry the
engines' own phone timings. Each clip's text is aligned to its audio by

- ``pocketsphinx``: pocketsphinx 5.x forced alignment (its bundled en-us acoustic model and CMU
  dictionary; ``set_align_text``, a first pass for words, ``set_alignment`` and a second pass for
  phones), ARPAbet phones mapped to IPA with :data:`model_server.phonetics.ARPABET_TO_IPA`;
- ``ours+AU``: :func:`model_server.transcript_align.align` (voice ``en``, ``null=False``) with what the
  acoustic model hears (``model_of``: its AUs and phone-class posteriors), the way the server's dialog
  mode calls it;
- ``ours``: the same without ``model_of`` (cepstra only).

Scoring as :mod:`model_training.forced_align`: both phone lists are split into IPA symbols
(``_symbols``), paired by ``match_boundaries`` (edit distance; only pairs of the same kind count), and the
error of a pair is |aligned start - true start|. Printed per source and overall: median and p90 over all
paired phones and over bilabials (p b m), the share of bilabials within 20 and 30 ms, and each aligner's
wall time per second of audio, timed clip by clip in turn in the same run (``ours+AU`` is shown without
and with the AUs of the recording itself, which the server has already computed for the audio path).
Clips whose text has a word outside pocketsphinx's dictionary are skipped for every aligner (counted).

pocketsphinx is NOT a project dependency (``.venv/bin/pip install pocketsphinx==5.1.1`` for this
experiment); without it the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # BLAS; onnxruntime keeps its own default thread pool

import numpy as np  # noqa: E402

SOURCES = ("festival", "flite")
ALIGNERS = ("pocketsphinx", "ours+AU", "ours")
CACHE = ROOT / ".cache" / "training" / "full"


def _clips(n_per_source: int | None) -> list:
    """Held-out Festival/Flite clips of the ``full`` recipe (the first ``n_per_source`` of each)."""
    from model_training.recipe import RECIPES, split_clips

    clips = split_clips(RECIPES["full"], CACHE, "heldout", 0)
    out = []
    for source in SOURCES:
        mine = [c for c in clips if c.meta["source"] == source]
        out += mine if n_per_source is None else mine[:n_per_source]
    return out


def _words(text: str) -> list[str]:
    """pocketsphinx's text normalisation: lower case, letters and apostrophes only."""
    return re.findall(r"[a-z']+", text.lower().replace("-", " "))


def _model_of():
    """The server's acoustic model as the aligner's ``model_of`` hook (CPU)."""
    from model_server import prosody
    from model_server.acoustic import AcousticModel
    from model_server.pipeline import _presence, _speech_frames

    model = AcousticModel.load(ROOT / "model_server" / "weights" / "acoustic.onnx", device="cpu")
    return lambda a: _speech_frames(model, a, _presence(prosody.analyse(a, -(-a.size // 160))), phones=True)


def _errors(clip, phones: list[str], starts: np.ndarray, ends: np.ndarray) -> list[tuple[str, float]]:
    """(kind, |aligned - true| start in ms) of every phone pair ``match_boundaries`` makes."""
    from model_training.forced_align import _symbols, match_boundaries
    from model_training.timing import PAUSE

    true = [s for s in _symbols(clip.phones, clip.starts_s, clip.ends_s) if s[0] != PAUSE]
    got = [s for s in _symbols(phones, starts, ends) if s[0] != PAUSE]
    return [(kind, 1000.0 * abs(a - t)) for kind, t, a in match_boundaries(true, got)]


def _run_clip(clip, decoder, model_of) -> dict[str, tuple[list, float]] | None:
    """Align one clip with every aligner: {name: (errors, seconds)} plus the recording's AU time."""
    from model_server.transcript_align import align
    from model_training.align import align_words

    audio, text = clip.float_audio(), clip.meta["text"]
    words = _words(text)
    if not words or any(decoder.lookup_word(w) is None for w in words):
        return None
    out: dict[str, tuple[list, float]] = {}
    t0 = time.perf_counter()
    try:
        seg: tuple | None = align_words(audio, " ".join(words), decoder)
    except RuntimeError:  # no alignment found
        seg = None
    out["pocketsphinx"] = (_errors(clip, *seg) if seg else [], time.perf_counter() - t0)
    t0 = time.perf_counter()
    real_heard = model_of(audio)
    out["real AUs"] = ([], time.perf_counter() - t0)
    for name, hook, heard in (("ours+AU", model_of, real_heard), ("ours", None, None)):
        t0 = time.perf_counter()
        res = align(audio, text, "en", hook, heard, null=False)
        errs = _errors(clip, res.phones, res.starts_s, res.ends_s) if res is not None else []
        out[name] = (errs, time.perf_counter() - t0)
    return out


def _summary(errs: list[tuple[str, float]]) -> dict[str, float]:
    """Median / p90 over all pairs and bilabials, bilabial share within 20 and 30 ms."""
    alls = np.asarray([e for _, e in errs]) if errs else np.full(1, np.nan)
    bil = [e for k, e in errs if k == "bilabial"]
    b = np.asarray(bil) if bil else np.full(1, np.nan)
    return {
        "n": float(len(errs)), "med": float(np.median(alls)), "p90": float(np.percentile(alls, 90)),
        "bil_n": float(len(bil)), "bil_med": float(np.median(b)), "bil_p90": float(np.percentile(b, 90)),
        "bil_20": float(np.mean(b <= 20.0)) if bil else np.nan,
        "bil_30": float(np.mean(b <= 30.0)) if bil else np.nan,
    }


def _print_table(errs: dict[tuple[str, str], list], secs: dict[str, float], audio_s: float) -> None:
    head = (f"{'source':<9}{'aligner':<14}{'phones':>7}{'median':>8}{'p90':>7}{'bilab':>7}"
            f"{'median':>8}{'p90':>7}{'<=20ms':>8}{'<=30ms':>8}{'s/s audio':>11}")
    print(head)
    print("-" * len(head))
    for source in (*SOURCES, "all"):
        for name in ALIGNERS:
            if source == "all":
                e = [x for s in SOURCES for x in errs[(s, name)]]
            else:
                e = errs[(source, name)]
            r = _summary(e)
            speed = ""
            if source == "all":
                speed = f"{secs[name] / audio_s:.4f}"
            print(f"{source:<9}{name:<14}{r['n']:>7.0f}{r['med']:>8.1f}{r['p90']:>7.1f}{r['bil_n']:>7.0f}"
                  f"{r['bil_med']:>8.1f}{r['bil_p90']:>7.1f}{r['bil_20']:>8.2f}{r['bil_30']:>8.2f}{speed:>11}")
    print(f"\nerrors in ms (|aligned - true| phone start); time = wall s per s of audio ({audio_s:.0f} s)")
    print(f"ours+AU incl. the recording's own AUs (model + prosody): "
          f"{(secs['ours+AU'] + secs['real AUs']) / audio_s:.4f} s/s")


def main(argv: list[str] | None = None) -> int:
    """Align the clips with the three aligners and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=None, help="clips per source (default: all 60)")
    args = parser.parse_args(argv)
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        print("SKIP: pocketsphinx is not installed (not a project dependency); "
              "run `.venv/bin/pip install pocketsphinx==5.1.1` for this benchmark.")
        return 0
    if not CACHE.is_dir():
        print(f"SKIP: no training cache at {CACHE} (the held-out clips with true timings)")
        return 0
    from model_training.align import sphinx_decoder

    decoder, model_of = sphinx_decoder(), _model_of()
    errs = {(s, a): [] for s in SOURCES for a in ALIGNERS}
    secs = dict.fromkeys((*ALIGNERS, "real AUs"), 0.0)
    audio_s, skipped = 0.0, 0
    for clip in _clips(args.clips):
        res = _run_clip(clip, decoder, model_of)
        if res is None:
            skipped += 1
            continue
        audio_s += clip.float_audio().size / 16000.0
        for name, (e, t) in res.items():
            secs[name] += t
            if name in ALIGNERS:
                errs[(clip.meta["source"], name)] += e
    print(f"clips skipped (word not in pocketsphinx's dictionary): {skipped}\n")
    _print_table(errs, secs, audio_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
