"""Fixtures of the server tier: real server processes with small limits, speech from espeak-ng.

Built from the shared helpers of ``tests/fixtures.py`` (ports, ServerProcess, cached espeak-ng speech).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.fixtures import TOKEN, ServerProcess, espeak_wav


@pytest.fixture(scope="session")
def server_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="session")
def server(server_tmp: Path) -> Iterator[ServerProcess]:
    """One shared server with small limits (8 MiB body, 60 s audio) so limit cases are cheap to hit."""
    proc = ServerProcess(server_tmp, ["--max-body-mb", "8", "--max-duration", "60", "--max-jobs", "2",
                                      "--max-queue", "8"]).wait_ready()
    yield proc
    proc.stop()


@pytest.fixture
def start_server(server_tmp: Path) -> Iterator[Any]:
    """Factory for extra servers (other limits, no env token...); all are stopped after the test."""
    started: list[ServerProcess] = []

    def start(args: list[str] | None = None, token: str | None = TOKEN, ready: bool = True,
              host: str = "127.0.0.1") -> ServerProcess:
        proc = ServerProcess(server_tmp, args, token=token, host=host)
        started.append(proc)
        return proc.wait_ready() if ready else proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """About 8 s of English speech from espeak-ng (22.05 kHz mono WAV), as file bytes."""
    return espeak_wav(tmp_path_factory.mktemp("audio") / "speech.wav").read_bytes()


@pytest.fixture(scope="session")
def speech_samples(speech_wav: bytes) -> tuple[np.ndarray, int]:
    data, rate = sf.read(io.BytesIO(speech_wav), dtype="float32")
    return data, rate
