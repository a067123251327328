"""Helpers of the server tier: the REAL server process (``python -m model_server serve``) on a free port.

Each server runs with its own ``XDG_CONFIG_HOME`` (a temporary folder) and, unless a test says
otherwise, a token in ``AU_TALKING_HEAD_TOKEN``. Speech comes from espeak-ng (a project dependency);
other audio (silence, noise, odd rates, broken files) is made here with numpy and soundfile.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-5f1c0d7e9a2b4c6d8e0f"
SPEECH_TEXT = ("The quick brown fox jumps over the lazy dog. Maybe we should meet at noon, or perhaps "
               "a little later? I really think so!")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A real ``model_server serve`` subprocess."""

    def __init__(self, tmp: Path, args: list[str] | None = None, token: str | None = TOKEN,
                 host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.host = host
        self.token = token
        self.config_home = tmp / f"config-{self.port}"
        self.config_home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "AU_TALKING_HEAD_TOKEN"}
        env.update({"XDG_CONFIG_HOME": str(self.config_home), "PYTHONPATH": str(ROOT),
                    "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1")})
        if token is not None:
            env["AU_TALKING_HEAD_TOKEN"] = token
        self.log_path = tmp / f"server-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "model_server", "serve", "--host", host, "--port", str(self.port),
             *(args or [])], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 90.0) -> ServerProcess:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def post(self, body: bytes, params: dict[str, Any] | None = None, token: str | None = None,
             timeout: float = 120.0, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(token), **kwargs.pop("headers", {})}
        return httpx.post(self.url + "/v1/tracks", content=body, params=params or {}, headers=headers,
                          timeout=timeout, **kwargs)

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
        return float("nan")

    def stop(self, timeout_s: float = 40.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return int(self.proc.returncode)


def espeak_wav(path: Path, text: str = SPEECH_TEXT, voice: str = "en-us") -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: it is a project dependency (scripts/install.sh installs it)")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    return path


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
