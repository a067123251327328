"""How the parts of the product find the model server: address, endpoints, token, environment variables.

Used by the server (``model_server.auth``, ``model_server.service``), the add-on's client and launcher
(``blender_addon.server``) and the batch renderer (``batch_render.job_server``). Pure (standard library).

The per-install token lives at ``$XDG_CONFIG_HOME/au-talking-head/token`` (``~/.config/...`` when
``XDG_CONFIG_HOME`` is unset, empty or relative, as the XDG spec says); ``$AU_TALKING_HEAD_TOKEN``, when
set and not empty, overrides the file.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"

#: Host names that mean "this machine" (Host header names and URL host names, brackets or not for IPv6).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})

HEALTH_PATH = "/v1/health"
TRACKS_PATH = "/v1/tracks"
OPENAPI_PATH = "/v1/openapi.json"

#: Environment variable holding the bearer token (overrides the token file when not empty).
TOKEN_ENV = "AU_TALKING_HEAD_TOKEN"
#: Environment variable naming the Python interpreter that runs the server (``-m model_server serve``).
PYTHON_ENV = "AU_TALKING_HEAD_PYTHON"
#: Folder name under the user's config directory.
CONFIG_DIR_NAME = "au-talking-head"
TOKEN_FILE_NAME = "token"
#: The console command installed with the project (``au-talking-head serve``).
CONSOLE_COMMAND = "au-talking-head"


def config_dir() -> Path:
    """The product's config folder: ``$XDG_CONFIG_HOME/au-talking-head`` (default ``~/.config/...``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / CONFIG_DIR_NAME


def token_path() -> Path:
    """Where the per-install token lives: ``config_dir() / "token"``."""
    return config_dir() / TOKEN_FILE_NAME


def server_url(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    """The base URL of a server on ``host:port`` (IPv6 literals get brackets)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def is_loopback_host(name: str) -> bool:
    """Whether a host name (any case, IPv6 with or without brackets) is a loopback name."""
    return name.strip().lower() in LOOPBACK_HOSTS


__all__ = ["CONFIG_DIR_NAME", "CONSOLE_COMMAND", "DEFAULT_HOST", "DEFAULT_PORT", "DEFAULT_URL", "HEALTH_PATH",
           "LOOPBACK_HOSTS", "OPENAPI_PATH", "PYTHON_ENV", "TOKEN_ENV", "TOKEN_FILE_NAME", "TRACKS_PATH",
           "config_dir", "is_loopback_host", "server_url", "token_path"]
