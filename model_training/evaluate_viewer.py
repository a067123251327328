"""Viewer metrics of the whole server pipeline: ``python -m model_training.evaluate_viewer`` (issue 11).

Each clip goes through :func:`model_server.pipeline.predict_tracks` (the server's au-tracks/1 output at
the scene rate, landmarks of the default head), the landmarks are resampled to 100 Hz, and the lip
aperture and mouth width (:mod:`model_training.metrics`, viewer section) are compared with those of the
target articulation: the coarticulation targets of the clip's true or aligned phones
(:func:`model_server.coarticulation.au_targets`) pushed through the same landmark basis.

Sets: ``dev`` (the real-speech development set, :mod:`model_training.devset`, without the speakers that
:mod:`model_training.asterisk_gen` offers to training), ``heldout`` (the
recipe's held-out TTS voices) and ``fold:<engine>`` (a leave-one-engine-out evaluation set,
:mod:`model_training.folds`). Several ``--weights`` print side by side. Definitions and bounds:
docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from au_contract import AU_CODES, MODEL_AUS
from au_contract.basis import LandmarkBasis, load_basis
from model_server.phonetics import phone_target, split_ipa
from model_training import metrics as m
from model_training.corpus_build import Clip
from model_training.devset import SPEAKERS as DEV_SPEAKERS

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WEIGHTS = ROOT / "model_server" / "weights" / "acoustic.onnx"
#: Issue 11's bounds: (operator, limit); "in" is a closed interval.
BOUNDS: dict[str, m.Bound] = {
    "closure_recall": (">=", 0.93), "closure_depth": (">=", 0.88), "jerk_ratio": ("in", (0.85, 1.25)),
    "speech_r": (">=", 0.55), "rounding": (">=", 0.97), "rest": (">=", 0.95), "abs_lag_ms": ("<=", 20.0),
}
COLUMNS = ("clips", "bilabials", "closure_recall", "closure_depth", "jerk_ratio", "speech_r", "pairs",
           "rounding", "rest", "abs_lag_ms", "false_closure")


def segment_kinds(phones: list[str]) -> tuple[list[str], list[bool | None]]:
    """Per segment its kind for the viewer metrics and its rounding class.

    Kinds: ``"pause"``; ``"bilabial"`` when any symbol is a bilabial; ``"vowel"`` when every symbol is a
    vowel; else the first symbol's kind. Rounding: True for a vowel whose first symbol's target rounds
    or funnels the lips (round + funnel >= 0.5: /u ʊ o ɔ y ø œ .../), False for a spread vowel (spread >=
    0.4 and no rounding: /i ɪ e ɛ æ ɯ/), None otherwise.
    """
    kinds: list[str] = []
    rounded: list[bool | None] = []
    for p in phones:
        if p == "_":
            kinds.append("pause")
            rounded.append(None)
            continue
        targets = [phone_target(s) for s in split_ipa(p)] or [phone_target("?")]
        k = [t.kind for t in targets]
        kind = "bilabial" if "bilabial" in k else "vowel" if all(x == "vowel" for x in k) else k[0]
        kinds.append(kind)
        r: bool | None = None
        if kind == "vowel":
            _, _, rnd, funnel, spread, *_ = targets[0].targets
            if rnd + funnel >= 0.5:
                r = True
            elif spread >= 0.4 and rnd + funnel == 0:
                r = False
        rounded.append(r)
    return kinds, rounded


def target_landmarks(phones: list[str], starts_s: np.ndarray, ends_s: np.ndarray, n100: int,
                     basis: LandmarkBasis) -> np.ndarray:
    """The target articulation's landmarks at 100 Hz: [n100, 68, 3]."""
    from model_server.coarticulation import au_targets

    model_aus = au_targets(phones, starts_s, ends_s, n100)  # [T, len(MODEL_AUS)]
    full = np.zeros((n100, len(AU_CODES)), np.float32)
    for i, code in enumerate(MODEL_AUS):
        full[:, AU_CODES.index(code)] = model_aus[:, i]
    return basis.evaluate(full)


def predicted_landmarks(model: object, audio: np.ndarray, fps: float, transcript: str = "",
                        language: str = "en", precise: bool = False) -> np.ndarray:
    """The server pipeline's landmarks for 16 kHz ``audio``, resampled to 100 Hz: [ceil(N/160), 68, 3].

    ``transcript`` (in espeak-ng voice ``language``) runs the pipeline in dialog mode; ``precise`` in
    precise mode (``model_server.views``)."""
    from model_server.decode import DecodedAudio
    from model_server.pipeline import PredictOptions, predict_tracks

    decoded = DecodedAudio(samples=audio.astype(np.float32), sample_rate=16000, source_rate=16000,
                           source_channels=1, source_format="WAV", duration_s=len(audio) / 16000)
    options = PredictOptions(fps=fps, blinks=False, prosody=False, transcript=transcript, language=language,
                             precise=precise)
    tracks = predict_tracks(decoded, options, model=model)  # type: ignore[arg-type]
    assert tracks.landmarks is not None
    n100 = -(-len(audio) // 160)
    return m.resample_to_100hz(tracks.landmarks.frames, fps, n100)


@dataclass
class Group:
    """Accumulated viewer metrics of one table row."""

    clips: int = 0
    hits: list[bool] = field(default_factory=list)
    depths: list[float] = field(default_factory=list)
    pairs: list[bool] = field(default_factory=list)
    rest_ok: int = 0
    rest_total: int = 0
    jerk_pred: float = 0.0
    jerk_target: float = 0.0
    speech_pred: list[np.ndarray] = field(default_factory=list)
    speech_target: list[np.ndarray] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    false: list[bool] = field(default_factory=list)

    def add(self, s: ClipScore) -> None:
        self.clips += 1
        self.hits += s.hits
        self.false += s.false
        self.depths += s.depths
        self.pairs += s.pairs
        self.rest_ok += s.rest[0]
        self.rest_total += s.rest[1]
        self.jerk_pred += s.jerk[0]
        self.jerk_target += s.jerk[1]
        self.speech_pred.append(s.speech[0])
        self.speech_target.append(s.speech[1])
        if s.lag_ms is not None:
            self.lags.append(s.lag_ms)

    def row(self) -> dict[str, float]:
        nan = float("nan")
        p, t = np.concatenate(self.speech_pred), np.concatenate(self.speech_target)
        return {
            "clips": float(self.clips), "bilabials": float(len(self.hits)), "pairs": float(len(self.pairs)),
            "closure_recall": float(np.mean(self.hits)) if self.hits else nan,
            "closure_depth": float(np.mean(self.depths)) if self.depths else nan,
            "jerk_ratio": self.jerk_pred / self.jerk_target if self.jerk_target > 0 else nan,
            "speech_r": m.pearson(p, t) if len(p) > 2 else nan,
            "rounding": float(np.mean(self.pairs)) if self.pairs else nan,
            "rest": self.rest_ok / self.rest_total if self.rest_total else nan,
            "abs_lag_ms": abs(float(np.median(self.lags))) if self.lags else nan,
            "false_closure": float(np.mean(self.false)) if self.false else nan,
        }


@dataclass
class ClipScore:
    """The viewer metrics' raw material of one clip (see :class:`Group`)."""

    hits: list[bool]
    depths: list[float]
    pairs: list[bool]
    rest: tuple[int, int]
    jerk: tuple[float, float]  # (pred, target) normalised jerk x frames
    speech: tuple[np.ndarray, np.ndarray]  # aperture on speech frames
    lag_ms: float | None
    false: list[bool] = field(default_factory=list)  # per non-bilabial: sealed, the target open


def score_clip(pred_lm: np.ndarray, target_lm: np.ndarray, phones: list[str], starts_s: np.ndarray,
               ends_s: np.ndarray) -> ClipScore:
    """Viewer metrics of one clip from predicted and target landmarks (both [T, 68, 3] at 100 Hz)."""
    a_pred, a_tgt = m.lip_aperture(pred_lm), m.lip_aperture(target_lm)
    kinds, rounded = segment_kinds(phones)
    hits, depths = m.viewer_closures(a_pred, kinds, starts_s, ends_s)
    pairs = m.rounding_pairs(m.mouth_width(pred_lm), m.mouth_width(target_lm), rounded, starts_s, ends_s)
    mask = m.speech_mask(kinds, starts_s, ends_s, len(a_pred))
    n = len(a_pred)
    lag = m.lag_ms(a_pred, a_tgt) if a_pred.std() > 1e-9 and a_tgt.std() > 1e-9 else None
    return ClipScore(hits, depths, pairs, m.viewer_rest(a_pred, kinds, starts_s, ends_s),
                     (m.normalised_jerk(a_pred) * n, m.normalised_jerk(a_tgt) * n),
                     (a_pred[mask], a_tgt[mask]), lag,
                     m.false_closures(a_pred, a_tgt, kinds, starts_s, ends_s))


def transcript_for(clips: list[Clip], k: int, mode: str) -> str:
    """The transcript clip ``k`` is predicted with: ``none`` "", ``own`` its text, ``other`` the text of
    the next clip of the same language (a wrong transcript of the right language)."""
    if mode == "none":
        return ""
    if mode == "own":
        return str(clips[k].meta.get("text", ""))
    lang = clips[k].meta.get("language")
    for step in range(1, len(clips)):
        other = clips[(k + step) % len(clips)]
        if other.meta.get("language") == lang and other.meta.get("text") != clips[k].meta.get("text"):
            return str(other.meta.get("text", ""))
    return ""


def evaluate(model: object, clips: Iterable[Clip], set_name: str, fps: float,
             basis: LandmarkBasis, transcripts: str = "none", precise: bool = False
             ) -> dict[str, dict[str, float]]:
    """Rows ``<set>:all``, ``<set>:source=..``, ``lang=..``, ``speaker=..`` of one model on ``clips``;
    ``transcripts`` (``none``, ``own``, ``other``): what dialog mode is given (:func:`transcript_for`);
    ``precise``: the pipeline's precise mode."""
    groups: dict[str, Group] = defaultdict(Group)
    clips = list(clips)
    for k, clip in enumerate(clips):
        audio = clip.float_audio()
        text = transcript_for(clips, k, transcripts)
        pred = predicted_landmarks(model, audio, fps, text, dialog_voice(clip), precise)
        target = target_landmarks(clip.phones, clip.starts_s, clip.ends_s, len(pred), basis)
        score = score_clip(pred, target, clip.phones, clip.starts_s, clip.ends_s)
        meta = clip.meta
        keys = ["all", f"source={meta['source']}", f"lang={meta['language']}", f"speaker={meta['speaker']}"]
        texts = text_kind(str(meta["speaker"]))
        if texts:
            keys.append(f"texts={texts}")
        for key in keys:
            groups[f"{set_name}:{key}"].add(score)
    order = {"all": 0, "source": 1, "texts": 2, "lang": 3, "speaker": 4}
    return {k: g.row() for k, g in sorted(
        groups.items(), key=lambda kv: (order[kv[0][len(set_name) + 1:].split("=")[0]], kv[0]))}


def text_kind(speaker: str) -> str | None:
    """For a development-set speaker, whether its transcripts were ``written`` for these very recordings
    (the core prompts, ktuberling's words) or ``borrowed`` from another speaker's prompt list (Menardi, July,
    Armelle: their recordings may word a prompt differently, so the reference and dialog mode may hear
    another text); None for any other clip."""
    return _TEXT_KINDS.get(speaker)


_TEXT_KINDS = {spk.speaker: "written" if spk.trusted else "borrowed" for spk in DEV_SPEAKERS}


def dialog_voice(clip: Clip) -> str:
    """The espeak-ng voice dialog mode reads a clip's transcript in, as a user who knows the speaker would
    choose it: a development-set speaker's own (``es-419`` for the Latin American Spanish voices, the voice
    its reference phones were made with), else the clip's language (``en`` for ``en-us``)."""
    return _DEV_VOICES.get(str(clip.meta.get("speaker")), str(clip.meta.get("language", "en")).split("-")[0])


_DEV_VOICES = {spk.speaker: spk.espeak for spk in DEV_SPEAKERS}


def verdicts(row: dict[str, float]) -> list[str]:
    """Issue 11's bounds checked on one row (see :func:`metrics.verdicts`)."""
    return m.verdicts(row, BOUNDS)


def print_side_by_side(title: str, per_model: dict[str, dict[str, dict[str, float]]]) -> None:
    """One table: a row per (group, model) (a CLI report, hence print)."""
    print(f"\n## {title}")
    print(f"{'group':<34}{'model':<32}" + "".join(f"{c:>15}" for c in COLUMNS))
    names = list(per_model)
    for group in per_model[names[0]]:
        for name in names:
            row = per_model[name].get(group)
            if row is None:
                continue
            cells = "".join(f"{row[c]:>15.0f}" if c in ("clips", "bilabials", "pairs") else f"{row[c]:>15.3f}"
                            for c in COLUMNS)
            print(f"{group:<34}{name[:31]:<32}{cells}")


def _sets(args: argparse.Namespace) -> list[tuple[str, list[Clip]]]:
    out: list[tuple[str, list[Clip]]] = []
    if "dev" in args.sets:
        from model_training import devset
        from model_training.asterisk_gen import TRAIN_SPEAKERS

        # speakers the training may hear (asterisk_gen) are never development data
        clips = [c for c in devset.load(args.per_speaker, timing=args.dev_timing)
                 if c.meta["speaker"] not in TRAIN_SPEAKERS]
        if args.limit:
            clips = _first_per_speaker(clips, args.limit)
        out.append(("dev", clips))
    if "heldout" in args.sets:
        from model_training.recipe import RECIPES, split_clips

        recipe = RECIPES[args.recipe]
        clips = split_clips(recipe, args.cache / recipe.name, "heldout", args.seed)
        out.append(("heldout", _first_per_speaker(clips, args.limit) if args.limit else clips))
    for engine in args.fold or []:
        from model_training.folds import fold_eval_clips

        clips = list(fold_eval_clips(engine, args.fold_clips, args.seed))
        out.append((f"fold:{engine}", clips))
        if args.realign:
            out.append((f"fold:{engine}+{args.dev_timing}", realigned(clips, args.dev_timing)))
    if args.channel:
        out = [(f"{name}+{args.channel}", through_channel(clips, args.channel)) for name, clips in out]
    return out


def through_channel(clips: list[Clip], name: str) -> list[Clip]:
    """The clips passed through speech channel ``name`` (``model_training.augment.CHANNELS``: gsm, g722,
    narrow8k, telephone), same phones and timings: what the codec alone does to the viewer metrics."""
    from model_training.augment import channel

    return [Clip((np.clip(channel(c.float_audio(), name), -1, 1) * 32767).astype(np.int16), c.phones,
                 c.starts_s, c.ends_s, c.meta) for c in clips]


def realigned(clips: list[Clip], timing: str = "sphinx") -> list[Clip]:
    """The same TTS clips with the dev set's aligner's phones (``timing``: ``sphinx`` or ``dtw``) instead
    of the engine's true ones: the difference between the two rows is what the aligner's error alone does
    to the viewer metrics."""
    from model_training.forced_align import make_aligner, reading_voice

    aligner = make_aligner(timing)
    out = []
    try:
        for c in clips:
            res = aligner.align(c.float_audio(), c.meta["text"], reading_voice(c.meta))
            if res is not None:
                out.append(Clip(c.audio, res.phones, res.starts_s, res.ends_s, c.meta))
    finally:
        aligner.close()
    return out


def _first_per_speaker(clips: list[Clip], n: int) -> list[Clip]:
    seen: dict[str, int] = defaultdict(int)
    out = []
    for c in clips:
        if seen[c.meta["speaker"]] < n:
            seen[c.meta["speaker"]] += 1
            out.append(c)
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; prints the tables and the bound verdicts, returns 0 (verdicts are not enforced)."""
    from model_server.acoustic import AcousticModel
    from model_training.augment import CHANNELS

    parser = argparse.ArgumentParser(description="Viewer metrics (issue 11) of one or more weights files")
    parser.add_argument("--weights", type=Path, nargs="+", default=[DEFAULT_WEIGHTS])
    parser.add_argument("--sets", nargs="*", default=["dev"], choices=["dev", "heldout"],
                        help="dev = the real-speech development set, heldout = the recipe's held-out voices")
    parser.add_argument("--fold", nargs="*", choices=["festival", "flite", "piper", "kokoro"],
                        help="also evaluate on these leave-one-engine-out evaluation sets")
    parser.add_argument("--realign", action="store_true",
                        help="also score each fold set with phones of the --dev-timing aligner")
    parser.add_argument("--fold-clips", type=int, default=40, help="clips per speaker split of a fold")
    parser.add_argument("--per-speaker", type=int, default=30, help="dev-set clips per speaker (build size)")
    parser.add_argument("--dev-timing", choices=("sphinx", "dtw"), default="sphinx",
                        help="the dev set's phone-timing aligner (model_training.devset.TIMINGS)")
    parser.add_argument("--limit", type=int, default=0, help="evaluate only this many clips per speaker")
    parser.add_argument("--fps", type=float, default=30.0, help="the scene rate of the predicted track")
    parser.add_argument("--recipe", default="full")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--channel", choices=[c[0] for c in CHANNELS],
                        help="pass every clip through this speech channel first (a codec's own cost)")
    parser.add_argument("--transcripts", nargs="+", default=["none"], choices=["none", "own", "other"],
                        help="dialog mode: no transcript, the clip's own, or another clip's (a wrong one); "
                             "several print side by side")
    parser.add_argument("--lips", nargs="+", default=["plain"], choices=["plain", "precise"],
                        help="the pipeline's default (plain) or precise mode (model_server.views, the "
                             "request option precise); both print side by side")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    basis = load_basis()
    sets = _sets(args)
    report: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for set_name, clips in sets:
        per_model: dict[str, dict[str, dict[str, float]]] = {}
        for w in args.weights:
            model = AcousticModel.load(w, device="cpu")
            name = str(model.version)  # recipe, seed, date: file names are often all acoustic.onnx
            if any(label.split("/")[0] == name for label in per_model):  # same recipe, seed and day
                name = f"{name}@{w.parent.name}"
            for lips in args.lips:
                for mode in args.transcripts:
                    label = name if args.transcripts == ["none"] else f"{name}/{mode}"
                    label += "" if args.lips == ["plain"] else f"+{lips}"
                    per_model[label] = evaluate(model, clips, set_name, args.fps, basis, mode,
                                                precise=lips == "precise")
        report[set_name] = per_model
        print_side_by_side(f"{set_name}: viewer metrics at {args.fps:g} fps ({len(clips)} clips)", per_model)
    print("\n## bounds (issue 11)")
    for set_name, per_model in report.items():
        for name, rows in per_model.items():
            print(f"{set_name}:all  {name}")
            for line in verdicts(rows[f"{set_name}:all"]):
                print("  " + line)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
