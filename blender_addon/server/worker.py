"""A background job for the UI: run one function in a thread, poll it from a modal timer, cancel it.

Pure module (standard library only). Blender data is never touched from the thread: the function gets
plain inputs and returns plain data; the operator applies the result on the main thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from ..errors import AddonError

T = TypeVar("T")


class JobCancelledError(AddonError):
    """The user cancelled the job."""


class BackgroundJob(Generic[T]):
    """Run ``fn(cancel_event)`` in a daemon thread.

    ``fn`` should check ``cancel_event.is_set()`` between its steps and raise :class:`JobCancelledError`. A
    cancelled job's result is discarded even if ``fn`` finishes anyway (a blocking HTTP call cannot be
    interrupted; it ends at its own timeout and is ignored).
    """

    def __init__(self, fn: Callable[[threading.Event], T], name: str = "au-talking-head-job") -> None:
        self._fn = fn
        self.cancel_event = threading.Event()
        self._result: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self.started_s = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._fn(self.cancel_event)
        except BaseException as exc:  # handed to the main thread, which reports it
            self._error = exc
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        """True once the function returned or raised."""
        return self._done.is_set()

    @property
    def elapsed_s(self) -> float:
        """Seconds since the job started."""
        return time.monotonic() - self.started_s

    def cancel(self) -> None:
        """Ask the job to stop; its result will be discarded."""
        self.cancel_event.set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until done (or ``timeout_s``); returns :attr:`done`."""
        return self._done.wait(timeout_s)

    def result(self) -> T:
        """Return the function's result.

        Raises:
            JobCancelledError: if the job was cancelled.
            BaseException: whatever the function raised.
            RuntimeError: if called before the job is done.
        """
        if not self.done:
            raise RuntimeError("the job is still running")
        if self.cancel_event.is_set():
            raise JobCancelledError("cancelled")
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]
