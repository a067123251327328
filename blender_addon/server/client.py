"""HTTP client of the local model server (standard library ``urllib`` only: it runs inside Blender).

Everything it exchanges is defined in the contract package: endpoints, token location and loopback names
(``au_contract.connection``), the request options and their query text (``au_contract.options``), the
health answer (``au_contract.health``) and the error codes (``au_contract.errors``). The server answers
``GET /v1/health`` and ``POST /v1/tracks?fps=..&emotion=..&...`` with the raw audio file bytes as the
body and ``Authorization: Bearer <token>``; errors come back as JSON ``{"error": code, "message": ...}``.
Every failure surfaces as :class:`ServerError` whose message says what happened and what to do; options
are checked before anything is sent, with the server's own messages.

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
from typing import Any

from au_contract import errors as codes
from au_contract.connection import HEALTH_PATH, LOOPBACK_HOSTS, TOKEN_ENV, TRACKS_PATH, token_path
from au_contract.errors import HealthFormatError, OptionsError
from au_contract.health import HealthInfo
from au_contract.options import RequestOptions

from ..errors import AddonError

log = logging.getLogger(__name__)

#: Largest audio file sent (bytes); the server enforces its own limit too.
MAX_AUDIO_BYTES = 200 * 1024 * 1024


class ServerError(AddonError, RuntimeError):
    """The model server could not be reached or refused the request.

    Attributes:
        code: a short machine-readable code (``"unreachable"``, ``"timeout"``, ``"unauthorized"``,
            the server's own ``error`` code, ...).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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
        raise ServerError(codes.BAD_URL, f"server URL {url!r} must look like http://127.0.0.1:8765")
    host = parsed.hostname
    if host.lower() not in LOOPBACK_HOSTS:
        raise ServerError(codes.BAD_URL, f"server URL {url!r} is not on this machine: the add-on only "
                                         "talks to a local server (127.0.0.1)")
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

    def health(self, timeout_s: float = 2.0) -> HealthInfo:
        """Return the server's ``/v1/health`` answer, read by the contract.

        Raises:
            ServerError: if the server is not running, does not answer in ``timeout_s``, or its answer is
                not the contract's health object (code ``bad_answer``).
        """
        body = self._call("GET", HEALTH_PATH, None, {}, timeout_s)
        try:
            return HealthInfo.from_dict(_json_object(body, HEALTH_PATH))
        except HealthFormatError as exc:
            raise ServerError(codes.BAD_ANSWER, f"{self.url}{HEALTH_PATH}: {exc}") from exc

    def tracks(self, audio: bytes, options: RequestOptions) -> bytes:
        """POST the audio bytes with ``options`` and return the raw au-tracks/1 JSON answer.

        Raises:
            ServerError: bad options (code ``bad_parameter``, the server's own message, nothing sent),
                unreachable server, timeout, bad token, or the server's own error (bad audio...).
        """
        try:
            options = options.validated()
        except OptionsError as exc:
            raise ServerError(exc.code, str(exc)) from exc
        if not audio:
            raise ServerError(codes.BAD_AUDIO, "the audio file is empty: pick a speech recording")
        if len(audio) > MAX_AUDIO_BYTES:
            raise ServerError(codes.TOO_LARGE, f"the audio file is {len(audio) / 1e6:.0f} MB; split it into "
                                           f"parts under {MAX_AUDIO_BYTES // 1_000_000} MB")
        token = self._token if self._token is not None else read_token()
        headers = {"Content-Type": "application/octet-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        query = urllib.parse.urlencode(options.to_query())
        return self._call("POST", f"{TRACKS_PATH}?{query}", audio, headers, self.timeout_s)

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
            raise ServerError(codes.UNREACHABLE, f"no model server at {self.url} ({exc.reason}). Start it "
                              "with the panel's Start Server button or `au-talking-head serve`, or fix "
                              "the Server URL.") from exc
        except TimeoutError as exc:
            raise _timeout(timeout_s) from exc
        except (ConnectionError, OSError) as exc:
            raise ServerError(codes.UNREACHABLE, f"lost the connection to the model server at {self.url}: "
                                             f"{exc}. Is it still running?") from exc


def _timeout(timeout_s: float) -> ServerError:
    return ServerError(codes.TIMEOUT, f"the model server did not answer within {timeout_s:g} s; it may be "
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
    if code == codes.UNAUTHORIZED or (exc.code == 401 and code == f"http_{exc.code}"):
        return ServerError(codes.UNAUTHORIZED,
                           f"the model server refused the token ({message or exc.reason}). The add-on reads "
                           f"it from ${TOKEN_ENV} or {token_path()}: restart the server from the panel, "
                           "or copy its token there")
    hint = _HINTS.get(code) or _STATUS_HINTS.get(exc.code, "see the server's console for details")
    return ServerError(code, f"the model server rejected the request ({exc.code} {code}): "
                             f"{message or exc.reason}. {hint[0].upper() + hint[1:]}.")


_AUDIO_HINT = "check that the file is a speech recording the server can decode (WAV, FLAC, OGG, MP3)"
#: What to do, by the server's error code (``au_contract.errors``).
_HINTS: dict[str, str] = {
    **dict.fromkeys((codes.EMPTY_BODY, codes.NOT_AUDIO, codes.TRUNCATED, codes.CORRUPT_AUDIO,
                     codes.NO_SAMPLES, codes.NON_FINITE, codes.BAD_SAMPLES, codes.BAD_SAMPLE_RATE,
                     codes.BAD_CHANNELS), _AUDIO_HINT),
    codes.BAD_PARAMETER: "check the panel's options (a server of another version may accept others)",
    codes.TOO_MANY_FRAMES: "lower the scene's frame rate or split the audio",
    codes.TOO_LARGE: "the audio file is too big for one request: split it or compress it (FLAC, OGG)",
    codes.TOO_LONG: "the audio is too long for one request: split it",
    codes.BUSY: "the server is busy with other requests: try again in a few seconds",
    codes.MODEL_UNAVAILABLE: "the server has no model loaded: see its console, or restart it",
    codes.BAD_HOST: "use the address http://127.0.0.1:PORT in the panel's Server URL",
    codes.BAD_ORIGIN: "use the address http://127.0.0.1:PORT in the panel's Server URL",
}
#: What to do, by HTTP status, for codes the add-on does not know (another server version).
_STATUS_HINTS: dict[int, str] = {
    400: _AUDIO_HINT,
    413: "the audio is too long for one request: split it",
    415: "the audio format is not supported: convert it to WAV",
    422: "check the file and the options",
}


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise ServerError(codes.BAD_ANSWER,
                          f"{what} did not answer JSON: is another program on that port?") from exc
    if not isinstance(obj, dict):
        raise ServerError(codes.BAD_ANSWER, f"{what} answered {type(obj).__name__}, expected an object")
    return obj
