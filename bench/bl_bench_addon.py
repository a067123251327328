"""Blender side of bench_addon.py: the add-on's writing path (issue #6 targets), real bpy, installed zip.

Rows:
- write: plan (key reduction) + write every AU channel of 5 minutes at 30 fps (9,000 frames x 24 AUs)
  into the generated layer, NLA and corrections included (target <= 1 s);
- regenerate: ``bpy.ops.au_talking_head.regenerate()`` with another emotion, the server's answer taken
  from the add-on's cache (server call excluded; sound strip and quality summary included; target <= 2 s).

The tracks are synthetic speech-like curves (smoothed noise with closures), so the numbers do not
depend on the model. Run it through ``bench/bench_addon.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import wave
from importlib import import_module
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def speechlike(n: int, rng: np.random.Generator) -> np.ndarray:
    """Smoothed noise in [0, 1] with short closures to 0: float32 [n]."""
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    x = np.convolve(rng.random(n), kernel / kernel.sum(), mode="same")
    x = (x - x.min()) / (np.ptp(x) + 1e-9)
    x[rng.integers(0, n, n // 40)] = 0.0
    return np.clip(np.convolve(x, np.ones(3) / 3, mode="same"), 0, 1).astype(np.float32)


def write_wav(path: Path, seconds: float, rate: int = 16000) -> None:
    t = np.arange(int(seconds * rate)) / rate
    audio = 0.2 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((audio * 32767).astype("<i2").tobytes())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="auth-bench-")
    sys.path.insert(0, str(ROOT))
    import bpy

    import build_addon

    zip_path = build_addon.build(Path(tempfile.mkdtemp(prefix="auth-bench-dist-")))
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default",
                                             enable_on_install=True)
    ext = "bl_ext.user_default.au_talking_head"
    gen = import_module(f"{ext}.animation.generation")
    tracks_mod = import_module("au_contract.tracks")  # the contract ships as a wheel beside the extension
    au_codes = import_module("au_contract").AU_CODES

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.au_talking_head.generate_rig()
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    fps = 30.0
    n = int(args.minutes * 60 * fps)
    rng = np.random.default_rng(0)
    tracks = tracks_mod.TrackSet(fps=fps, frame_count=n, duration_s=n / fps,
                                 channels={c: speechlike(n, rng) for c in au_codes})
    wav = Path(tempfile.mkdtemp(prefix="auth-bench-audio-")) / "speech.wav"
    write_wav(wav, n / fps)
    req = gen.GenerateRequest(audio_path=str(wav), server_url=scene.au_talking_head.server_url, fps=fps)

    rows = []
    write_s, keys = [], 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        curves = gen.curveplan.plan_generated(tracks, 1.0, "NEUTRAL", 1.0)
        layers = import_module(f"{ext}.animation.bl_layers")
        layers.install_generated(scene.au_talking_head.rig, curves)
        write_s.append(time.perf_counter() - t0)
        keys = sum(c.co.shape[0] for c in curves)
    rows.append((f"write {len(au_codes)} AUs x {n} frames ({keys} keys)", min(write_s), 1.0))

    # prime the add-on's cache as if the server had answered, then regenerate through the operator
    with gen._CACHE_LOCK:
        gen._CACHE[gen._cache_key(req)] = tracks
    scene.au_talking_head.audio_path = str(wav)
    assert bpy.ops.au_talking_head.generate_from_audio(filepath=str(wav)) == {"FINISHED"}
    regen_s = []
    for emotion in ("SURPRISE", "ANGER", "HAPPINESS")[: args.repeat]:
        scene.au_talking_head.emotion = emotion
        t0 = time.perf_counter()
        assert bpy.ops.au_talking_head.regenerate() == {"FINISHED"}
        regen_s.append(time.perf_counter() - t0)
    rows.append((f"regenerate, {args.minutes:g} min (server excluded)", min(regen_s), 2.0))

    print(f"{'step':<52} {'seconds':>8} {'target':>7}  ok")
    for name, seconds, target in rows:
        print(f"{name:<52} {seconds:>8.3f} {target:>7.1f}  {'yes' if seconds <= target else 'NO'}")
    return 0 if all(s <= t for _, s, t in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
