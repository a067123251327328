"""Per-install token and loopback checks for the local HTTP server.

The token is created on first run at ``$XDG_CONFIG_HOME/au-talking-head/token`` (default
``~/.config/au-talking-head/token``), readable by the user only (mode 0600, folder 0700). The Blender
add-on reads the same file and sends ``Authorization: Bearer <token>``. The environment variable
``AU_TALKING_HEAD_TOKEN``, when set and not empty, overrides the file (scripts, tests); the file is then
neither read nor created.

Host checks defeat DNS rebinding: a web page whose name resolves to 127.0.0.1 still sends its own name
in ``Host``, so only loopback names are accepted (``localhost``, ``127.0.0.1``, ``[::1]``, any port).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

TOKEN_ENV = "AU_TALKING_HEAD_TOKEN"
APP_DIR = "au-talking-head"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
MIN_TOKEN_LENGTH = 16


class TokenError(RuntimeError):
    """The token file cannot be read or created; the message says where and what to do."""


def token_path() -> Path:
    """Where the per-install token lives: ``$XDG_CONFIG_HOME/au-talking-head/token``."""
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / APP_DIR / "token"


def load_or_create_token(path: Path | None = None) -> tuple[str, str]:
    """Return ``(token, origin)``: the env override, else the token file, created on first use.

    Args:
        path: token file; default :func:`token_path`.

    Returns:
        The token and where it came from (``"env"`` or the file path).

    Raises:
        TokenError: the file exists but is unreadable, or cannot be created.
    """
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        if len(env) < MIN_TOKEN_LENGTH:
            log.warning("%s is shorter than %d characters: easy to guess", TOKEN_ENV, MIN_TOKEN_LENGTH)
        return env, "env"
    p = path or token_path()
    try:
        p.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise TokenError(f"cannot create the token folder {p.parent}: {exc.strerror}; set {TOKEN_ENV} "
                         "or make the folder writable") from exc
    for _ in range(3):
        existing = _read(p)
        if existing:
            return existing, str(p)
        token = secrets.token_urlsafe(32)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if _read(p):
                continue  # another process created it just now
            p.unlink(missing_ok=True)  # an empty, broken file: replace it
            continue
        except OSError as exc:
            raise TokenError(f"cannot create the token file {p}: {exc.strerror}; set {TOKEN_ENV} or make "
                             "the folder writable") from exc
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        log.info("created a new access token in %s", p)
        return token, str(p)
    raise TokenError(f"could not read or create the token file {p}; delete it and start again")


def _read(p: Path) -> str:
    """The token stored in ``p`` ('' when missing or empty); tightens loose permissions."""
    try:
        mode = p.stat().st_mode
        text = p.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"cannot read the token file {p}: {exc}; fix its permissions or delete it") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("token file %s was readable by others; setting it to user-only (0600)", p)
        os.chmod(p, 0o600)
    return text


def bearer_ok(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (constant-time comparison)."""
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode("utf-8", "replace"), token.encode("utf-8"))


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header, lower case, port removed (``"[::1]:8080"`` -> ``"[::1]"``)."""
    value = host_header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[: end + 1] if end > 0 else value
    name, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        return name
    return value


def is_loopback_name(name: str) -> bool:
    """Whether a host name (from :func:`host_name`) is a loopback name."""
    return name in LOOPBACK_HOSTS


def origin_ok(origin: str | None, allowed_hosts: frozenset[str]) -> bool:
    """Browsers send ``Origin`` on cross-site requests: accept none, or one whose host is allowed."""
    if origin is None:
        return True
    scheme, sep, rest = origin.strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return False
    return host_name(rest.split("/", 1)[0]) in allowed_hosts
