"""Start and stop the local model server process from Blender (pure: standard library only).

Which program runs the server, in order:

1. the add-on preference *Server Python* (an interpreter: ``<python> -m model_server serve --port N``);
2. ``$AU_TALKING_HEAD_PYTHON`` (same form);
3. this process's ``sys.executable`` if it can import ``model_server`` (true in the project's venv with
   the bpy module; a regular Blender's Python cannot);
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

log = logging.getLogger(__name__)

PYTHON_ENV = "AU_TALKING_HEAD_PYTHON"
CONSOLE_COMMAND = "au-talking-head"


class LaunchError(RuntimeError):
    """The server could not be started; the message says why and what to do."""


def _can_import_server(python: str) -> bool:
    try:
        done = subprocess.run([python, "-c", "import model_server.cli"], capture_output=True, timeout=60,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def server_command(port: int, preferred_python: str = "",
                   can_import: Callable[[str], bool] = _can_import_server) -> list[str]:
    """Return the command line that starts a server on ``127.0.0.1:port``.

    Raises:
        LaunchError: if no candidate works (the message lists what was tried).
    """
    tail = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    tried: list[str] = []
    for source, python in (("preference Server Python", preferred_python.strip()),
                           (f"${PYTHON_ENV}", os.environ.get(PYTHON_ENV, "").strip()),
                           ("this Python", sys.executable)):
        if not python:
            continue
        if not Path(python).exists():
            tried.append(f"{source} {python} (not found)")
            continue
        if can_import(python):
            return [python, "-m", "model_server", *tail]
        tried.append(f"{source} {python} (cannot import model_server)")
    exe = shutil.which(CONSOLE_COMMAND)
    if exe:
        return [exe, *tail]
    tried.append(f"'{CONSOLE_COMMAND}' on PATH (not found)")
    raise LaunchError("cannot start the model server: tried " + "; ".join(tried) + ". Set Preferences > "
                      "Add-ons > AU Talking Head > Server Python to the project's .venv/bin/python, or run "
                      f"'{CONSOLE_COMMAND} serve' in a terminal")


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
                                            stderr=subprocess.STDOUT, start_new_session=True)
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
