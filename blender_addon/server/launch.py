"""Start and stop the local model server process from Blender (pure: standard library only).

Which program runs the server, in order:

1. the add-on preference *Server Python* (an interpreter: ``<python> -m model_server serve --port N``),
   an advanced option: a Python with GPU onnxruntime, or one that serves another machine;
2. ``$AU_TALKING_HEAD_PYTHON`` (same form);
3. the bundled server: Blender's own Python (``sys.executable``) with the extension's wheels, the usual
   case. The extension's zip carries ``model_server`` and everything it needs but numpy in its
   ``wheels``; Blender installs them in ``<user resources>/extensions/.local/lib/python3.X/site-packages``.
   The server runs as ``sys.executable -S -m model_server serve ...`` with ``PYTHONPATH`` = the folders
   this process imports ``model_server``, ``au_contract`` and ``numpy`` from (found without importing
   them) and ``PYTHONNOUSERSITE=1``: it sees the bundled wheels and Blender's numpy, nothing else;
4. the ``au-talking-head`` console command on ``PATH`` (``au-talking-head serve --port N``).

The first candidate that exists and (for interpreters) can import ``model_server`` wins; if none does,
:class:`LaunchError` says how to point at one.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from au_contract.connection import CONSOLE_COMMAND, DEFAULT_HOST, PYTHON_ENV

from ..errors import AddonError

log = logging.getLogger(__name__)


class LaunchError(AddonError, RuntimeError):
    """The server could not be started; the message says why and what to do."""


#: The modules the bundled server needs from this process's paths (numpy comes with Blender).
BUNDLED_MODULES = ("model_server", "au_contract", "numpy")


def bundled_path() -> list[str]:
    """Folders this process would import the bundled server's modules from, in order (no duplicates).

    Found with ``importlib.util.find_spec`` (nothing is imported); symlinks are kept as they are. Empty
    when ``model_server`` is not importable here (an extension built without the server).
    """
    import importlib.util

    folders: list[str] = []
    for name in BUNDLED_MODULES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin:
            if name == "model_server":
                return []
            continue
        folder = os.path.dirname(os.path.dirname(os.path.abspath(spec.origin)))  # <folder>/<pkg>/__init__.py
        if folder not in folders:
            folders.append(folder)
    return folders


def server_env(command: list[str]) -> dict[str, str] | None:
    """The environment of a server command: the bundled path for ``sys.executable -S``, else inherited."""
    if command[:2] != [sys.executable, "-S"]:
        return None
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONSTARTUP")}
    env.update(PYTHONPATH=os.pathsep.join(bundled_path()), PYTHONNOUSERSITE="1")
    return env


def _can_import_server(python: str) -> bool:
    command = [python, "-S"] if python == sys.executable and bundled_path() else [python]
    try:
        done = subprocess.run([*command, "-c", "import model_server.cli"], capture_output=True, timeout=60,
                              stdin=subprocess.DEVNULL, check=False, env=server_env(command))
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def server_command(port: int, preferred_python: str = "",
                   can_import: Callable[[str], bool] = _can_import_server) -> list[str]:
    """Return the command line that starts a server on ``127.0.0.1:port``.

    Raises:
        LaunchError: if no candidate works (the message lists what was tried).
    """
    tail = ["serve", "--host", DEFAULT_HOST, "--port", str(port)]
    tried: list[str] = []
    for source, python in (("preference Server Python", preferred_python.strip()),
                           (f"${PYTHON_ENV}", os.environ.get(PYTHON_ENV, "").strip()),
                           ("the bundled server with Blender's Python", sys.executable)):
        if not python:
            continue
        if not Path(python).exists():
            tried.append(f"{source} {python} (not found)")
            continue
        if can_import(python):
            bundled = python == sys.executable and bool(bundled_path())
            return [python, *(["-S"] if bundled else []), "-m", "model_server", *tail]
        tried.append(f"{source} {python} (cannot import model_server)")
    exe = shutil.which(CONSOLE_COMMAND)
    if exe:
        return [exe, *tail]
    tried.append(f"'{CONSOLE_COMMAND}' on PATH (not found)")
    raise LaunchError("cannot start the model server: tried " + "; ".join(tried) + ". The extension "
                      "carries its own server: reinstall the extension zip made for this platform "
                      "(Preferences > Get Extensions > Install from Disk), or set Preferences > Add-ons > "
                      "AU Talking Head > Server Python to a Python that has the au-talking-head package, or "
                      f"run '{CONSOLE_COMMAND} serve' in a terminal")


class ServerProcess:
    """One server process started by the add-on; its output goes to a log file.

    Args:
        command: from :func:`server_command`.
    """

    def __init__(self, command: list[str]) -> None:
        self.command = command
        fd, name = tempfile.mkstemp(prefix="au-talking-head-server-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            env=server_env(command))
        log.info("started model server pid %d: %s (log %s)", self.process.pid, " ".join(command),
                 self.log_path)

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def log_tail(self, chars: int = 600) -> str:
        """The end of the server's log (for error messages)."""
        try:
            return self.log_path.read_text("utf-8", "replace")[-chars:].strip()
        except OSError:
            return ""

    def wait_ready(self, is_up: Callable[[], bool], timeout_s: float = 120.0,
                   poll_s: float = 0.25) -> None:
        """Block until ``is_up()`` is true.

        Raises:
            LaunchError: if the process exits first or ``timeout_s`` passes (the process is stopped).
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive:
                raise self.exit_error()
            if is_up():
                return
            time.sleep(poll_s)
        self.stop()
        raise LaunchError(f"the model server did not answer within {timeout_s:.0f} s; see {self.log_path}")

    def exit_error(self) -> LaunchError:
        """A LaunchError describing why the process exited."""
        return LaunchError(f"the model server exited with code {self.process.returncode} while starting: "
                           f"{self.log_tail() or 'no output'} (command: {' '.join(self.command)})")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the process (kill after ``timeout_s``)."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout_s)
        log.info("stopped model server pid %d", self.process.pid)
