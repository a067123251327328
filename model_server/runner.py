"""Running one prediction for the HTTP service: bounded before work starts, cancellable, memory given back.

- **Bounded up front.** The body is decoded first; the answer's size is bounded from the duration, the fps
  and whether landmarks are asked for (:func:`response_bytes_bound`), and a request whose answer would
  pass the server's ``--max-response-mb`` is refused (413 ``response_too_large``) before any model work.
  The frame cap (``au_contract.options.MAX_FRAMES``) and the duration cap apply as well.
- **Short clips in this process, long ones in a worker process.** A body up to
  :data:`INPROCESS_MAX_BODY_BYTES` whose audio lasts up to :data:`INPROCESS_MAX_S` and whose answer is
  at most :data:`INPROCESS_MAX_RESPONSE_BYTES` runs in the server process (tens of milliseconds, the
  common case). Anything larger runs in a process forked from a preloaded fork server (about 40 ms to
  start): when it exits, every byte it used goes back to the system, so the server's memory stays near
  its baseline after hour-long files, and cancelling it (the client went away) kills it at once.
- **Memory given back.** After a large request :func:`release_memory` collects reference cycles (a
  failed decode's traceback keeps the body alive otherwise) and asks glibc to return free heap pages.

The service calls :class:`PredictionJob` from a worker thread; nothing here knows about HTTP.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import multiprocessing
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

from au_contract import AU_CODES
from au_contract.options import frame_count

from .errors import ModelServerError

log = logging.getLogger(__name__)

#: Largest body predicted inside the server process (bigger ones go to a worker process).
INPROCESS_MAX_BODY_BYTES = 8 * 1024 * 1024
#: Longest audio predicted inside the server process, seconds.
INPROCESS_MAX_S = 120.0
#: Largest answer built inside the server process, bytes.
INPROCESS_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: Upper bound of one frame's AU values on the wire: ``0.1234,`` is 7 characters per channel.
AU_BYTES_PER_FRAME = 7 * len(AU_CODES)
#: Upper bound of one frame's landmarks: 68 points of ``[-0.12345,-0.12345,-0.12345],`` (31 characters).
LANDMARK_BYTES_PER_FRAME = 68 * 31 + 3
#: Names, meta and brackets of one document, bytes (generous).
RESPONSE_OVERHEAD_BYTES = 16 * 1024
#: Modules the fork server imports once, so a worker starts in tens of milliseconds.
_PRELOAD = ["numpy", "soundfile", "soxr", "onnxruntime", "model_server.pipeline", "model_server.acoustic",
            "model_server.runner"]


class JobError(ModelServerError):
    """A prediction that cannot be made; the service answers ``{"error": code, "message": message}``.

    Attributes:
        status: HTTP status (4xx for bad input, 500 for a bug).
        code: machine-readable reason (``au_contract.errors`` codes).
        message: what is wrong and what to do.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, code, message)
        self.status, self.code, self.message = status, code, message

    def __str__(self) -> str:
        return self.message


class RequestCancelledError(ModelServerError):
    """The job was cancelled (the client went away) before it finished."""


@dataclass(frozen=True)
class JobLimits:
    """The server's limits one prediction runs under.

    Attributes:
        max_duration_s: longest accepted decoded audio, seconds.
        max_response_bytes: largest answer, bytes.
        device: model device (``"auto"``, ``"cuda"``, ``"cpu"``).
    """

    max_duration_s: float
    max_response_bytes: int
    device: str = "auto"


def response_bytes_bound(frames: int, landmarks: bool) -> int:
    """An upper bound of the au-tracks/1 JSON size of ``frames`` frames, bytes."""
    per_frame = AU_BYTES_PER_FRAME + (LANDMARK_BYTES_PER_FRAME if landmarks else 0)
    return RESPONSE_OVERHEAD_BYTES + frames * per_frame


def check_response_size(duration_s: float, options: Any, max_response_bytes: int) -> int:
    """Refuse a request whose answer could pass ``max_response_bytes``; returns the size bound.

    Raises:
        JobError: 413 ``response_too_large``, saying how long a file fits at these options.
    """
    fps = float(options.fps)
    bound = response_bytes_bound(frame_count(duration_s, fps), bool(options.landmarks))
    if bound <= max_response_bytes:
        return bound
    per_s = fps * (AU_BYTES_PER_FRAME + (LANDMARK_BYTES_PER_FRAME if options.landmarks else 0))
    fits_s = max(0.0, (max_response_bytes - RESPONSE_OVERHEAD_BYTES) / per_s)
    mib = max_response_bytes / 2**20
    hint = "ask without landmarks (landmarks=false, about 14x smaller), " if options.landmarks else ""
    raise JobError(413, "response_too_large",
                   f"{duration_s:.1f} s of audio at {fps:g} fps would be an answer of up to "
                   f"{bound / 2**20:.0f} MiB, more than this server's limit of {mib:.0f} MiB: {hint}lower "
                   f"the fps, split the audio into parts of at most {fits_s:.0f} s, or start the "
                   "server with a larger --max-response-mb.")


def predict_json(body: bytes | bytearray, options: Any, limits: JobLimits, model: Any = None,
                 in_process: bool = False, started: float | None = None) -> bytes | None:
    """Decode, bound, predict and serialise one request.

    Args:
        body: the audio file's bytes.
        options: validated ``pipeline.PredictOptions`` (``fps``, ``landmarks``...).
        limits: the server's limits.
        model: the acoustic model (default: ``pipeline.get_model(limits.device)``).
        in_process: stop early (return ``None``) when the clip is too long or its answer too large to
            be made inside the server process: the caller then runs it in a worker process.
        started: ``time.monotonic()`` when the server had the whole body; ``meta.timing_ms.server_ms``
            is measured from it.

    Returns:
        The au-tracks/1 JSON bytes, or ``None`` (only with ``in_process``).

    Raises:
        JobError: bad audio, an option out of range, an answer over the limit.
    """
    from . import pipeline
    from .decode import AudioError, decode_audio

    max_s = min(limits.max_duration_s, INPROCESS_MAX_S) if in_process else limits.max_duration_s
    try:
        decoded = decode_audio(body, max_duration_s=max_s)
    except AudioError as exc:
        if in_process and exc.code == "too_long" and max_s < limits.max_duration_s:
            return None
        raise JobError(exc.status, exc.code, exc.message) from None
    bound = check_response_size(decoded.duration_s, options, limits.max_response_bytes)
    if in_process and bound > INPROCESS_MAX_RESPONSE_BYTES:
        return None
    try:
        tracks = pipeline.predict_tracks(decoded, options, model=model or pipeline.get_model(limits.device))
    except pipeline.OptionsError as exc:
        raise JobError(400, exc.code, str(exc)) from None
    if started is not None:
        tracks.meta["timing_ms"]["server_ms"] = round((time.monotonic() - started) * 1e3, 3)
    payload = tracks.to_json_bytes()
    if len(payload) > limits.max_response_bytes:  # the bound is an upper bound: a bug if this happens
        raise JobError(500, "internal", "the answer came out larger than its bound: see the server log")
    return payload


class PredictionJob:
    """One prediction: in this process when it is small, else in a worker process it can kill.

    ``run`` blocks (call it from a worker thread); ``cancel`` may be called from any thread.
    """

    def __init__(self, body: bytes | bytearray, options: Any, limits: JobLimits, model: Any = None) -> None:
        self.body, self.options, self.limits, self.model = body, options, limits, model
        self._lock = threading.Lock()
        self._cancelled = False
        self._process: Any = None
        self.started = time.monotonic()
        #: ``"server"`` or ``"worker"``: where the prediction ran.
        self.where = ""

    def run(self) -> bytes:
        """Predict; returns the JSON bytes.

        Raises:
            JobError: bad input or a failed worker; RequestCancelledError: :meth:`cancel` was called.
        """
        if len(self.body) <= INPROCESS_MAX_BODY_BYTES:
            self.where = "server"
            payload = predict_json(self.body, self.options, self.limits, self.model, in_process=True,
                                   started=self.started)
            if payload is not None:
                return payload
        self.where = "worker"
        return self._run_in_worker()

    def cancel(self) -> None:
        """Stop the job: a worker process is killed now; an in-process job is left to finish."""
        with self._lock:
            self._cancelled = True
            if self._process is not None and self._process.is_alive():
                self._process.kill()

    def _run_in_worker(self) -> bytes:
        ctx = _context()
        parent, child = ctx.Pipe(duplex=True)
        with self._lock:
            if self._cancelled:
                raise RequestCancelledError()
            args = (child, self.options, self.limits, self.started)
            self._process = ctx.Process(target=_worker_main, args=args,  # type: ignore[attr-defined]
                                        name="au-talking-head-job", daemon=True)
            self._process.start()
        child.close()
        try:
            parent.send_bytes(self.body)
            head = parent.recv()
            if head[0] == "ok":
                return bytes(parent.recv_bytes())
            raise JobError(*head[1:])
        except (EOFError, OSError) as exc:
            if self._cancelled:
                raise RequestCancelledError() from None
            log.error("worker process %s ended without an answer (%s)", self._process.pid, exc)
            raise JobError(500, "internal", "the worker process died (out of memory?): see the server "
                           "log") from None
        finally:
            parent.close()
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)


def _worker_main(conn: Connection, options: Any, limits: JobLimits, started: float) -> None:
    """Body of a worker process: read the body, predict, answer ``("ok",) + bytes`` or ``("error", ...)``."""
    try:
        body = conn.recv_bytes()
        try:
            payload = predict_json(body, options, limits, started=started)
        except JobError as exc:
            conn.send(("error", exc.status, exc.code, exc.message))
            return
        except Exception:  # a bug: say so, keep the details in the log
            log.exception("prediction failed in the worker process")
            conn.send(("error", 500, "internal", "Internal server error (a bug, not your input): see the "
                       "server log."))
            return
        del body
        conn.send(("ok",))
        conn.send_bytes(payload or b"")
    except (BrokenPipeError, EOFError, ConnectionResetError):
        pass  # the server went away or cancelled the job
    finally:
        conn.close()


_CONTEXT: BaseContext | None = None
_CONTEXT_LOCK = threading.Lock()


def _context() -> BaseContext:
    """The multiprocessing context of worker processes: a preloaded fork server where there is one."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            ctx = multiprocessing.get_context(method)
            if method == "forkserver":
                ctx.set_forkserver_preload(_PRELOAD)
            _CONTEXT = ctx
        return _CONTEXT


def start_worker_pool() -> None:
    """Start the fork server now (about half a second) so the first long request does not wait for it."""
    ctx = _context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


_TRIM_LOCK = threading.Lock()


def release_memory() -> None:
    """Collect reference cycles and hand free heap pages back to the system (glibc ``malloc_trim``)."""
    if not _TRIM_LOCK.acquire(blocking=False):
        return  # another thread is doing it right now
    try:
        gc.collect()
        trim = _malloc_trim()
        if trim is not None:
            trim(0)
    finally:
        _TRIM_LOCK.release()


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or ``None`` on other C libraries."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)
