"""Blender side of bench_addon.py: the add-on's writing path (issue #6 targets), real bpy, installed zip.

Rows:
- write: plan (key reduction) + write every AU channel of 5 minutes at 30 fps (9,000 frames x 24 AUs)
  as one new line in the rig's active action (target <= 1 s);
- regenerate: ``bpy.ops.au_talking_head.regenerate()`` of that 5-minute line with another emotion, the
  server's answer taken from the add-on's cache (server call excluded; merge, sound strip and quality
  summary included; target <= 2 s);
- regenerate 1 of 10: the same minutes as 10 lines of 30 s; regenerate the 6th (issue 15: <= 1 s).

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
from types import ModuleType

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


def _regenerate_s(bpy: ModuleType, scene: object, repeat: int) -> float:
    """Best time of ``regenerate`` (the selected line) with another emotion each time, from the cache."""
    times = []
    for emotion in ("SURPRISE", "ANGER", "HAPPINESS")[:repeat]:
        scene.au_talking_head.emotion = emotion  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        assert bpy.ops.au_talking_head.regenerate() == {"FINISHED"}
        times.append(time.perf_counter() - t0)
    return min(times)


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
    rows = []
    layers = import_module(f"{ext}.animation.bl_layers")
    ctl = scene.au_talking_head.rig
    write_s, keys = [], 0
    for _ in range(args.repeat):
        ctl.animation_data_clear()  # a new line in an empty action each time
        t0 = time.perf_counter()
        curves = gen.curveplan.plan_generated(tracks, 1.0, "NEUTRAL", 1.0)
        layers.write_line(ctl, {}, curves, 1.0, float(n))
        write_s.append(time.perf_counter() - t0)
        keys = sum(c.co.shape[0] for c in curves)
    rows.append((f"write {len(au_codes)} AUs x {n} frames ({keys} keys)", min(write_s), 1.0))
    ctl.animation_data_clear()

    def prime(path: Path, track_set: object) -> None:
        """Put ``track_set`` in the add-on's cache as if the server had answered for ``path``."""
        url = scene.au_talking_head.server_url
        request = gen.GenerateRequest(audio_path=str(path), server_url=url, fps=fps)
        with gen._CACHE_LOCK:
            gen._CACHE[gen._cache_key(request)] = track_set

    prime(wav, tracks)
    assert bpy.ops.au_talking_head.generate_from_audio(filepath=str(wav)) == {"FINISHED"}
    rows.append((f"regenerate one {args.minutes:g} min line (server excluded)",
                 _regenerate_s(bpy, scene, args.repeat), 2.0))

    # a dialogue scene: 10 lines filling the same minutes; regenerate the middle one
    bpy.ops.au_talking_head.remove_line(index=0)
    ctl.animation_data_clear()
    per_line = n // 10
    folder = Path(tempfile.mkdtemp(prefix="auth-bench-lines-"))
    for k in range(10):
        path = folder / f"line_{k:02d}.wav"
        write_wav(path, per_line / fps)
        cut = {c: v[k * per_line:(k + 1) * per_line] for c, v in tracks.channels.items()}
        part = tracks_mod.TrackSet(fps=fps, frame_count=per_line, duration_s=per_line / fps, channels=cut)
        prime(path, part)
        done = bpy.ops.au_talking_head.generate_from_audio(filepath=str(path), frame_start=1 + k * per_line)
        assert done == {"FINISHED"}
    scene.au_talking_head.line_index = 5
    rows.append((f"regenerate 1 of 10 lines, {args.minutes:g} min scene (server excl.)",
                 _regenerate_s(bpy, scene, args.repeat), 1.0))

    print(f"{'step':<52} {'seconds':>8} {'target':>7}  ok")
    for name, seconds, target in rows:
        print(f"{name:<52} {seconds:>8.3f} {target:>7.1f}  {'yes' if seconds <= target else 'NO'}")
    return 0 if all(s <= t for _, s, t in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
