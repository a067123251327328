"""The local HTTP server's application (``au-talking-head serve``): FastAPI on uvicorn, hardened.

Endpoints (docs/api.md has the full reference):

- ``GET /v1/health``: model loaded, version, device, limits; no token needed, never shows the token.
- ``POST /v1/tracks``: the body is the audio file itself; options in the query string; returns
  au-tracks/1 JSON. Needs ``Authorization: Bearer <token>``.
- ``GET /v1/openapi.json``: the OpenAPI schema.

Defences: loopback bind by default, Host and Origin checks against DNS rebinding, no CORS headers, a
per-install token checked before the body is read, a body-size limit enforced while the body streams in,
a body read timeout, a decoded-duration limit, a frame cap and an answer-size limit checked before any
model work (``runner``), a job slot taken only once the whole body is in (slow uploads cannot starve
others), a bounded number of running and waiting jobs (429 beyond that), cancellation when the client
goes away, long files in a worker process (memory back near the baseline after them), JSON 4xx for every
bad input. Connection-level limits (head-read timeout, connection cap) are in ``connections``; the
``serve`` command line and uvicorn settings in ``serve``. The transport knows nothing of the model: it
hands bytes and options to :mod:`model_server.runner`, which calls ``pipeline.predict_tracks``.
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from au_contract import connection

from . import __version__
from .auth import LOOPBACK_HOSTS, bearer_ok, host_name, origin_ok
from .errors import ModelServerError

log = logging.getLogger(__name__)

DEFAULT_PORT = connection.DEFAULT_PORT
DEFAULT_MAX_BODY_MB = 256.0
DEFAULT_MAX_RESPONSE_MB = 256.0
DEFAULT_MAX_JOBS = 2
DEFAULT_MAX_QUEUE = 8
DEFAULT_BODY_TIMEOUT_S = 120.0
#: A connection must send a complete request line and headers within this time (``connections``).
DEFAULT_HEAD_TIMEOUT_S = 10.0
#: Open connections at most; past it the oldest idle one is closed (``connections``).
DEFAULT_MAX_CONNECTIONS = 256
#: Requests whose body or answer is larger than this hand their memory back to the system afterwards.
RELEASE_AFTER_BYTES = 1024 * 1024


@dataclass
class ServerConfig:
    """Settings of one server process.

    Attributes:
        token: the bearer token requests must carry.
        allowed_hosts: lower-case host names accepted in ``Host`` (loopback names by default).
        max_body_bytes: largest accepted request body.
        max_duration_s: longest accepted decoded audio.
        max_response_bytes: largest answer (checked from duration x fps before any work).
        max_jobs: predictions running at once.
        max_queue: requests allowed to wait for a running slot (beyond: 429).
        body_timeout_s: the whole body must arrive within this time (slow clients get 408).
        device: model device choice: ``"auto"``, ``"cuda"`` or ``"cpu"``.
    """

    token: str
    allowed_hosts: frozenset[str] = field(default_factory=lambda: LOOPBACK_HOSTS)
    max_body_bytes: int = int(DEFAULT_MAX_BODY_MB * 1024 * 1024)
    max_duration_s: float = 3600.0
    max_response_bytes: int = int(DEFAULT_MAX_RESPONSE_MB * 1024 * 1024)
    max_jobs: int = DEFAULT_MAX_JOBS
    max_queue: int = DEFAULT_MAX_QUEUE
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    device: str = "auto"


class ApiError(ModelServerError):
    """An error answered as ``{"error": code, "message": text}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ClientGoneError(ModelServerError):
    """The client closed the connection before its answer was ready (the job was cancelled)."""


class HostGuard:
    """ASGI middleware: reject requests whose Host (or Origin) is not allowed, before any routing; after a
    large request, hand its memory back to the system (``runner.release_memory``)."""

    def __init__(self, app: Any, allowed_hosts: frozenset[str]) -> None:
        self.app, self.allowed = app, allowed_hosts

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host")
        problem = None
        if host is None or host_name(host) not in self.allowed:
            problem = ("bad_host", f"Host header {host!r} is not allowed: connect through a loopback name "
                       "such as http://127.0.0.1:PORT or http://localhost:PORT.")
        elif not origin_ok(headers.get("origin"), self.allowed):
            problem = ("bad_origin", "Cross-site requests are refused: this server only answers local "
                       "programs, not web pages.")
        if problem is None:
            marks: dict[str, Any] = {}
            scope.setdefault("state", {})["auth_marks"] = marks
            await self.app(scope, receive, send)
            if marks.get("large"):
                await _release_memory()
            return
        from starlette.responses import JSONResponse

        response = JSONResponse({"error": problem[0], "message": problem[1]}, status_code=403)
        await response(scope, receive, send)


async def _release_memory() -> None:
    import anyio

    from . import runner

    await anyio.to_thread.run_sync(runner.release_memory)


class JobSlots:
    """Admission control: at most ``running + waiting`` requests hold a slot; beyond that, 429.

    A request takes its slot only once its whole body is in (a slow upload holds a connection, never a
    slot).
    """

    def __init__(self, max_jobs: int, max_queue: int) -> None:
        self.capacity = max_jobs + max_queue
        self.admitted = 0
        self.running = 0
        self.lock = threading.Lock()

    def try_enter(self) -> bool:
        with self.lock:
            if self.admitted >= self.capacity:
                return False
            self.admitted += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.admitted -= 1


class Service:
    """What the routes share: settings, job slots, the running limiter and the model."""

    def __init__(self, config: ServerConfig) -> None:
        import anyio

        self.config = config
        self.slots = JobSlots(config.max_jobs, config.max_queue)
        self.limiter = anyio.CapacityLimiter(config.max_jobs)
        self.model: Any = None
        self.model_error: str | None = None

    def model_info(self) -> dict[str, Any]:
        """Load the model on first use; its state for /v1/health (never raises)."""
        from . import pipeline

        if self.model is None and self.model_error is None:
            try:
                self.model = pipeline.get_model(self.config.device)
            except Exception as exc:  # missing weights, broken onnxruntime: report, do not die
                self.model_error = str(exc)
        model = self.model
        return {"model_loaded": model is not None, "model_version": getattr(model, "version", None),
                "device": getattr(model, "device", None), "model_error": self.model_error}

    async def read_body(self, request: Any) -> bytearray:
        """The whole body, within the size limit and the body timeout (a bytearray: no copy is made).

        Raises:
            ApiError: 400 bad Content-Length, 413 too large, 408 body timeout.
        """
        import anyio

        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise ApiError(400, "bad_request", "Content-Length is not a number.")
            if int(declared) > self.config.max_body_bytes:
                raise self.too_large()
        body = bytearray()
        try:
            with anyio.fail_after(self.config.body_timeout_s):
                async for chunk in request.stream():
                    if len(body) + len(chunk) > self.config.max_body_bytes:
                        raise self.too_large()
                    body += chunk
        except TimeoutError as exc:
            raise ApiError(408, "body_timeout", f"The body did not arrive within "
                           f"{self.config.body_timeout_s:.0f} s: send the whole file at once.") from exc
        return body

    def too_large(self) -> ApiError:
        mb = self.config.max_body_bytes / (1024 * 1024)
        return ApiError(413, "too_large", f"The body is larger than this server's limit of {mb:.0f} MiB: "
                        "send a compressed file (FLAC, OGG, MP3), split it, or start the server with a "
                        "larger --max-body-mb.")

    async def predict(self, request: Any, body: bytearray, options: Any) -> bytes:
        """Run one prediction under a job slot, cancelled when the client goes away.

        Raises:
            ApiError: 429 busy, 503 no model, or the job's own 4xx.
            ClientGoneError: the client disconnected before the answer was ready.
        """
        if not self.slots.try_enter():
            raise ApiError(429, "busy", f"The server is busy ({self.slots.capacity} requests running or "
                           "waiting): retry in a few seconds, or start it with a larger "
                           "--max-jobs/--max-queue.")
        try:
            if self.model is None and not self.model_info()["model_loaded"]:
                raise ApiError(503, "model_unavailable",
                               f"The acoustic model is not loaded: {self.model_error}")
            return await self._run_watched(request, body, options)
        finally:
            self.slots.leave()

    async def _run_watched(self, request: Any, body: bytearray, options: Any) -> bytes:
        """Run the job in a thread while watching the connection; a disconnect cancels the job."""
        import anyio

        from . import runner

        config = self.config
        limits = runner.JobLimits(config.max_duration_s, config.max_response_bytes, config.device)
        job = runner.PredictionJob(body, options, limits, self.model)
        started = time.perf_counter()
        gone = False
        payload = b""
        failure: runner.JobError | None = None

        def work() -> bytes:
            with self.slots.lock:
                self.slots.running += 1
            try:
                return job.run()
            finally:
                with self.slots.lock:
                    self.slots.running -= 1

        async with anyio.create_task_group() as group:
            async def watch() -> None:
                nonlocal gone
                while (await request.receive())["type"] != "http.disconnect":
                    pass
                gone = True
                job.cancel()
                group.cancel_scope.cancel()

            group.start_soon(watch)
            try:
                payload = await anyio.to_thread.run_sync(work, limiter=self.limiter)
            except runner.RequestCancelledError:
                gone = True
            except runner.JobError as exc:  # raised outside the task group (no exception group)
                failure = exc
            finally:
                group.cancel_scope.cancel()
        if gone:
            log.info("client went away after %.1f s: job cancelled (%s)", time.perf_counter() - started,
                     job.where or "waiting")
            raise ClientGoneError()
        if failure is not None:
            raise ApiError(failure.status, failure.code, failure.message)
        return payload


def create_app(config: ServerConfig) -> Any:
    """Build the ASGI application (FastAPI wrapped in :class:`HostGuard`)."""
    from fastapi import FastAPI

    app = FastAPI(title="AU Talking Head model server", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url=connection.OPENAPI_PATH,
                  description="Speech audio in, FACS Action Unit tracks (au-tracks/1) out.")
    service = Service(config)
    _add_error_handlers(app)
    _add_health(app, service)
    _add_tracks(app, service)
    app.state.warm_up = service.model_info
    app.state.service = service
    return HostGuard(app, config.allowed_hosts)


def _add_error_handlers(app: Any) -> None:
    """Every error is JSON ``{"error": code, "message": text}``."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.responses import JSONResponse

    def error(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"error": code, "message": message}, status_code=status)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(x) for x in e.get('loc', ())[1:])}: {e.get('msg')}" for e in exc.errors()]
        return error(400, "bad_parameter", "Invalid query parameter(s): " + "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error(exc.status_code, code, f"{exc.detail}: see GET /v1/openapi.json for the API")

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error(500, "internal", "Internal server error (a bug, not your input): see the server log.")


def _add_health(app: Any, service: Service) -> None:
    """``GET /v1/health``."""
    from au_contract import options as request_options
    from au_contract.health import STATUS_DEGRADED, STATUS_OK, HealthInfo

    config, slots = service.config, service.slots

    @app.get(connection.HEALTH_PATH, summary="Server status (no token needed)")
    async def health() -> dict[str, Any]:
        info = service.model_info()
        return HealthInfo(
            status=STATUS_OK if info["model_loaded"] else STATUS_DEGRADED, server_version=__version__, **info,
            limits={"max_body_bytes": config.max_body_bytes, "max_duration_s": config.max_duration_s,
                    "max_jobs": config.max_jobs, "max_queue": config.max_queue,
                    "max_fps": request_options.MAX_FPS, "max_frames": request_options.MAX_FRAMES,
                    "max_response_bytes": config.max_response_bytes},
            jobs={"admitted": slots.admitted, "running": slots.running}).to_dict()


def _add_tracks(app: Any, service: Service) -> None:
    """``POST /v1/tracks``: token, options, body, then a job slot and the prediction."""
    from fastapi import Request
    from starlette.requests import ClientDisconnect
    from starlette.responses import Response

    from au_contract import option_flags
    from au_contract import options as request_options

    from . import pipeline

    config = service.config

    @app.post(connection.TRACKS_PATH, summary="Audio file in the body -> au-tracks/1 JSON",
              openapi_extra={"parameters": option_flags.openapi_parameters(), "requestBody": {
                  "required": True, "content": {
                      "audio/*": {"schema": {"type": "string", "format": "binary"}},
                      "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    async def tracks(request: Request) -> Response:
        if not bearer_ok(request.headers.get("authorization"), config.token):
            raise ApiError(401, "unauthorized", "Missing or wrong token: send 'Authorization: Bearer "
                           "<token>' with the token from ~/.config/au-talking-head/token "
                           "(or $AU_TALKING_HEAD_TOKEN).")
        try:  # the query is parsed and checked by the contract (au_contract.options), as the CLI's flags
            items = option_flags.parse_query(request.scope.get("query_string", b""))
            query = request_options.RequestOptions.from_query(items)
            options = pipeline.PredictOptions(**vars(query), max_duration_s=config.max_duration_s).validated()
        except pipeline.OptionsError as exc:
            raise ApiError(400, exc.code, str(exc)) from exc
        marks = request.scope.get("state", {}).get("auth_marks", {})
        try:
            body = await service.read_body(request)
            marks["large"] = len(body) > RELEASE_AFTER_BYTES
            payload = await service.predict(request, body, options)
        except (ClientDisconnect, ClientGoneError):
            return Response(status_code=499)
        marks["large"] = marks.get("large") or len(payload) > RELEASE_AFTER_BYTES
        return Response(payload, media_type="application/json")
