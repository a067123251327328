"""Output folders shared by several batch jobs, and what a killed job leaves behind (pure: stdlib only).

- **One render per video at a time.** Each final MP4 has a lock (:func:`item_lock`, an OS file lock kept
  in the system's temporary folder, so the output folder holds nothing but videos). A job takes it before
  rendering an input and holds it until the video is published; a second job that reaches the same
  output waits, then finds the video done and skips it. Locks die with their process, so a job killed
  with -9 never blocks the next one.
- **A partial file per render.** :func:`partial_path` names the temporary video after the final name,
  the job's pid and a random tag, so two jobs never write or delete each other's file;
  :func:`remove_stale_partials` deletes only partials whose lock nobody holds.
- **Temporary folders per pid.** :func:`job_temp_dir` is named ``auth-batch-<pid>-...``;
  :func:`remove_orphan_temp_dirs` deletes those of processes that no longer run (a job killed with -9).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import BatchError

log = logging.getLogger(__name__)

#: Suffix of the temporary file a render writes before it is renamed to its final name.
PARTIAL_SUFFIX = ".partial.mp4"
TEMP_PREFIX = "auth-batch-"
LOCK_DIR_NAME = "au-talking-head-render-locks"
_TEMP_NAME = re.compile(rf"^{re.escape(TEMP_PREFIX)}(\d+)-")


def partial_path(final: Path) -> Path:
    """A temporary file beside ``final`` (hidden, same file system) that no other render uses."""
    return final.with_name(f".{final.stem}.{os.getpid()}-{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


def final_of_partial(partial: Path) -> Path:
    """The final video a partial file belongs to (``.name.123-ab12cd34.partial.mp4`` -> ``name.mp4``)."""
    stem = partial.name[1:-len(PARTIAL_SUFFIX)]
    if re.search(r"\.\d+-[0-9a-f]{8}$", stem):
        stem = stem.rsplit(".", 1)[0]
    return partial.with_name(f"{stem}.mp4")


def _lock_file(final: Path) -> Path:
    folder = Path(tempfile.gettempdir()) / LOCK_DIR_NAME
    folder.mkdir(mode=0o700, exist_ok=True)
    digest = hashlib.sha256(str(final.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return folder / f"{digest}.lock"


def _try_lock(fd: int) -> bool:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            return True
        except OSError:
            return False
    except OSError:
        return False


@contextlib.contextmanager
def item_lock(final: Path, wait: bool = True, on_wait: Callable[[], None] | None = None,
              poll_s: float = 0.2) -> Iterator[bool]:
    """Hold the render lock of ``final``; yields True, or False when ``wait`` is off and it is taken.

    Args:
        final: the video's final path.
        wait: block until the lock is free (calling ``on_wait`` once when it has to wait).
        on_wait: called once if another process holds the lock.
    """
    fd = os.open(_lock_file(final), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        got = _try_lock(fd)
        if not got and wait:
            if on_wait is not None:
                on_wait()
            while not got:
                time.sleep(poll_s)
                got = _try_lock(fd)
        yield got
    finally:
        os.close(fd)  # closing releases the lock


def remove_stale_partials(folder: Path) -> list[Path]:
    """Delete partial files in ``folder`` that no running render owns; returns what was deleted."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in sorted(folder.glob(f".*{PARTIAL_SUFFIX}")):
        with item_lock(final_of_partial(path), wait=False) as free:
            if free:
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def check_writable(folder: Path) -> None:
    """Make sure ``folder`` exists and a file can be created in it.

    Raises:
        BatchError: saying why not (read-only file system, permissions, not a folder).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".au-talking-head-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BatchError(f"cannot write to the output folder {folder}: {exc.strerror or exc}; choose another "
                         "folder with -o") from None


def job_temp_dir() -> Path:
    """A new temporary folder for this job, named after this process so a later job can clean it up."""
    return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_orphan_temp_dirs(root: Path | None = None) -> list[Path]:
    """Delete the temporary folders of batch jobs whose process is gone; returns what was deleted."""
    removed: list[Path] = []
    base = root or Path(tempfile.gettempdir())
    for path in base.glob(f"{TEMP_PREFIX}*"):
        match = _TEMP_NAME.match(path.name)
        if match is None or not path.is_dir() or _pid_alive(int(match.group(1))):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
        log.info("removed %s, left by a batch job that no longer runs", path)
    return removed
