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

import errno
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

from au_contract.connection import LOOPBACK_HOSTS, TOKEN_ENV, token_path

from .errors import ModelServerError

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16
#: Largest token file read, bytes.
MAX_TOKEN_FILE_BYTES = 4096


class TokenError(ModelServerError, RuntimeError):
    """The token file cannot be read or created; the message says where and what to do."""


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
    _private_folder(p.parent)
    for _ in range(3):
        token = _read(p) or _create(p)
        if token:
            if len(token) < MIN_TOKEN_LENGTH:
                log.warning("the token in %s is only %d characters long: easy to guess. Delete the file and "
                            "start the server again to get a new one", p, len(token))
            return token, str(p)
    raise TokenError(f"could not read or create the token file {p}; delete it and start again")


def _private_folder(folder: Path) -> None:
    """Create the token's folder (0700), or tighten an existing one of ours that others can enter."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError as exc:
        raise TokenError(f"cannot create the token folder {folder}: {exc.strerror}; set {TOKEN_ENV} "
                         "or make the folder writable") from exc
    if stat.S_ISLNK(info.st_mode) or info.st_uid != _uid() or not info.st_mode & 0o077:
        return  # a link to elsewhere, someone else's folder, or already private: leave it as it is
    log.warning("token folder %s was open to other users (mode %o); setting it to user-only (0700)", folder,
                stat.S_IMODE(info.st_mode))
    try:
        os.chmod(folder, 0o700)
    except OSError as exc:
        log.warning("cannot tighten %s: %s", folder, exc.strerror)


def _uid() -> int:
    getuid = getattr(os, "getuid", None)
    return int(getuid()) if getuid else 0


def _create(p: Path) -> str:
    """Write a new token to ``p`` (never over an existing file); '' when another file is in the way."""
    token = secrets.token_urlsafe(32)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(p, flags, 0o600)
    except FileExistsError:
        if _read(p):
            return ""  # another process created it just now: the caller reads it
        try:
            p.unlink()  # an empty, broken file: replace it
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise TokenError(f"the token file {p} is empty and cannot be replaced ({exc.strerror}): write a "
                             f"token of 16 or more characters into it, make its folder writable, or set "
                             f"{TOKEN_ENV}") from None
        return ""
    except OSError as exc:
        raise TokenError(f"cannot create the token file {p}: {exc.strerror}; set {TOKEN_ENV} or make "
                         "the folder writable") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    log.info("created a new access token in %s", p)
    return token


def _read(p: Path) -> str:
    """The token stored in ``p`` ('' when missing or empty); tightens loose permissions.

    The file is opened without following a symbolic link and without blocking (a FIFO would hang the
    start-up), then must be a regular file of at most :data:`MAX_TOKEN_FILE_BYTES`.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    if p.is_symlink():
        raise _link_error(p)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _link_error(p) from None
        raise TokenError(f"cannot read the token file {p}: {exc.strerror}; fix its permissions or delete "
                         "it") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise TokenError(f"the token path {p} is not a regular file (a folder, FIFO or device): delete "
                             f"it and start again, or set {TOKEN_ENV}")
        if info.st_size > MAX_TOKEN_FILE_BYTES:
            raise TokenError(f"the token file {p} is {info.st_size} bytes, not a token: delete it and start "
                             "again")
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            _tighten(fd, p)
        data = os.read(fd, MAX_TOKEN_FILE_BYTES + 1)
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise TokenError(f"the token file {p} is not UTF-8 text: delete it and start again") from None


def _tighten(fd: int, p: Path) -> None:
    log.warning("token file %s was readable by others; setting it to user-only (0600)", p)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # the file we opened, never a link's target
    except OSError as exc:
        log.warning("cannot tighten %s: %s", p, exc.strerror)


def _link_error(p: Path) -> TokenError:
    return TokenError(f"the token path {p} is a symbolic link; the server does not follow it (it would "
                      "change the permissions of the file it points to). Replace it with a regular file, or "
                      f"set {TOKEN_ENV}")


def bearer_ok(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (constant-time comparison)."""
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode("utf-8", "replace"), token.encode("utf-8"))


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header, lower case, port removed (``"[::1]:8080"`` -> ``"[::1]"``).

    Anything that is not exactly ``name``, ``name:digits``, ``[v6]`` or ``[v6]:digits`` comes back whole
    (so ``"[::1]evil.com"`` or ``"localhost:80:80"`` never matches an allowed name).
    """
    value = host_header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        name, rest = value[: end + 1], value[end + 1:]
        if end > 0 and (rest == "" or (rest[:1] == ":" and _is_port(rest[1:]))):
            return name
        return value
    name, sep, port = value.rpartition(":")
    if sep and _is_port(port) and ":" not in name:
        return name
    return value


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5


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
