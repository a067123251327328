"""Train the acoustic model end to end: generate data -> features/targets -> train -> export ONNX.

One command reproduces the shipped weights (deterministic given the seed and thread count)::

    python -m model_training.train --recipe full      # ~1.5 h on 2 CPU cores
    python -m model_training.train --recipe quick     # a few minutes, for smoke checks

Generated data is cached under ``.cache/training/<recipe>/`` (git-ignored) and reused when present.

Loss: L1 + MSE on the smoothed output, weighted up on bilabial closure frames (the visible error that
matters most) and on the lip/jaw channels; a velocity term (match the targets' first difference); a
jitter term that penalises second differences larger than the targets'; an auxiliary L1 on the raw
output; a hinge pulling AU25 (Lips Part) to zero inside full bilabial closures; and a hinge on each
smoothing filter's white-noise power gain so the head stays a real low-pass. Beside the AUs, a
cross-entropy (weight ``Recipe.phone_weight``) trains the auxiliary phone-class head on per-frame labels
from the same phone timings (``model_server.phonetics.PHONE_CLASSES``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path

import numpy as np

from au_contract import MODEL_AUS
from model_server.features import N_MELS
from model_training.dataset import CropSampler, FrameSet
from model_training.recipe import RECIPES, Recipe, build_sets

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
CHANNEL_WEIGHT = {"AU25": 3.0, "AU26": 2.0, "AU24": 1.5, "AU18": 2.5, "AU22": 1.2, "AU20": 1.2}
MAX_NOISE_GAIN = 0.11  # per-filter sum of squared taps: keeps >= 60 % jerk cut on injected noise
# Against hedging. On degraded audio (noise, reverb, telephone) a regression that is unsure settles
# below the target: closure frames weigh 5x, so "a bit closed" is the cheap guess, and the lips
# under-open by 0.06-0.1 on average. Frames weigh more the more a channel is active (1 + 2 * target),
# and a level term matches each crop's mean per channel, so uncertainty can blur timing, not amplitude.
ACTIVE_WEIGHT = 2.0
LEVEL_WEIGHT = 3.0
# The fit is mostly L1: where audio leaves a channel ambiguous (lip rounding under noise), L1 settles
# on the likelier shape instead of the squared error's in-between that under-rounds rounded vowels and
# over-rounds the rest; the small squared part keeps gradients alive near zero error.
FIT_SQUARED = 0.5


def loss_fn(smoothed, raw, target, head_taps, phone_logits=None, labels=None, phone_weight=0.0):
    """Training loss; returns (total, parts dict).

    Args:
        smoothed, raw, target: [B, T, A] AU tensors. head_taps: [A, K].
        phone_logits: [B, T, P] phone-class logits, or None. labels: [B, T] int64 class indices.
        phone_weight: weight of the phone-class cross-entropy (counted only with logits and labels).
    """
    import torch

    ch = torch.tensor([CHANNEL_WEIGHT.get(c, 1.0) for c in MODEL_AUS])
    closure = target[..., MODEL_AUS.index("AU24")] / 0.8  # [B, T] in [0, 1]
    w = (1.0 + 4.0 * closure).unsqueeze(-1) * ch * (1.0 + ACTIVE_WEIGHT * target)  # [B, T, A]
    err = smoothed - target
    fit = (w * (err.abs() + FIT_SQUARED * err ** 2)).mean()
    level = (ch * err.mean(dim=1).abs()).mean()  # per crop and channel: [B, A] -> scalar
    vel = ((smoothed[:, 1:] - smoothed[:, :-1]) - (target[:, 1:] - target[:, :-1])).abs().mean()
    d2 = smoothed[:, 2:] - 2 * smoothed[:, 1:-1] + smoothed[:, :-2]
    d2t = target[:, 2:] - 2 * target[:, 1:-1] + target[:, :-2]
    jitter = torch.relu(d2.abs() - d2t.abs()).mean()
    # The raw output must not flicker either: on real voices the head alone cannot absorb it.
    d2r = raw[:, 2:] - 2 * raw[:, 1:-1] + raw[:, :-2]
    raw_jitter = torch.relu(d2r.abs() - d2t.abs()).mean()
    aux = (w * (raw - target).abs()).mean()
    gain = torch.relu((head_taps ** 2).sum(dim=1) - MAX_NOISE_GAIN).sum()
    # Decisive closures: inside a full bilabial closure the lips must really meet (AU25 near 0), not
    # hover at the 0.2-0.3 a hesitant regression would settle on.
    closed = (closure > 0.95).float()
    lips = smoothed[..., MODEL_AUS.index("AU25")]
    decisive = (closed * torch.relu(lips - 0.05)).sum() / (closed.sum() + 1.0)
    total = (fit + 2.0 * vel + 12.0 * jitter + 2.0 * raw_jitter + 0.3 * aux + 10.0 * gain
             + 3.0 * decisive + LEVEL_WEIGHT * level)
    parts = {"fit": fit.item(), "vel": vel.item(), "jit": jitter.item(), "gain": gain.item(),
             "closure": decisive.item(), "level": level.item(), "phone": 0.0, "phone_acc": float("nan")}
    if phone_logits is not None and labels is not None:
        ce = torch.nn.functional.cross_entropy(phone_logits.flatten(0, 1), labels.flatten())
        total = total + phone_weight * ce
        parts["phone"] = ce.item()
        parts["phone_acc"] = (phone_logits.argmax(dim=-1) == labels).float().mean().item()
    return total, parts


def source_weighted(weights: np.ndarray, meta: list[dict[str, str]], factors: dict[str, float]) -> np.ndarray:
    """Crop probabilities per clip (``weights``, summing to 1) scaled by their source's factor
    (:attr:`Recipe.source_weights`; 1 for sources not named), summing to 1 again."""
    if not factors:
        return weights
    scaled = weights * np.array([factors.get(m.get("source", ""), 1.0) for m in meta])
    return scaled / scaled.sum()


def mask_bands(x: np.ndarray, count: int, widest: int, rng: np.random.Generator) -> np.ndarray:
    """Frequency masking of crops [B, T, F] (a copy): per crop, ``count`` bands of 0..``widest`` bins set
    to the crop's mean in each of their bins over time."""
    out = x.copy()
    n_bins = x.shape[2]
    mean = x.mean(axis=1)  # [B, F]
    for b in range(x.shape[0]):
        for _ in range(count):
            width = int(rng.integers(0, widest + 1))
            lo = int(rng.integers(0, n_bins - width + 1))
            out[b, :, lo:lo + width] = mean[b, lo:lo + width]
    return out


def train(recipe: Recipe, train_set: FrameSet, val_set: FrameSet, threads: int, seed: int,
          steps: int | None = None):
    """Train an AcousticNet on ``train_set``; returns the model with the best validation loss."""
    import copy

    import torch

    from model_training.model import AcousticNet

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    net = AcousticNet(N_MELS, len(MODEL_AUS), channels=recipe.channels)
    steps = steps or recipe.steps
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=steps, pct_start=0.08)
    sampler = CropSampler(train_set, recipe.crop_frames, seed)
    # set here, not in CropSampler: model_training/dataset.py's bytes key the frame caches
    sampler.weights = source_weighted(sampler.weights, train_set.meta, dict(recipe.source_weights))
    vx, vy, vc = (torch.from_numpy(a) for a in
                  CropSampler(val_set, recipe.crop_frames, seed + 1).batch(min(64, 4 * recipe.batch)))
    best, best_state = float("inf"), copy.deepcopy(net.state_dict())
    mask_rng = np.random.default_rng(seed + 7)
    t0 = time.time()
    for step in range(1, steps + 1):
        net.train()
        xb, yb, cb = sampler.batch(recipe.batch)
        if recipe.freq_masks[0] > 0:
            xb = mask_bands(xb, *recipe.freq_masks, mask_rng)
        xt, yt, ct = (torch.from_numpy(a) for a in (xb, yb, cb))
        if recipe.feature_noise > 0:
            xt = xt + recipe.feature_noise * torch.randn_like(xt)
        smoothed, raw, phones = net(xt)
        loss, parts = loss_fn(smoothed, raw, yt, net.head.taps(), phones, ct, recipe.phone_weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % recipe.eval_every == 0 or step == steps:
            net.eval()
            with torch.no_grad():
                vs, vr, vp = net(vx)
                vloss, vparts = loss_fn(vs, vr, vy, net.head.taps(), vp, vc, recipe.phone_weight)
            mae = (vs - vy).abs().mean().item()
            print(f"step {step}/{steps}  loss {loss.item():.4f}  fit {parts['fit']:.4f}  "
                  f"jit {parts['jit']:.4f}  clos {parts['closure']:.4f}  lvl {parts['level']:.4f}  "
                  f"phone {parts['phone']:.3f}  val {vloss.item():.4f}  "
                  f"val_mae {mae:.4f}  val_phone_acc {vparts['phone_acc']:.3f}  "
                  f"{time.time() - t0:.0f}s", flush=True)
            if vloss.item() < best:
                best, best_state = vloss.item(), copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    return net.eval()


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="full")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "training")
    parser.add_argument("--out", type=Path, default=ROOT / "model_server" / "weights" / "acoustic.onnx")
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's step count")
    parser.add_argument("--phone-weight", type=float, default=None,
                        help="override the recipe's phone-class cross-entropy weight (0 = AU loss only)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-seed", type=int, default=None,
                        help="seed of the initial weights and the crops (default --seed); the frames stay "
                             "--seed's, so two runs differ only in the training's own chance")
    parser.add_argument("--fold", choices=("festival", "flite", "piper", "kokoro"), default=None,
                        help="leave-one-engine-out: train without this engine (model_training.folds); "
                             "writes .cache/folds/acoustic-no-<engine>.onnx unless --out is given")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import torch

    from model_training.export import export_onnx

    torch.set_num_threads(args.threads)
    recipe = RECIPES[args.recipe]
    if args.fold:
        from model_training.folds import fold_recipe, fold_weights

        recipe = fold_recipe(args.fold, args.recipe)
        if args.out == parser.get_default("out"):
            args.out = fold_weights(args.fold)
    if args.phone_weight is not None:
        recipe = dataclasses.replace(recipe, phone_weight=args.phone_weight)
    train_set, val_set = build_sets(recipe, args.cache / recipe.name, args.seed)
    print(f"train frames {len(train_set.feats)}  val frames {len(val_set.feats)}", flush=True)
    train_seed = args.seed if args.train_seed is None else args.train_seed
    net = train(recipe, train_set, val_set, args.threads, train_seed, args.steps)
    suffix = "" if train_seed == args.seed else f"t{train_seed}"
    version = f"{recipe.name}-s{args.seed}{suffix}-{time.strftime('%Y%m%d')}"
    export_onnx(net, args.out, version, {"recipe": recipe.name, "train_frames": str(len(train_set.feats)),
                                         "phone_weight": str(recipe.phone_weight)})
    torch.save(net.state_dict(), args.cache / recipe.name / "acoustic.pt")
    print(f"exported {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
