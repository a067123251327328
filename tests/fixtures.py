"""One way for every test tier to get a free port, a real model server process and speech clips.

- :func:`free_port` picks a free loopback port.
- :class:`ServerProcess` runs the REAL server (``python -m model_server serve``) on a free port with its
  own ``XDG_CONFIG_HOME`` (a temporary folder), a token in ``AU_TALKING_HEAD_TOKEN`` unless told otherwise,
  waits for ``/v1/health`` and stops it with SIGTERM (then SIGKILL).
- :func:`espeak_wav` (the espeak-ng command) and :func:`espeak_clip` (espeak-ng's C library, exact phone
  times) make speech; both are cached per process by text and voice, so a clip asked for by several
  modules is synthesised once. :func:`encode` and :func:`ffmpeg_encode` make other containers.

The session fixture ``model_server`` (registered for every tier by ``tests/conftest.py``) is the server
the add-on's blender tests talk to; the server tier builds its own fixtures (small limits) from
:class:`ServerProcess` in ``tests/server/conftest.py``.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
TOKEN = "test-token-5f1c0d7e9a2b4c6d8e0f"
TOKEN_ENV = "AU_TALKING_HEAD_TOKEN"
SPEECH_TEXT = ("The quick brown fox jumps over the lazy dog. Maybe we should meet at noon, or perhaps "
               "a little later? I really think so!")
LEAD_SILENCE_S = 0.6  # silence before the speech of an espeak_clip
TAIL_SILENCE_S = 0.4  # silence after it


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the caller binds it soon after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_python() -> str:
    """The interpreter that runs server processes: the project's venv, else the running one."""
    return str(VENV_PYTHON if VENV_PYTHON.exists() else sys.executable)


class ServerProcess:
    """A real ``model_server serve`` subprocess on a free port.

    Args:
        tmp: Folder for the server's config home and log; a new temporary folder when None.
        args: Extra command-line arguments of ``serve`` (limits, ``--device``...).
        token: The token put in the server's ``AU_TALKING_HEAD_TOKEN``; None leaves it unset (the
            server then makes its token file).
        host: The address the server binds.
    """

    def __init__(self, tmp: Path | None = None, args: list[str] | None = None, token: str | None = TOKEN,
                 host: str = "127.0.0.1") -> None:
        tmp = tmp if tmp is not None else Path(tempfile.mkdtemp(prefix="auth-server-"))
        self.port = free_port()
        self.host = host
        self.token = token
        self.url = f"http://127.0.0.1:{self.port}"
        self.health: dict[str, Any] = {}
        self.config_home = tmp / f"config-{self.port}"
        self.config_home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        env.update({"XDG_CONFIG_HOME": str(self.config_home), "PYTHONPATH": str(ROOT),
                    "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1")})
        if token is not None:
            env[TOKEN_ENV] = token
        self.log_path = tmp / f"server-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            [server_python(), "-m", "model_server", "serve", "--host", host, "--port", str(self.port),
             *(args or [])], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 120.0) -> ServerProcess:
        """Wait until ``/v1/health`` answers 200 (its JSON is kept in ``health``); fail with the log."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                resp = httpx.get(self.url + "/v1/health", timeout=2)
                if resp.status_code == 200:
                    self.health = resp.json()
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        """The last 4000 characters of the server's output."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def headers(self, token: str | None = None) -> dict[str, str]:
        """The Authorization header with ``token`` (default: the server's)."""
        return {"Authorization": f"Bearer {token or self.token}"}

    def post(self, body: bytes, params: dict[str, Any] | None = None, token: str | None = None,
             timeout: float = 120.0, **kwargs: Any) -> httpx.Response:
        """POST audio bytes to ``/v1/tracks``."""
        headers = {**self.headers(token), **kwargs.pop("headers", {})}
        return httpx.post(self.url + "/v1/tracks", content=body, params=params or {}, headers=headers,
                          timeout=timeout, **kwargs)

    def peak_rss_mb(self) -> float:
        """The server's peak resident memory (VmHWM) in MiB; NaN where /proc does not say."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
        return float("nan")

    def stop(self, timeout_s: float = 40.0) -> int:
        """SIGTERM (graceful shutdown), SIGKILL after ``timeout_s``; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return int(self.proc.returncode)


@pytest.fixture(scope="session")
def model_server() -> Iterator[ServerProcess]:
    """The real model server (CPU) for the add-on's tests, with a random token.

    The token is also put in this process's ``AU_TALKING_HEAD_TOKEN``, where the add-on's client reads it.
    """
    token = "test-" + secrets.token_hex(16)
    os.environ[TOKEN_ENV] = token
    proc = ServerProcess(args=["--device", "cpu"], token=token)
    try:
        proc.wait_ready()
        assert proc.health.get("model_loaded"), f"the server has no model: {proc.health.get('model_error')}"
        yield proc
    finally:
        proc.stop(timeout_s=20)


# --- speech ------------------------------------------------------------------------------------------

_WAV_CACHE: dict[tuple[str, str], bytes] = {}


def espeak_wav(path: Path, text: str = SPEECH_TEXT, voice: str = "en-us") -> Path:
    """Write ``text`` spoken by the espeak-ng command (22.05 kHz mono WAV) to ``path``; cached per process."""
    key = (text, voice)
    if key not in _WAV_CACHE:
        if shutil.which("espeak-ng") is None:
            pytest.fail("espeak-ng is missing: it is a project dependency (scripts/install.sh installs it)")
        with tempfile.TemporaryDirectory(prefix="auth-espeak-") as tmp:
            out = Path(tmp) / "speech.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(out), text], check=True, capture_output=True)
            _WAV_CACHE[key] = out.read_bytes()
    path.write_bytes(_WAV_CACHE[key])
    return path


@dataclass
class Clip:
    """A speech clip with exact phone times (seconds from the start of the file)."""

    path: Path
    m_intervals_s: list[tuple[float, float]]  # start, end of each /m/ (bilabial) phone
    bilabial_intervals_s: list[tuple[float, float]]  # /m/, /b/, /p/
    duration_s: float
    phones: list[tuple[str, float, float]] = field(default_factory=list)  # (phone, start_s, end_s), all


_SPEECH_CACHE: dict[tuple[str, str], tuple[np.ndarray, int, list[tuple[str, float, float]]]] = {}
_ENGINE: dict[str, Any] = {}


def _timed_speech(text: str, voice: str) -> tuple[np.ndarray, int, list[tuple[str, float, float]]]:
    """Samples [N] float32, rate (Hz) and (phone, start_s, end_s) spans of ``text``; cached per process."""
    key = (text, voice)
    if key not in _SPEECH_CACHE:
        from model_training.espeak_gen import EspeakEngine, EspeakVoice

        engine = _ENGINE.get("e") or _ENGINE.setdefault("e", EspeakEngine())
        speech = engine.synthesize(text, EspeakVoice(voice, rate_wpm=150))
        spans = list(zip(speech.phones, speech.starts_s, speech.ends_s, strict=True))
        _SPEECH_CACHE[key] = (np.asarray(speech.audio, np.float32), int(speech.sample_rate), spans)
    return _SPEECH_CACHE[key]


def espeak_clip(folder: Path, text: str = "mama made my map", name: str = "clip",
                voice: str = "en-us") -> Clip:
    """Speak ``text`` with espeak-ng's C library between LEAD_SILENCE_S and TAIL_SILENCE_S of silence.

    Args:
        folder: Where ``{name}.wav`` (16-bit mono) is written.
        text: What is said.
        name: The file's stem.
        voice: The espeak-ng voice.

    Returns:
        The clip, with phone times shifted by the leading silence.
    """
    speech, sr, spans = _timed_speech(text, voice)
    audio = np.concatenate([np.zeros(round(LEAD_SILENCE_S * sr), np.float32), speech,
                            np.zeros(round(TAIL_SILENCE_S * sr), np.float32)])
    path = folder / f"{name}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    shifted = [(p, s + LEAD_SILENCE_S, e + LEAD_SILENCE_S) for p, s, e in spans]
    return Clip(path, [(s, e) for p, s, e in shifted if p == "m"],
                [(s, e) for p, s, e in shifted if p in ("m", "b", "p")], len(audio) / sr, shifted)


def encode(samples: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    """Encode samples ([N] or [N, C]) with libsndfile into file bytes."""
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def ffmpeg_encode(wav: bytes, suffix: str, tmp: Path, *args: str) -> bytes:
    """Encode WAV bytes with the ffmpeg command (MP3 and others libsndfile may not write)."""
    src, dst = tmp / "src.wav", tmp / f"out{suffix}"
    src.write_bytes(wav)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
    return dst.read_bytes()
