"""HTTP client of the local model server (standard library ``urllib`` only: it runs inside Blender).

Endpoints (the server's contract): ``GET /v1/health`` and ``POST /v1/tracks?fps=..&emotion=..&...``
with the raw audio file bytes as the body and ``Authorization: Bearer <token>``. Errors come back as
JSON ``{"error": code, "message": ...}``. Every failure surfaces as :class:`ServerError` whose message
says what happened and what to do.

The token is read from ``AU_TALKING_HEAD_TOKEN`` if set, else from
``$XDG_CONFIG_HOME/au-talking-head/token`` (default ``~/.config/au-talking-head/token``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TOKEN_ENV = "AU_TALKING_HEAD_TOKEN"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
#: Largest audio file sent (bytes); the server enforces its own limit too.
MAX_AUDIO_BYTES = 200 * 1024 * 1024


class ServerError(RuntimeError):
    """The model server could not be reached or refused the request.

    Attributes:
        code: a short machine-readable code (``"unreachable"``, ``"timeout"``, ``"unauthorized"``,
            the server's own ``error`` code, ...).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TrackRequest:
    """Parameters of one ``POST /v1/tracks`` call.

    Attributes:
        fps: frame rate of the returned tracks (the scene's, fractional allowed).
        emotion: emotion id sent to the server (the add-on sends ``"NEUTRAL"`` and applies the chosen
            emotion through the rig's emotion properties).
        strength: emotion strength 0..1.
        seed: seed of the blink and prosody layer.
        blinks: whether the server adds blinks.
        prosody: whether the server adds prosody (brow raises on stressed words).
        smoothing: temporal smoothing strength 0..1.
    """

    fps: float
    emotion: str = "NEUTRAL"
    strength: float = 1.0
    seed: int = 0
    blinks: bool = True
    prosody: bool = True
    smoothing: float = 0.0

    def query(self) -> str:
        """Return the URL query string of the request."""
        return urllib.parse.urlencode({
            "fps": repr(float(self.fps)), "emotion": self.emotion, "strength": f"{self.strength:g}",
            "seed": int(self.seed), "blinks": str(self.blinks).lower(), "prosody": str(self.prosody).lower(),
            "smoothing": f"{self.smoothing:g}", "landmarks": "false",
        })


def token_path() -> Path:
    """Return where the server's token file lives (``$XDG_CONFIG_HOME/au-talking-head/token``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "au-talking-head" / "token"


def read_token() -> str | None:
    """Return the bearer token (environment first, then the token file), or None if there is none."""
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        return env
    try:
        text = token_path().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def check_url(url: str) -> str:
    """Validate a server URL (http on a loopback address) and return it without a trailing slash.

    Raises:
        ServerError: code ``"bad_url"`` if the URL is not ``http://<loopback>:<port>``.
    """
    parsed = urllib.parse.urlparse(url.strip())
    if parsed.scheme != "http" or parsed.hostname is None:
        raise ServerError("bad_url", f"server URL {url!r} must look like http://127.0.0.1:8765")
    host = parsed.hostname
    if host not in LOOPBACK_HOSTS and f"[{host}]" not in LOOPBACK_HOSTS:
        raise ServerError("bad_url", f"server URL {url!r} is not on this machine: the add-on only talks to "
                                     "a local server (127.0.0.1)")
    return url.strip().rstrip("/")


def port_of(url: str) -> int:
    """Return the TCP port of a server URL (80 if none is given)."""
    return urllib.parse.urlparse(url).port or 80


class Client:
    """A small client of one server.

    Args:
        url: base URL, e.g. ``"http://127.0.0.1:8765"`` (loopback only).
        token: bearer token; None reads it with :func:`read_token` at each request.
        timeout_s: socket timeout of each request in seconds (the tracks call waits this long for
            the answer to start and between chunks of it).
    """

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 120.0) -> None:
        self.url = check_url(url)
        self._token = token
        self.timeout_s = timeout_s

    def health(self, timeout_s: float = 2.0) -> dict[str, Any]:
        """Return the server's ``/v1/health`` JSON.

        Raises:
            ServerError: if the server is not running or does not answer in ``timeout_s``.
        """
        body = self._call("GET", "/v1/health", None, {}, timeout_s)
        return _json_object(body, "/v1/health")

    def tracks(self, audio: bytes, request: TrackRequest) -> bytes:
        """POST the audio bytes and return the raw au-tracks/1 JSON answer.

        Raises:
            ServerError: unreachable server, timeout, bad token, or the server's own error (bad audio...).
        """
        if not audio:
            raise ServerError("bad_audio", "the audio file is empty: pick a speech recording")
        if len(audio) > MAX_AUDIO_BYTES:
            raise ServerError("too_large", f"the audio file is {len(audio) / 1e6:.0f} MB; split it into "
                                           f"parts under {MAX_AUDIO_BYTES // 1_000_000} MB")
        token = self._token if self._token is not None else read_token()
        headers = {"Content-Type": "application/octet-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self._call("POST", f"/v1/tracks?{request.query()}", audio, headers, self.timeout_s)

    def _call(self, method: str, path: str, body: bytes | None, headers: dict[str, str],
              timeout_s: float) -> bytes:
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # loopback only (check_url)
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            raise _http_error(exc) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise _timeout(timeout_s) from exc
            raise ServerError("unreachable", f"no model server at {self.url} ({exc.reason}). Start it with "
                              "the panel's Start Server button or `au-talking-head serve`, or fix "
                              "the Server URL.") from exc
        except TimeoutError as exc:
            raise _timeout(timeout_s) from exc
        except (ConnectionError, OSError) as exc:
            raise ServerError("unreachable", f"lost the connection to the model server at {self.url}: "
                                             f"{exc}. Is it still running?") from exc


def _timeout(timeout_s: float) -> ServerError:
    return ServerError("timeout", f"the model server did not answer within {timeout_s:g} s; it may be "
                                  "busy or stuck: try again, or restart it")


def _http_error(exc: urllib.error.HTTPError) -> ServerError:
    raw = b""
    with contextlib.suppress(OSError):
        raw = exc.read()
    code, message = f"http_{exc.code}", ""
    try:
        obj = json.loads(raw)
        if isinstance(obj, dict):
            code = str(obj.get("error") or code)
            message = str(obj.get("message") or obj.get("detail") or "")
    except ValueError:
        message = raw.decode("utf-8", "replace")[:300]
    if exc.code in (401, 403):
        return ServerError(code if code != f"http_{exc.code}" else "unauthorized",
                           f"the model server refused the token ({message or exc.reason}). The add-on reads "
                           f"it from ${TOKEN_ENV} or {token_path()}: restart the server from the panel, "
                           "or copy its token there")
    hint = {
        400: "check that the file is a speech recording the server can decode (WAV, FLAC, OGG, MP3)",
        413: "the audio is too long for one request: split it",
        415: "the audio format is not supported: convert it to WAV",
        422: "check the file and the options",
    }.get(exc.code, "see the server's console for details")
    return ServerError(code, f"the model server rejected the request ({exc.code} {code}): "
                             f"{message or exc.reason}. {hint.capitalize()}.")


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise ServerError("bad_answer",
                          f"{what} did not answer JSON: is another program on that port?") from exc
    if not isinstance(obj, dict):
        raise ServerError("bad_answer", f"{what} answered {type(obj).__name__}, expected an object")
    return obj
