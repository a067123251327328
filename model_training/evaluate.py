"""Evaluate the acoustic model: ``python -m model_training.evaluate`` prints tables per source and language.

Data: the recipe's held-out split (speakers and voice variants never used in training or model
selection), clean and augmented (noise/reverb/telephone/gain/speed, seeded), plus the ALSA channel-test
clips (a real man's voice, /usr/share/sounds/alsa) as a real-speech check, their targets built from a
pocketsphinx forced alignment of the known words ("Front Left"...). ``Noise.wav`` only checks rest.
Metric definitions: :mod:`model_training.metrics`. Thresholds from issue #3 are checked at the end.
Weights with the auxiliary phone-class output also get per-class frame accuracy and a confusion matrix
on the held-out and reserved clips (:mod:`model_training.phone_eval`).
``--viewer`` runs :mod:`model_training.evaluate_viewer` instead (issue 11: landmark metrics of the whole
pipeline on the real-speech development set and the leave-one-engine-out folds; the other arguments go
to it).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from au_contract import MODEL_AUS, zone_of
from model_server.acoustic import AcousticModel
from model_server.features import SAMPLE_RATE, log_mel
from model_server.phonetics import phone_class_frames
from model_training import metrics as m
from model_training import phone_eval as pe

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
ALSA_DIR = Path("/usr/share/sounds/alsa")
MOUTH_AUS = tuple(c for c in MODEL_AUS if zone_of(c) == "M")
NOISE_STD = 0.25
THRESHOLDS = {"closure_recall": (">=", 0.90), "mae_mouth_max": ("<=", 0.08), "jaw_r": (">=", 0.85),
              "abs_lag_ms": ("<=", 20.0), "jerk_ratio": ("<=", 1.5), "noise_cut": (">=", 0.60),
              "rest": (">=", 0.95)}


@dataclass
class Group:
    """Accumulated predictions of one table row."""

    preds: list[np.ndarray] = field(default_factory=list)
    targets: list[np.ndarray] = field(default_factory=list)
    hits: list[bool] = field(default_factory=list)
    rest_ok: int = 0
    rest_total: int = 0
    noisy_jerk: float = 0.0
    head_jerk: float = 0.0
    phone_confusion: np.ndarray | None = None  # [P, P] frame counts, when the weights have phone classes

    def add_phones(self, phone_logits: np.ndarray | None, labels: np.ndarray) -> None:
        """Count frames of the phone-class output ([T, P] logits, or None: nothing to count)."""
        if phone_logits is None:
            return
        conf = pe.confusion(phone_logits, labels)
        self.phone_confusion = conf if self.phone_confusion is None else self.phone_confusion + conf

    def add(self, pred: np.ndarray, raw: np.ndarray, target: np.ndarray, taps: np.ndarray,
            phones: list[str], starts: np.ndarray, ends: np.ndarray, seed: int,
            bilabials: list[tuple[float, float]]) -> None:
        self.preds.append(pred)
        self.targets.append(target)
        self.hits += m.closure_hits(pred[:, MODEL_AUS.index("AU25")], bilabials)
        ok, tot = m.rest_frames(pred[:, MODEL_AUS.index("AU25")], pred[:, MODEL_AUS.index("AU26")],
                                phones, starts, ends)
        self.rest_ok += ok
        self.rest_total += tot
        noisy = raw + np.random.default_rng(seed).normal(0, NOISE_STD, raw.shape)
        self.noisy_jerk += m.jerk(noisy) * len(raw)
        self.head_jerk += m.jerk(m.apply_head(noisy, taps)) * len(raw)

    def row(self) -> dict[str, float]:
        p, t = np.concatenate(self.preds), np.concatenate(self.targets)
        mae = np.abs(p - t).mean(axis=0)
        jaw = MODEL_AUS.index("AU26")
        lags = [m.lag_ms(a[:, jaw], b[:, jaw]) for a, b in zip(self.preds, self.targets, strict=True)]
        tj = sum(m.jerk(b) * len(b) for b in self.targets)
        pj = sum(m.jerk(a) * len(a) for a in self.preds)
        return {
            "clips": len(self.preds),
            "bilabials": len(self.hits),
            "closure_recall": float(np.mean(self.hits)) if self.hits else float("nan"),
            "mae_mouth_mean": float(np.mean([mae[MODEL_AUS.index(c)] for c in MOUTH_AUS])),
            "mae_mouth_max": float(max(mae[MODEL_AUS.index(c)] for c in MOUTH_AUS)),
            "jaw_r": m.pearson(p[:, jaw], t[:, jaw]),
            "abs_lag_ms": abs(float(np.median(lags))),
            "jerk_ratio": pj / tj if tj > 0 else float("nan"),
            "noise_cut": 1.0 - self.head_jerk / self.noisy_jerk if self.noisy_jerk > 0 else float("nan"),
            "rest": self.rest_ok / self.rest_total if self.rest_total else float("nan"),
            **{f"mae_{c}": float(mae[i]) for i, c in enumerate(MODEL_AUS)},
        }


COLUMNS = ("clips", "bilabials", "closure_recall", "mae_mouth_mean", "mae_mouth_max", "jaw_r", "abs_lag_ms",
           "jerk_ratio", "noise_cut", "rest")


CONDITION_COLUMNS = ("clips", "closure_recall", "mae_mouth_max", "mae_AU25", "mae_AU18", "mae_AU24",
                     "mae_AU26", "jaw_r", "jerk_ratio", "rest")


def print_table(title: str, rows: dict[str, dict[str, float]], columns: tuple[str, ...] = COLUMNS) -> None:
    """Print one table (a CLI progress/report line, hence print)."""
    print(f"\n## {title}")
    print(f"{'group':<26}" + "".join(f"{c:>15}" for c in columns))
    for name, row in rows.items():
        cells = "".join(f"{row[c]:>15.0f}" if c in ("clips", "bilabials") else f"{row[c]:>15.3f}"
                        for c in columns)
        print(f"{name:<26}{cells}")


def _heldout_groups(model: AcousticModel, taps: np.ndarray, recipe_name: str, cache: Path, seed: int,
                    augmented: bool) -> dict[str, Group]:
    from model_server.coarticulation import au_targets, bilabial_windows
    from model_training.augment import augment
    from model_training.recipe import RECIPES, split_clips

    recipe = RECIPES[recipe_name]
    clips = split_clips(recipe, cache / recipe.name, "heldout", seed)
    groups: dict[str, Group] = defaultdict(Group)
    for i, clip in enumerate(clips):
        audio, scale = clip.float_audio(), 1.0
        applied: list[str] = []
        if augmented:
            audio, scale = augment(audio, np.random.default_rng(10_000 + i), applied=applied)
        starts, ends = clip.starts_s * scale, clip.ends_s * scale
        out = model.output_features(log_mel(audio))
        aus, raw = out.aus, out.raw
        target = au_targets(clip.phones, starts, ends, len(aus))
        labels = phone_class_frames(clip.phones, starts, ends, len(aus))
        bil = bilabial_windows(clip.phones, starts, ends)
        src, lang = clip.meta["source"], clip.meta["language"]
        conditions = [f"cond={c}" for c in applied or ["none"]] if augmented else []
        for key in ("all", f"source={src}", f"lang={lang}", f"speaker={clip.meta['speaker']}", *conditions):
            groups[key].add(aus, raw, target, taps, clip.phones, starts, ends, i, bil)
            groups[key].add_phones(out.phone_logits, labels)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0] != "all", kv[0])))


def _reserved_groups(model: AcousticModel, taps: np.ndarray, n: int) -> dict[str, Group]:
    """Independent check on the reserved CMU voices (Flite slt, rms): generated in memory, never cached."""
    from model_server.coarticulation import au_targets, bilabial_windows
    from model_training.flite_gen import reserved_clips

    groups: dict[str, Group] = defaultdict(Group)
    for i, clip in enumerate(reserved_clips(n, seed=424242)):
        out = model.output_features(log_mel(clip.float_audio()))
        aus, raw = out.aus, out.raw
        target = au_targets(clip.phones, clip.starts_s, clip.ends_s, len(aus))
        labels = phone_class_frames(clip.phones, clip.starts_s, clip.ends_s, len(aus))
        for key in ("reserved:all", f"reserved:{clip.meta['speaker']}"):
            groups[key].add(aus, raw, target, taps, clip.phones, clip.starts_s, clip.ends_s, i,
                            bilabial_windows(clip.phones, clip.starts_s, clip.ends_s))
            groups[key].add_phones(out.phone_logits, labels)
    return dict(sorted(groups.items()))


def _alsa_groups(model: AcousticModel, taps: np.ndarray) -> dict[str, Group]:
    from model_server.coarticulation import au_targets, bilabial_windows
    from model_training.align import align_words, load_16k

    groups: dict[str, Group] = defaultdict(Group)
    for i, path in enumerate(sorted(ALSA_DIR.glob("*.wav"))):
        audio = load_16k(path)
        aus, raw = model.predict_features(log_mel(audio))
        if path.stem == "Noise":
            phones, starts, ends = ["_"], np.array([0.0]), np.array([len(audio) / SAMPLE_RATE])
        else:
            phones, starts, ends = align_words(audio, path.stem.replace("_", " ").lower())
        target = au_targets(phones, starts, ends, len(aus))
        # Noise.wav has no speech, so no target motion to compare jitter or error against: it is a
        # rest check; alsa:speech holds the eight spoken clips.
        kind = "alsa:noise-only" if path.stem == "Noise" else "alsa:speech"
        for key in ("alsa:all", kind, f"alsa:{path.stem}"):
            groups[key].add(aus, raw, target, taps, phones, starts, ends, i,
                            bilabial_windows(phones, starts, ends))
    return dict(sorted(groups.items(), key=lambda kv: (kv[0] != "alsa:all", kv[0] != "alsa:speech", kv[0])))


def phone_report(title: str, groups: dict[str, Group]) -> dict[str, dict[str, float]]:
    """Print the phone-class tables of ``groups`` (not the per-condition ones); {} for weights without
    the phone-class output."""
    rows = {k.replace("reserved:", ""): g.phone_confusion for k, g in groups.items()
            if g.phone_confusion is not None and not k.startswith("cond=")}
    return pe.print_report(title, rows)


def check(row: dict[str, float]) -> list[str]:
    """Threshold verdicts of one row against :data:`THRESHOLDS` (see :func:`metrics.verdicts`)."""
    return m.verdicts(row, THRESHOLDS)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns 0 (the verdicts are printed, not enforced)."""
    import sys

    rest = list(sys.argv[1:] if argv is None else argv)
    if "--viewer" in rest:
        from model_training import evaluate_viewer

        rest.remove("--viewer")
        return evaluate_viewer.main(rest)
    parser = argparse.ArgumentParser(
        description="Evaluate the acoustic model on held-out voices + ALSA clips")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--recipe", default="full", help="whose held-out split to use (tiny/quick/full)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-alsa", action="store_true")
    parser.add_argument("--reserved", type=int, default=40,
                        help="clips of the reserved CMU voices (Flite slt/rms) to check on; 0 = off")
    parser.add_argument("--json", type=Path, default=None, help="also write all rows as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    model = AcousticModel.load(args.weights, device="cpu")
    taps = model.head_taps()
    print(f"model {model.version}  device {model.device}")
    report: dict[str, dict[str, dict[str, float]]] = {}
    for augmented in (False, True):
        title = f"held-out voices ({args.recipe}), {'augmented' if augmented else 'clean'}"
        groups = _heldout_groups(model, taps, args.recipe, args.cache, args.seed, augmented)
        rows = {k: g.row() for k, g in groups.items()}
        print_table(title, {k: r for k, r in rows.items() if not k.startswith("cond=")})
        report[title] = rows
        if augmented:
            print_table("held-out voices, augmented, per condition (a clip counts under each step it got)",
                        {k: r for k, r in rows.items() if k.startswith("cond=")}, CONDITION_COLUMNS)
        report[f"phones, {title}"] = phone_report(title, groups)
    if args.reserved > 0:
        groups = _reserved_groups(model, taps, args.reserved)
        rows = {k: g.row() for k, g in groups.items()}
        print_table("reserved CMU voices (Flite slt, rms; evaluation only, never trained or tuned on)", rows)
        report["reserved"] = rows
        report["phones, reserved"] = phone_report("reserved CMU voices", groups)
    if not args.no_alsa and ALSA_DIR.is_dir():
        rows = {k: g.row() for k, g in _alsa_groups(model, taps).items()}
        print_table("ALSA channel-test clips (real voice, pocketsphinx-aligned targets)", rows)
        report["alsa"] = rows
    clean = report[f"held-out voices ({args.recipe}), clean"]["all"]
    print("\n## per-AU MAE, held-out clean / augmented")
    aug = report[f"held-out voices ({args.recipe}), augmented"]["all"]
    for c in MODEL_AUS:
        print(f"{c:<6}{zone_of(c):>3}{clean[f'mae_{c}']:>10.3f}{aug[f'mae_{c}']:>10.3f}")
    print("\n## thresholds (held-out, clean)")
    for line in check(clean):
        print("  " + line)
    print("## thresholds (held-out, augmented)")
    for line in check(aug):
        print("  " + line)
    if "alsa" in report:
        print("## thresholds (ALSA speech clips: a real voice, pocketsphinx-aligned targets)")
        for line in check(report["alsa"]["alsa:speech"]):
            print("  " + line)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
