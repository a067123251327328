"""``python -m model_server predict`` and ``au-talking-head predict`` as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from au_contract import AU_CODES

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "model_server", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_predict_writes_au_tracks_with_landmarks(tmp_path: Path, speech_wav: bytes) -> None:
    wav = tmp_path / "line.wav"
    wav.write_bytes(speech_wav)
    out = tmp_path / "out" / "line.json"
    done = run("predict", str(wav), "-o", str(out), "--fps", "25", "--emotion", "sadness",
               "--strength", "0.5", "--seed", "3")
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert doc["schema"] == "au-tracks/1" and doc["fps"] == 25.0 and set(doc["channels"]) == set(AU_CODES)
    assert np.array(doc["landmarks"]["frames"]).shape == (doc["frame_count"], 68, 3)
    assert doc["meta"]["seed"] == 3 and doc["meta"]["emotion"] == {"name": "SADNESS", "strength": 0.5,
                                                                  "one_sided": None}
    assert min(doc["channels"]["AU04"]) >= 0.2  # 0.5 x the sadness prototype's 0.45
    assert not list(out.parent.glob("*.part"))


def test_predict_bad_input_exits_2_with_a_message(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 50)
    done = run("predict", str(junk), "-o", str(tmp_path / "x.json"))
    assert done.returncode == 2 and "not_audio" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.json").exists()
    done = run("predict", str(tmp_path / "missing.wav"), "-o", str(tmp_path / "x.json"))
    assert done.returncode == 2 and "cannot read" in done.stderr
    done = run("predict", str(junk), "-o", str(tmp_path / "x.json"), "--strength", "3")
    assert done.returncode == 2 and "strength" in done.stderr


def test_predict_flags_are_the_contract_options(tmp_path: Path) -> None:
    """The real console command rejects with the contract's message (the same text as HTTP and the client)."""
    out = tmp_path / "x.json"
    for flag, value, message in (("--fps", "1000", "fps must be a number from 1 to 240, got 1000.0"),
                                 ("--fps", "1e-300", "fps must be a number from 1 to 240, got 1e-300"),
                                 ("--seed", "-1", "seed must be a whole number from 0 to 2**63-1, got -1")):
        done = run("predict", "in.wav", "-o", str(out), flag, value)
        assert done.returncode == 2 and f"argument {flag}: {message}" in done.stderr, done.stderr
    assert not out.exists()
    help_text = run("predict", "--help").stdout
    for flag in ("--fps", "--emotion", "--strength", "--seed", "--no-blinks", "--no-prosody", "--smoothing",
                 "--no-landmarks"):
        assert flag in help_text, flag
    assert "from 1 to 240" in " ".join(help_text.split())


def test_console_script_has_the_same_subcommands() -> None:
    exe = Path(sys.executable).with_name("au-talking-head")
    done = subprocess.run([str(exe), "predict", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--emotion" in done.stdout and "--fps" in done.stdout
    done = subprocess.run([str(exe), "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--max-duration" in done.stdout and "--allow-remote" in done.stdout
