"""A model server for the length of one batch job: reuse a running one, or start one and stop it after.

Pure module (standard library only), so it works inside Blender's own Python too. The server runs as a
separate process (``python -m model_server serve``) in the project's virtual environment: the batch job
then talks to it exactly as the add-on's **Generate from audio** does (HTTP on loopback), the model's
dependencies (onnxruntime, librosa) never have to load into Blender, and inside a real Blender, whose
Python lacks them, the same job still works.
"""

from __future__ import annotations

import logging
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from au_contract import connection
from blender_addon.server import launch as server_launch

from .errors import JobServerError

log = logging.getLogger(__name__)

DEFAULT_URL = connection.DEFAULT_URL
_ROOT = Path(__file__).resolve().parent.parent


def is_reachable(url: str, timeout_s: float = 1.0) -> bool:
    """True if an HTTP server answers at ``url`` (any status: it is up), False if nothing listens."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + connection.HEALTH_PATH, timeout=timeout_s):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def free_port(host: str = connection.DEFAULT_HOST) -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def checkout_python() -> str:
    """The source checkout's ``.venv`` Python when this file runs from a checkout, else ``""``."""
    for candidate in (_ROOT / ".venv" / "bin" / "python", _ROOT / ".venv" / "Scripts" / "python.exe"):
        if candidate.exists() and (_ROOT / "model_server").is_dir():
            return str(candidate)
    return ""


class JobServer:
    """Context manager giving a model server URL for a job.

    ``url`` given: it must answer. Not given: the default local server is reused when it answers (and
    ``reuse_default``), otherwise a server is started on a free loopback port and stopped on exit.
    """

    def __init__(self, url: str | None = None, start_timeout_s: float = 120.0,
                 reuse_default: bool = True, python: str | None = None) -> None:
        self.requested = url
        self.reuse_default = reuse_default
        self.url = url or DEFAULT_URL
        self.start_timeout_s = start_timeout_s
        self.process: server_launch.ServerProcess | None = None
        #: Python that runs the server (``server_launch`` order otherwise: $AU_TALKING_HEAD_PYTHON, this
        #: Python, ``au-talking-head`` on PATH); a source checkout's .venv by default.
        self.python = python if python is not None else checkout_python()

    def __enter__(self) -> JobServer:
        if self.requested is not None:
            if not is_reachable(self.requested, timeout_s=3.0):
                raise JobServerError(f"the model server at {self.requested} does not answer: start it with "
                                  "'au-talking-head serve', or leave out --server to start one for the job")
            return self
        if self.reuse_default and is_reachable(DEFAULT_URL):
            log.info("using the model server at %s", DEFAULT_URL)
            return self
        self.start()
        return self

    def start(self) -> None:
        """Start a server on a free loopback port (``server_launch`` picks the program) and wait for it.

        Raises:
            JobServerError: if no program can run the server, or it exits or stays silent while starting.
        """
        port = free_port()
        self.url = connection.server_url(connection.DEFAULT_HOST, port)
        try:
            # --parent-pid: the server exits by itself when this job ends, even when killed with -9
            command = [*server_launch.server_command(port, preferred_python=self.python),
                       "--parent-pid", str(os.getpid())]
            self.process = server_launch.ServerProcess(command)
            self.process.wait_ready(lambda: is_reachable(self.url, timeout_s=0.5), self.start_timeout_s)
        except server_launch.LaunchError as exc:
            self.process = None
            raise JobServerError(str(exc)) from None
        log.info("model server for this job at %s (log %s)", self.url, self.process.log_path)

    def stop(self) -> None:
        """Stop the server this object started (if any)."""
        proc, self.process = self.process, None
        if proc is not None:
            proc.stop()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
