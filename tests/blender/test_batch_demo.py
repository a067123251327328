"""The one-command demo: bundled clip -> default splat head -> MP4 with sound, the mouth moving.

The demo runs as users run it (``au-talking-head demo``, a separate process). The mouth region in the
image is found by projecting the default head's lip faces through the default camera in this process;
the times of lip closures and open vowels come from the clip's own phone timings (Piper alignments).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.blender.conftest import ROOT

PHONES = ROOT / "assets" / "demo_speech.phones.json"
CLOSURES = {"m", "b", "p"}
OPEN_VOWELS = {"ɑ", "æ", "a", "ɔ", "ɐ"}
#: Piper's alignments sit ~38 ms after the acoustic onsets (DATA_NOTES.md).
ALIGNMENT_LAG_S = 0.038


def _phone_times(names: set[str], min_s: float = 0.06) -> list[float]:
    """Mid times (s) of the clip's phones in ``names`` lasting at least ``min_s``."""
    phones = json.loads(PHONES.read_text())["phones"]
    return [(p["start_s"] + p["end_s"]) / 2 - ALIGNMENT_LAG_S for p in phones
            if p["phone"] in names and p["end_s"] - p["start_s"] >= min_s]


def _gray_frames(path: Path, width: int, height: int) -> np.ndarray:
    """Every frame of ``path`` as luma, [F, H, W] float32 in [0, 1]."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray",
                          "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width).astype(np.float32) / 255.0


@pytest.mark.slow
def test_demo_video_has_h264_aac_of_the_clip_length_and_the_mouth_moves(
        fresh: ModuleType, installed_addon: ModuleType, tmp_path: Path) -> None:
    demo_cli, bl_batch, jobs, regions = (importlib.import_module(f"{installed_addon.__name__}.{name}")
                                         for name in ("demo_cli", "bl_batch", "batch_jobs", "rigs.regions"))
    out = tmp_path / "demo.mp4"
    exe = shutil.which("au-talking-head", path=str(ROOT / ".venv" / "bin")) or "au-talking-head"
    started = time.monotonic()
    done = subprocess.run([exe, "demo", "--out", str(out)], capture_output=True, text=True, timeout=1800,
                          env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2")))
    wall_s = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"demo wall time {wall_s:.1f} s: {done.stdout.strip().splitlines()[-1]}")

    info = jobs.probe(out)
    clip_s = json.loads(PHONES.read_text())["duration_s"]
    fps = demo_cli.DEMO_FPS
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.duration_s == pytest.approx(clip_s, abs=1.0 / fps + 0.05)
    width, height = demo_cli.DEMO_RESOLUTION
    assert (info.width, info.height) == (width, height)

    # Where the mouth is: the same default scene, lips projected through its camera.
    options = jobs.BatchOptions(items=[], resolution=demo_cli.DEMO_RESOLUTION, fps=fps)
    bl_batch.build_default_scene(options)
    scene = fresh.context.scene
    assert scene.render.engine == bl_batch.SPLAT_ENGINE, "the demo must use the Gaussian splat engine"
    scene.render.resolution_x, scene.render.resolution_y = width, height
    x0, y0, x1, y1 = bl_batch.region_box_px(scene, [regions.LIPS])
    pad = (y1 - y0) // 2
    mouth = (slice(max(0, y0 - pad // 2), min(height, y1 + pad)),
             slice(max(0, x0 - pad), min(width, x1 + pad)))
    assert 0 < x0 < x1 < width and 0 < y0 < y1 < height, (x0, y0, x1, y1)

    frames = _gray_frames(out, width, height)
    rest = frames[0]  # the clip starts with 0.3 s of silence: mouth at rest
    closure_idx = [round(t * fps) for t in _phone_times(CLOSURES)]
    vowel_idx = [round(t * fps) for t in _phone_times(OPEN_VOWELS)]
    assert len(closure_idx) >= 8 and len(vowel_idx) >= 8

    def change(i: int) -> float:
        return float(np.abs(frames[i][mouth] - rest[mouth]).mean())

    closed = np.median([change(i) for i in closure_idx])
    opened = np.median([change(i) for i in vowel_idx])
    # elsewhere in the frame (outside the mouth box) the open-vowel frames change far less
    outside = np.ones((height, width), bool)
    outside[mouth] = False
    elsewhere = np.median([float(np.abs(frames[i][outside] - rest[outside]).mean()) for i in vowel_idx])
    print(f"mouth change from rest: closures {closed:.4f}, open vowels {opened:.4f}, "
          f"elsewhere {elsewhere:.4f}")
    assert opened > 0.01, "the mouth region barely changes on open vowels"
    assert opened > 2.0 * closed, "open vowels must open the mouth far more than lip closures"
    assert opened > 3.0 * elsewhere, "the change must be in the mouth region"
