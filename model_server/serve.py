"""``au-talking-head serve``: the command line of the HTTP server and its uvicorn settings.

Every flag is checked when it is parsed (a finite number in a stated range, a port in 0..65535), so a bad
value ends with argparse's usage line and one sentence naming the flag and its range, never a traceback
and never a server that starts and then blames every client. ``--parent-pid`` makes the server exit when
that process ends (the batch renderer passes its own pid, so a job killed with -9 leaves no server behind).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from au_contract import connection

from .auth import LOOPBACK_HOSTS, host_name, load_or_create_token
from .service import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_HEAD_TIMEOUT_S,
    DEFAULT_MAX_BODY_MB,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_JOBS,
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_RESPONSE_MB,
    DEFAULT_PORT,
    ServerConfig,
    create_app,
)

log = logging.getLogger(__name__)

#: Seconds an idle keep-alive connection stays open after an answer.
KEEP_ALIVE_S = 5
#: Largest request line plus headers, bytes (h11 answers 400 beyond).
MAX_HEAD_BYTES = 16 * 1024


def number(flag: str, low: float, high: float, integer: bool = False) -> Callable[[str], Any]:
    """An argparse ``type=`` that accepts a finite number in ``[low, high]`` (a whole one if ``integer``)."""
    what = "a whole number" if integer else "a number"

    def parse(text: str) -> Any:
        problem = f"{flag} must be {what} from {low:g} to {high:g}, got {text!r}"
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(problem) from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = flag.lstrip("-")
    return parse


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options (imports nothing heavy)."""
    add = parser.add_argument
    add("--host", default=connection.DEFAULT_HOST,
        help=f"interface to bind (default {connection.DEFAULT_HOST})")
    add("--port", type=number("--port", 0, 65535, integer=True), default=DEFAULT_PORT,
        help=f"port 0..65535 (default {DEFAULT_PORT}, 0 = any free port)")
    add("--allow-remote", action="store_true", help="allow binding a non-loopback interface (anyone who can "
        "reach it and has the token can use the server)")
    add("--allowed-host", action="append", default=[], metavar="NAME",
        help="extra Host header name to accept (with --allow-remote); repeatable")
    add("--max-body-mb", type=number("--max-body-mb", 0.001, 4096), default=DEFAULT_MAX_BODY_MB,
        help=f"largest request body in MiB, up to 4096 (default {DEFAULT_MAX_BODY_MB:g})")
    add("--max-duration", type=number("--max-duration", 0.1, 86400), default=3600.0,
        help="longest accepted audio in seconds, up to 86400 (default 3600)")
    add("--max-response-mb", type=number("--max-response-mb", 1, 4096), default=DEFAULT_MAX_RESPONSE_MB,
        help="largest answer in MiB, checked from duration x fps before any work, up to 4096 "
             f"(default {DEFAULT_MAX_RESPONSE_MB:g})")
    add("--max-jobs", type=number("--max-jobs", 1, 64, integer=True), default=DEFAULT_MAX_JOBS,
        help=f"predictions running at once, 1..64 (default {DEFAULT_MAX_JOBS})")
    add("--max-queue", type=number("--max-queue", 0, 1024, integer=True), default=DEFAULT_MAX_QUEUE,
        help=f"requests waiting for a slot before 429, 0..1024 (default {DEFAULT_MAX_QUEUE})")
    add("--body-timeout", type=number("--body-timeout", 1, 3600), default=DEFAULT_BODY_TIMEOUT_S,
        help="seconds a client has to send the whole body, 1..3600 (default 120)")
    add("--head-timeout", type=number("--head-timeout", 0.5, 300), default=DEFAULT_HEAD_TIMEOUT_S,
        help="seconds a connection has to send a complete request line and headers, 0.5..300 "
             f"(default {DEFAULT_HEAD_TIMEOUT_S:g}); idle connections are closed after it")
    add("--max-connections", type=number("--max-connections", 4, 10000, integer=True),
        default=DEFAULT_MAX_CONNECTIONS, help="open connections at most, 4..10000; past it the oldest idle "
        f"one is closed (default {DEFAULT_MAX_CONNECTIONS})")
    add("--parent-pid", type=number("--parent-pid", 1, 2**22, integer=True), default=None, metavar="PID",
        help="exit when this process ends (for programs that start a server for one job)")
    add("--device", choices=("auto", "cuda", "cpu"), default="auto",
        help="where the model runs (default: CUDA when available)")


def _is_loopback_bind(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _allowed_hosts(args: argparse.Namespace) -> frozenset[str] | None:
    """Host names to accept, or None (logged) when a non-loopback bind lacks --allow-remote."""
    allowed = set(LOOPBACK_HOSTS)
    if _is_loopback_bind(args.host):
        return frozenset(allowed)
    if not args.allow_remote:
        log.error("refusing to bind %s: it is not a loopback address. Use --allow-remote to serve other "
                  "machines (anyone who can reach the port and knows the token can use it).", args.host)
        return None
    log.warning("serving on non-loopback interface %s: other machines can reach this server", args.host)
    allowed.add(host_name(args.host if ":" not in args.host else f"[{args.host}]"))
    allowed.update(h.lower() for h in args.allowed_host)
    return frozenset(allowed)


def run(args: argparse.Namespace) -> int:
    """Start the server and block until SIGTERM/SIGINT (or the parent's end); returns the exit code."""
    import uvicorn

    from . import runner
    from .auth import TokenError
    from .connections import guarded_protocol

    allowed = _allowed_hosts(args)
    if allowed is None:
        return 2
    try:
        token, origin = load_or_create_token()
    except TokenError as exc:
        log.error("%s", exc)
        return 2
    config = ServerConfig(token=token, allowed_hosts=allowed, max_body_bytes=int(args.max_body_mb * 2**20),
                          max_duration_s=args.max_duration,
                          max_response_bytes=int(args.max_response_mb * 2**20),
                          max_jobs=args.max_jobs, max_queue=args.max_queue, body_timeout_s=args.body_timeout,
                          device=args.device)
    app = create_app(config)
    info = app.app.state.warm_up()
    _warm_model(info, config.device)
    runner.start_worker_pool()
    log.info("token from %s; model %s on %s", origin, info["model_version"], info["device"])
    server = uvicorn.Server(uvicorn.Config(
        app, host=args.host, port=args.port, log_level="info", access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=30, limit_concurrency=None,
        server_header=False, lifespan="off",
        http=guarded_protocol(args.head_timeout, args.max_connections),
        h11_max_incomplete_event_size=MAX_HEAD_BYTES))
    if args.parent_pid is not None:
        watch_parent(args.parent_pid, server)
    server.run()  # a port in use is logged by uvicorn, which exits with code 1
    return 0


def watch_parent(pid: int, server: Any, poll_s: float = 0.5) -> threading.Thread:
    """Ask ``server`` to shut down (gracefully) once process ``pid`` has ended."""
    ppid_at_start = os.getppid()

    def alive() -> bool:
        if pid == ppid_at_start and os.getppid() != pid:
            return False  # we were reparented: our parent is gone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def loop() -> None:
        while alive():
            time.sleep(poll_s)
        log.warning("parent process %d has ended: shutting down", pid)
        server.should_exit = True

    watcher = threading.Thread(target=loop, name="parent-watch", daemon=True)
    watcher.start()
    return watcher


def _warm_model(info: dict[str, Any], device: str) -> None:
    """Run the model once on a second of noise so the first request is as fast as the rest."""
    if not info["model_loaded"]:
        log.warning("model not loaded: %s (POST /v1/tracks will answer 503)", info["model_error"])
        return
    import numpy as np

    from .pipeline import get_model

    noise = np.random.default_rng(0).normal(0, 0.05, 16000).astype(np.float32)
    get_model(device).predict(noise)
