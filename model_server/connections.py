"""uvicorn's HTTP/1.1 protocol with a head-read timeout and a connection cap idle clients cannot exhaust.

uvicorn alone keeps a connection that never sends a request open forever and, past ``limit_concurrency``
connections, answers every request (health included) with a plain-text 503: 80 idle sockets, opened
without any token, were enough to shut every client out. This protocol class adds:

- **a head-read timeout**: a connection must deliver a complete request line and headers within
  ``head_timeout_s`` of being opened, and again within that time after each answer, or it is closed
  (slow-header clients and idle sockets go away by themselves);
- **a connection cap with eviction**: when a new connection would pass ``max_connections``, the oldest
  *idle* connection (no request in progress; never-used ones first) is closed to make room. Only
  connections inside a request count as busy, and the only request that stays in progress for long is an
  upload to ``POST /v1/tracks``, which needs the token (every other request is answered at once, a
  request without the token before its body is read). So a local program without the token cannot
  keep anyone else out; only when every connection is busy with a real request is a new one refused.

Use it with ``uvicorn.Config(http=guarded_protocol(head_timeout_s, max_connections))``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .service import DEFAULT_HEAD_TIMEOUT_S, DEFAULT_MAX_CONNECTIONS

log = logging.getLogger(__name__)


class GuardedH11Protocol(H11Protocol):
    """H11Protocol plus a head-read timeout and a connection cap (class attributes set by
    :func:`guarded_protocol`)."""

    head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._opened = time.monotonic()
        self._served = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()
        if len(self.connections) > self.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:  # a complete request head arrived
            self._served = True
            self._cancel_head_timer()

    def on_response_complete(self) -> None:
        before = self.cycle
        super().on_response_complete()
        if self.cycle is not before:  # a pipelined request started at once
            self._cancel_head_timer()
        elif not self.transport.is_closing():
            self._arm_head_timer()  # the next request head must come in time too

    @property
    def busy(self) -> bool:
        """True while a request is in progress on this connection (its answer not yet complete)."""
        return self.cycle is not None and not self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if not self.busy:
            log.debug("closing a connection that sent no complete request within %.0f s", self.head_timeout_s)
            self.close_idle()

    def close_idle(self) -> None:
        """Close this connection (it has no request in progress)."""
        if self.transport.is_closing():
            return
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()

    def _make_room(self) -> None:
        """Close the oldest idle connection (never-used first); refuse this one when all are busy."""
        idle = [c for c in self.connections if c is not self and isinstance(c, GuardedH11Protocol)
                and not c.busy and not c.transport.is_closing()]
        if idle:
            victim = min(idle, key=lambda c: (c._served, c._opened))
            log.warning("connection cap (%d) reached: closing the oldest idle connection",
                        self.max_connections)
            victim.close_idle()
            return
        log.warning("connection cap (%d) reached and every connection is in a request: refusing a new one",
                    self.max_connections)
        self.close_idle()


def guarded_protocol(head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S,
                     max_connections: int = DEFAULT_MAX_CONNECTIONS) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` subclass with these limits (for ``uvicorn.Config(http=...)``)."""
    attrs: dict[str, Any] = {"head_timeout_s": float(head_timeout_s), "max_connections": int(max_connections)}
    return type("ConfiguredH11Protocol", (GuardedH11Protocol,), attrs)
