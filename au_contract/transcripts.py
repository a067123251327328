"""A line's transcript file beside its audio (dialog mode): ``line.wav`` + ``line.txt``.

The add-on's Generate operator and the batch renderer pick up the same sidecar: a UTF-8 text file with the
audio's name and the suffix ``.txt`` in the same folder. Its text becomes the request option
``transcript`` (``au_contract.options``), checked the same way as everywhere else.

Pure module (standard library only).
"""

from __future__ import annotations

from pathlib import Path

from .option_flags import read_text_file

SIDECAR_SUFFIX = ".txt"
#: How the add-on (and the batch renderer's report) introduces the server's warning about a line's
#: transcript: ``"Transcript: the transcript does not match the audio ..."``.
WARNING_PREFIX = "Transcript: "


def sidecar_path(audio: str | Path) -> Path:
    """Where the transcript of ``audio`` would be: ``line.wav`` -> ``line.txt`` beside it."""
    return Path(audio).with_suffix(SIDECAR_SUFFIX)


def read_sidecar(audio: str | Path) -> str:
    """The transcript beside ``audio``, or "" when there is none.

    Raises:
        au_contract.errors.OptionsError: the file exists but is not UTF-8, is too long or unreadable.
    """
    path = sidecar_path(audio)
    if Path(audio).suffix.lower() == SIDECAR_SUFFIX or not path.is_file():
        return ""
    return read_text_file("transcript", path)


__all__ = ["SIDECAR_SUFFIX", "WARNING_PREFIX", "read_sidecar", "sidecar_path"]
