"""Helpers of the server tier, kept under their old names: they live in ``tests/fixtures.py``.

Each server runs with its own ``XDG_CONFIG_HOME`` (a temporary folder) and, unless a test says
otherwise, a token in ``AU_TALKING_HEAD_TOKEN``. Speech comes from espeak-ng (a project dependency);
other audio (silence, noise, odd rates, broken files) is made with numpy and soundfile.
"""

from __future__ import annotations

from tests.fixtures import (
    ROOT,
    SPEECH_TEXT,
    TOKEN,
    ServerProcess,
    encode,
    espeak_wav,
    ffmpeg_encode,
    free_port,
)

__all__ = ["ROOT", "SPEECH_TEXT", "TOKEN", "ServerProcess", "encode", "espeak_wav", "ffmpeg_encode",
           "free_port"]
