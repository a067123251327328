"""The local HTTP server (``au-talking-head serve``): FastAPI on uvicorn, hardened for a desktop.

Endpoints (docs/api.md has the full reference):

- ``GET /v1/health``: model loaded, version, device, limits; no token needed, never shows the token.
- ``POST /v1/tracks``: the body is the audio file itself; options in the query string; returns
  au-tracks/1 JSON. Needs ``Authorization: Bearer <token>``.
- ``GET /v1/openapi.json``: the OpenAPI schema.

Defences: loopback bind by default (another interface needs ``--allow-remote``), Host and Origin
checks against DNS rebinding, no CORS headers, a per-install token, a body-size limit enforced while
the body streams in, a body read timeout, a decoded-duration limit, a bounded number of running and
waiting jobs (429 beyond that), JSON 4xx for every bad input, graceful shutdown on SIGTERM/SIGINT.
The transport knows nothing of the model: it hands bytes and options to
:func:`model_server.pipeline.predict_tracks`.
"""


import argparse
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .auth import LOOPBACK_HOSTS, bearer_ok, host_name, load_or_create_token, origin_ok

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765
DEFAULT_MAX_BODY_MB = 256.0
DEFAULT_MAX_JOBS = 2
DEFAULT_MAX_QUEUE = 8
DEFAULT_BODY_TIMEOUT_S = 120.0


@dataclass
class ServerConfig:
    """Settings of one server process.

    Attributes:
        token: the bearer token requests must carry.
        allowed_hosts: lower-case host names accepted in ``Host`` (loopback names by default).
        max_body_bytes: largest accepted request body.
        max_duration_s: longest accepted decoded audio.
        max_jobs: predictions running at once.
        max_queue: requests allowed to wait for a running slot (beyond: 429).
        body_timeout_s: the whole body must arrive within this time (slow clients get 408).
        device: model device choice: ``"auto"``, ``"cuda"`` or ``"cpu"``.
    """

    token: str
    allowed_hosts: frozenset[str] = field(default_factory=lambda: LOOPBACK_HOSTS)
    max_body_bytes: int = int(DEFAULT_MAX_BODY_MB * 1024 * 1024)
    max_duration_s: float = 3600.0
    max_jobs: int = DEFAULT_MAX_JOBS
    max_queue: int = DEFAULT_MAX_QUEUE
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    device: str = "auto"


class ApiError(Exception):
    """An error answered as ``{"error": code, "message": text}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class HostGuard:
    """ASGI middleware: reject requests whose Host (or Origin) is not allowed, before any routing."""

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
            await self.app(scope, receive, send)
            return
        from starlette.responses import JSONResponse

        response = JSONResponse({"error": problem[0], "message": problem[1]}, status_code=403)
        await response(scope, receive, send)


class JobSlots:
    """Admission control: at most ``running + waiting`` requests hold a slot; beyond that, 429."""

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


def create_app(config: ServerConfig) -> Any:
    """Build the ASGI application (FastAPI wrapped in :class:`HostGuard`)."""
    import anyio
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect
    from starlette.responses import JSONResponse, Response

    from au_contract.tracks import SCHEMA

    from . import pipeline
    from .decode import AudioError

    app = FastAPI(title="AU Talking Head model server", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url="/v1/openapi.json",
                  description="Speech audio in, FACS Action Unit tracks (au-tracks/1) out.")
    slots = JobSlots(config.max_jobs, config.max_queue)
    limiter = anyio.CapacityLimiter(config.max_jobs)
    state: dict[str, Any] = {"model": None, "model_error": None}

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

    def model_info() -> dict[str, Any]:
        if state["model"] is None and state["model_error"] is None:
            try:
                state["model"] = pipeline.get_model(config.device)
            except Exception as exc:  # missing weights, broken onnxruntime: report, do not die
                state["model_error"] = str(exc)
        model = state["model"]
        return {"model_loaded": model is not None, "model_version": getattr(model, "version", None),
                "device": getattr(model, "device", None), "model_error": state["model_error"]}

    app.state.warm_up = model_info

    @app.get("/v1/health", summary="Server status (no token needed)")
    async def health() -> dict[str, Any]:
        info = model_info()
        from au_contract import AU_CODES, CONTRACT_VERSION, EMOTIONS

        return {"status": "ok" if info["model_loaded"] else "degraded", **info,
                "server_version": __version__, "schema": SCHEMA, "contract_version": CONTRACT_VERSION,
                "au_codes": list(AU_CODES), "emotions": list(EMOTIONS),
                "limits": {"max_body_bytes": config.max_body_bytes, "max_duration_s": config.max_duration_s,
                           "max_jobs": config.max_jobs, "max_queue": config.max_queue},
                "jobs": {"admitted": slots.admitted, "running": slots.running}}

    allowed_params = {"fps", "emotion", "strength", "seed", "blinks", "prosody", "smoothing", "landmarks"}

    @app.post("/v1/tracks", summary="Audio file in the body -> au-tracks/1 JSON",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "audio/*": {"schema": {"type": "string", "format": "binary"}},
                  "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    async def tracks(request: Request, fps: float = 30.0, emotion: str = "NEUTRAL", strength: float = 1.0,
                     seed: int = 0, blinks: bool = True, prosody: bool = True, smoothing: float = 0.0,
                     landmarks: bool = True) -> Response:
        if not bearer_ok(request.headers.get("authorization"), config.token):
            raise ApiError(401, "unauthorized", "Missing or wrong token: send 'Authorization: Bearer "
                           "<token>' with the token from ~/.config/au-talking-head/token "
                           "(or $AU_TALKING_HEAD_TOKEN).")
        unknown = sorted(set(request.query_params) - allowed_params)
        if unknown:
            raise ApiError(400, "bad_parameter", f"Unknown query parameter(s) {unknown}; accepted: "
                           f"{sorted(allowed_params)}.")
        options = pipeline.PredictOptions(fps=fps, emotion=emotion, strength=strength, seed=seed,
                                          blinks=blinks, prosody=prosody, smoothing=smoothing,
                                          landmarks=landmarks, max_duration_s=config.max_duration_s)
        try:
            options = options.validated()
        except pipeline.OptionsError as exc:
            raise ApiError(400, exc.code, str(exc)) from exc
        if not slots.try_enter():
            raise ApiError(429, "busy", f"The server is busy ({slots.capacity} requests running or waiting): "
                           "retry in a few seconds, or start it with a larger --max-jobs/--max-queue.")
        try:
            body = await read_body(request)
            if state["model"] is None:
                info = model_info()
                if not info["model_loaded"]:
                    raise ApiError(503, "model_unavailable", f"The acoustic model is not loaded: "
                                   f"{info['model_error']}")
            started = time.perf_counter()

            def job() -> bytes:
                with slots.lock:
                    slots.running += 1
                try:
                    result = pipeline.predict_tracks(body, options, model=state["model"])
                    result.meta["timing_ms"]["server_ms"] = round((time.perf_counter() - started) * 1e3, 3)
                    return result.to_json_bytes()
                finally:
                    with slots.lock:
                        slots.running -= 1

            try:
                payload = await anyio.to_thread.run_sync(job, limiter=limiter)
            except AudioError as exc:
                raise ApiError(exc.status, exc.code, exc.message) from exc
            except pipeline.OptionsError as exc:
                raise ApiError(400, exc.code, str(exc)) from exc
            return Response(payload, media_type="application/json")
        except ClientDisconnect:
            return Response(status_code=499)
        finally:
            slots.leave()

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise ApiError(400, "bad_request", "Content-Length is not a number.")
            if int(declared) > config.max_body_bytes:
                raise too_large()
        chunks: list[bytes] = []
        size = 0
        try:
            with anyio.fail_after(config.body_timeout_s):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > config.max_body_bytes:
                        raise too_large()
                    chunks.append(chunk)
        except TimeoutError as exc:
            raise ApiError(408, "body_timeout", f"The body did not arrive within "
                           f"{config.body_timeout_s:.0f} s: send the whole file at once.") from exc
        return b"".join(chunks)

    def too_large() -> ApiError:
        mb = config.max_body_bytes / (1024 * 1024)
        return ApiError(413, "too_large", f"The body is larger than this server's limit of {mb:.0f} MiB: "
                        "send a compressed file (FLAC, OGG, MP3), split it, or start the server with a "
                        "larger --max-body-mb.")

    return HostGuard(app, config.allowed_hosts)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options (imports nothing heavy)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}, 0 = any free port)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow binding a non-loopback interface (anyone who can reach it and has the "
                             "token can use the server)")
    parser.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                        help="extra Host header name to accept (with --allow-remote); repeatable")
    parser.add_argument("--max-body-mb", type=float, default=DEFAULT_MAX_BODY_MB,
                        help=f"largest request body in MiB (default {DEFAULT_MAX_BODY_MB:g})")
    parser.add_argument("--max-duration", type=float, default=3600.0,
                        help="longest accepted audio in seconds (default 3600)")
    parser.add_argument("--max-jobs", type=int, default=DEFAULT_MAX_JOBS,
                        help=f"predictions running at once (default {DEFAULT_MAX_JOBS})")
    parser.add_argument("--max-queue", type=int, default=DEFAULT_MAX_QUEUE,
                        help=f"requests waiting for a slot before 429 (default {DEFAULT_MAX_QUEUE})")
    parser.add_argument("--body-timeout", type=float, default=DEFAULT_BODY_TIMEOUT_S,
                        help="seconds a client has to send the whole body (default 120)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                        help="where the model runs (default: CUDA when available)")


def _is_loopback_bind(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    """Start the server and block until SIGTERM/SIGINT; returns the exit code."""
    import uvicorn

    from .auth import TokenError

    allowed = set(LOOPBACK_HOSTS)
    if not _is_loopback_bind(args.host):
        if not args.allow_remote:
            log.error("refusing to bind %s: it is not a loopback address. Use --allow-remote to serve other "
                      "machines (anyone who can reach the port and knows the token can use it).", args.host)
            return 2
        log.warning("serving on non-loopback interface %s: other machines can reach this server", args.host)
        allowed.add(host_name(args.host if ":" not in args.host else f"[{args.host}]"))
        allowed.update(h.lower() for h in args.allowed_host)
    if min(args.max_jobs, args.max_body_mb, args.max_duration, args.body_timeout) <= 0 or args.max_queue < 0:
        log.error("--max-jobs, --max-body-mb, --max-duration and --body-timeout must be positive")
        return 2
    try:
        token, origin = load_or_create_token()
    except TokenError as exc:
        log.error("%s", exc)
        return 2
    config = ServerConfig(token=token, allowed_hosts=frozenset(allowed),
                          max_body_bytes=int(args.max_body_mb * 1024 * 1024),
                          max_duration_s=args.max_duration,
                          max_jobs=args.max_jobs, max_queue=args.max_queue, body_timeout_s=args.body_timeout,
                          device=args.device)
    app = create_app(config)
    info = app.app.state.warm_up()
    _warm_model(info, config.device)
    log.info("token from %s; model %s on %s", origin, info["model_version"], info["device"])
    server = uvicorn.Server(uvicorn.Config(
        app, host=args.host, port=args.port, log_level="info", access_log=False, timeout_keep_alive=5,
        timeout_graceful_shutdown=30, limit_concurrency=config.max_jobs + config.max_queue + 64,
        server_header=False, lifespan="off"))
    server.run()
    return 0


def _warm_model(info: dict[str, Any], device: str) -> None:
    """Run the model once on a second of noise so the first request is as fast as the rest."""
    if not info["model_loaded"]:
        log.warning("model not loaded: %s (POST /v1/tracks will answer 503)", info["model_error"])
        return
    import numpy as np

    from .pipeline import get_model

    noise = np.random.default_rng(0).normal(0, 0.05, 16000).astype(np.float32)
    get_model(device).predict(noise)

