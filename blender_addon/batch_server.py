"""A model server for the length of one batch job: reuse a running one, or start one and stop it after.

Pure module (standard library only), so it works inside Blender's own Python too. The server runs as a
separate process (``python -m model_server serve``) in the project's virtual environment: the batch job
then talks to it exactly as the add-on's **Generate from audio** does (HTTP on loopback), the model's
dependencies (onnxruntime, librosa) never have to load into Blender, and inside a real Blender, whose
Python lacks them, the same job still works.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8765"
#: Environment variable naming the Python that can run ``-m model_server`` (e.g. the project's venv).
PYTHON_ENV = "AU_TALKING_HEAD_PYTHON"
_ROOT = Path(__file__).resolve().parent.parent


class ServerError(RuntimeError):
    """No model server could be reached or started; the message says what to do."""


def is_reachable(url: str, timeout_s: float = 1.0) -> bool:
    """True if an HTTP server answers at ``url`` (any status: it is up), False if nothing listens."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/v1/health", timeout=timeout_s):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_python() -> str:
    """The Python executable that can run ``-m model_server``.

    Order: ``$AU_TALKING_HEAD_PYTHON``; this interpreter if it can import ``model_server`` (the project
    venv); the checkout's ``.venv/bin/python`` next to this file (running from a source tree).

    Raises:
        ServerError: if none is found, saying how to point at one.
    """
    explicit = os.environ.get(PYTHON_ENV)
    if explicit:
        return explicit
    if importlib.util.find_spec("model_server") is not None and importlib.util.find_spec("uvicorn"):
        return sys.executable
    for candidate in (_ROOT / ".venv" / "bin" / "python", _ROOT / ".venv" / "Scripts" / "python.exe"):
        if candidate.exists():
            return str(candidate)
    raise ServerError("no model server is running and none can be started from here: start one with "
                      "'au-talking-head serve' and pass --server URL, or set "
                      f"{PYTHON_ENV}=/path/to/project/.venv/bin/python")


class JobServer:
    """Context manager giving a model server URL for a job.

    ``url`` given: it must answer. Not given: the default local server is reused when it answers (and
    ``reuse_default``), otherwise a server is started on a free loopback port and stopped on exit.
    """

    def __init__(self, url: str | None = None, start_timeout_s: float = 120.0,
                 reuse_default: bool = True) -> None:
        self.requested = url
        self.reuse_default = reuse_default
        self.url = url or DEFAULT_URL
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> JobServer:
        if self.requested is not None:
            if not is_reachable(self.requested, timeout_s=3.0):
                raise ServerError(f"the model server at {self.requested} does not answer: start it with "
                                  "'au-talking-head serve', or leave out --server to start one for the job")
            return self
        if self.reuse_default and is_reachable(DEFAULT_URL):
            log.info("using the model server at %s", DEFAULT_URL)
            return self
        self.start()
        return self

    def start(self) -> None:
        """Start ``python -m model_server serve`` on a free port and wait until it answers.

        Raises:
            ServerError: if it exits or does not answer within ``start_timeout_s``.
        """
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        cmd = [server_python(), "-m", "model_server", "serve", "--host", "127.0.0.1", "--port", str(port)]
        log.info("starting a model server for this job: %s", " ".join(cmd))
        env = dict(os.environ)
        if (_ROOT / "model_server").is_dir():  # a source checkout: make sure its packages are found
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
        self.process = subprocess.Popen(cmd, cwd=str(_ROOT), env=env, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"the model server exited with code {self.process.returncode} while "
                                  f"starting; run '{' '.join(cmd)}' to see why")
            if is_reachable(self.url, timeout_s=0.5):
                return
            time.sleep(0.2)
        self.stop()
        raise ServerError(f"the model server did not answer at {self.url} "
                          f"within {self.start_timeout_s:.0f} s")

    def stop(self) -> None:
        """Stop the server this object started (if any): terminate, then kill after 10 s."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
