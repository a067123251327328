"""Token file and Host parsing of the server (issue 18, items 11 and 12): a FIFO, a symbolic link, an
open folder, a short or empty token, and ``Host`` values with something after the name."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from model_server.auth import MIN_TOKEN_LENGTH, TokenError, host_name, load_or_create_token

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AU_TALKING_HEAD_TOKEN", raising=False)


@pytest.mark.parametrize(("header", "name"), [("localhost", "localhost"), ("LOCALHOST:8765", "localhost"),
                                              ("127.0.0.1:80", "127.0.0.1"), ("[::1]", "[::1]"),
                                              ("[::1]:8765", "[::1]"), ("[::1]evil.com", "[::1]evil.com"),
                                              ("[::1]:80evil", "[::1]:80evil"), ("[::1]:", "[::1]:"),
                                              ("localhost:80:80", "localhost:80:80"),
                                              ("127.0.0.1:\u00b2", "127.0.0.1:\u00b2")])
def test_host_name_takes_only_a_name_and_a_numeric_port(header: str, name: str) -> None:
    assert host_name(header) == name


def test_new_token_file_is_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "token"
    token, origin = load_or_create_token(path)
    assert origin == str(path) and len(token) >= MIN_TOKEN_LENGTH
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_token(path)[0] == token


def test_open_existing_folder_is_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    load_or_create_token(folder / "token")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_fifo_at_the_token_path_fails_fast(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "token"
    path.parent.mkdir(mode=0o700)
    os.mkfifo(path)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            load_or_create_token(path)
            outcome.append(None)
        except TokenError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(5)
    assert outcome, "start-up hung on a FIFO at the token path"
    assert isinstance(outcome[0], TokenError) and "not a regular file" in str(outcome[0])


def test_symlinked_token_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("x" * 40)
    target.chmod(0o644)
    path = tmp_path / "cfg" / "token"
    path.parent.mkdir(mode=0o700)
    path.symlink_to(target)
    with pytest.raises(TokenError, match="symbolic link"):
        load_or_create_token(path)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_short_token_is_used_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "cfg" / "token"
    path.parent.mkdir(mode=0o700)
    path.write_text("x\n")
    path.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="model_server.auth"):
        assert load_or_create_token(path)[0] == "x"
    assert "only 1 characters" in caplog.text and "Delete the file" in caplog.text


_READ_ONLY_CASE = """
import os, sys
from pathlib import Path
from model_server.auth import TokenError, load_or_create_token
if os.getuid() == 0:
    os.setgid(65534); os.setuid(65534)  # as root, permissions do not apply: act as nobody
try:
    load_or_create_token(Path(sys.argv[1]))
except TokenError as exc:
    print("TokenError:", exc)
"""


def test_empty_token_in_a_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "token").write_text("")
    if os.getuid() == 0:
        os.chown(folder, 65534, 65534)
        os.chown(folder / "token", 65534, 65534)
        for parent in (tmp_path, *tmp_path.parents):
            parent.chmod(parent.stat().st_mode | 0o005)  # let nobody reach the folder
    folder.chmod(0o500)
    try:
        done = subprocess.run([sys.executable, "-c", _READ_ONLY_CASE, str(folder / "token")], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                              timeout=60)
    finally:
        folder.chmod(0o700)
    assert "Traceback" not in done.stderr, done.stderr
    assert "TokenError:" in done.stdout and "empty and cannot be replaced" in done.stdout
