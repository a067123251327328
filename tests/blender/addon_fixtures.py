"""Fixtures and helpers of the add-on's blender tests (generation, panel): the real server process, a rig,
a speech clip with known /m/ timings, and a hash of a file's datablocks."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
LEAD_SILENCE_S = 0.6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path


@pytest.fixture(scope="session")
def model_server() -> Iterator[Server]:
    """The real model server process, started with the venv's python on a free port, with a test token."""
    token = "test-" + secrets.token_hex(16)
    os.environ["AU_TALKING_HEAD_TOKEN"] = token  # the add-on's client reads it in this process
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.mkdtemp(prefix="auth-server-")) / "server.log"
    env = dict(os.environ, OMP_NUM_THREADS="1", XDG_CONFIG_HOME=str(log_path.parent))
    python = str(VENV_PYTHON if VENV_PYTHON.exists() else sys.executable)
    with open(log_path, "wb") as out:
        proc = subprocess.Popen([python, "-m", "model_server", "serve", "--port", str(port),
                                 "--device", "cpu"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    try:
        while True:
            assert proc.poll() is None, f"server exited: {log_path.read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(url + "/v1/health", timeout=1) as resp:
                    health = json.loads(resp.read())
                    break
            except OSError:
                assert time.monotonic() < deadline, "server did not answer in 120 s"
                time.sleep(0.3)
        assert health.get("model_loaded"), f"the server has no model: {health.get('model_error')}"
        yield Server(url, proc, log_path)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@dataclass
class Clip:
    path: Path
    m_intervals_s: list[tuple[float, float]]  # start, end of each /m/ (bilabial) phone
    bilabial_intervals_s: list[tuple[float, float]]  # /m/, /b/, /p/
    duration_s: float
    phones: list[tuple[str, float, float]] = field(default_factory=list)  # (phone, start_s, end_s), all


def espeak_clip(folder: Path, text: str = "mama made my map", name: str = "clip") -> Clip:
    """Speak ``text`` with espeak-ng's C library after LEAD_SILENCE_S of silence; phone times are exact."""
    from model_training.espeak_gen import EspeakEngine, EspeakVoice

    engine = _ENGINE.get("e") or _ENGINE.setdefault("e", EspeakEngine())
    speech = engine.synthesize(text, EspeakVoice("en-us", rate_wpm=150))
    sr = speech.sample_rate
    audio = np.concatenate([np.zeros(round(LEAD_SILENCE_S * sr), np.float32), speech.audio,
                            np.zeros(round(0.4 * sr), np.float32)])
    path = folder / f"{name}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    spans = [(p, s + LEAD_SILENCE_S, e + LEAD_SILENCE_S)
             for p, s, e in zip(speech.phones, speech.starts_s, speech.ends_s, strict=True)]
    return Clip(path, [(s, e) for p, s, e in spans if p == "m"],
                [(s, e) for p, s, e in spans if p in ("m", "b", "p")], len(audio) / sr, spans)


_ENGINE: dict[str, object] = {}


def make_rig(bpy: ModuleType) -> object:
    """The default rig from the rig generator (``generate_rig``); returns the control object."""
    result = bpy.ops.au_talking_head.generate_rig()
    assert result == {"FINISHED"}, result
    ctl = bpy.context.scene.au_talking_head.rig
    assert ctl is not None
    return ctl


def datablock_hash(bpy: ModuleType) -> str:
    """A hash of what a generation could change: IDs, custom props, animation, sequencer, frame range."""
    h = hashlib.sha256()

    def add(*parts: object) -> None:
        h.update(repr(parts).encode())

    for attr in ("objects", "actions", "sounds", "meshes", "shape_keys", "scenes", "texts"):
        add(attr, sorted(i.name for i in getattr(bpy.data, attr)))
    for ob in bpy.data.objects:
        add(ob.name, sorted((k, repr(ob[k])) for k in ob.keys()))  # noqa: SIM118 (ID keys)
        ad = ob.animation_data
        if ad is not None:
            add(ad.action.name if ad.action else None, ad.action_blend_type,
                [(t.name, [(s.name, s.action.name if s.action else None) for s in t.strips])
                 for t in ad.nla_tracks])
    for action in bpy.data.actions:
        for layer in getattr(action, "layers", []):
            for strip in layer.strips:
                for bag in strip.channelbags:
                    for fc in bag.fcurves:
                        co = np.zeros(2 * len(fc.keyframe_points), np.float32)
                        fc.keyframe_points.foreach_get("co", co)
                        add(action.name, fc.data_path, co.tobytes())
    for scene in bpy.data.scenes:
        s = scene.au_talking_head
        add(scene.frame_start, scene.frame_end, s.audio_path, s.emotion, s.strength, s.frame_start,
            s.has_quality, s.last_message)
        if scene.sequence_editor:
            add([(st.name, st.channel, st.frame_start) for st in scene.sequence_editor.strips_all])
    return h.hexdigest()
