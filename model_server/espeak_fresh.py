"""espeak-ng readings that do not depend on what the process said before (dialog mode's readings).

espeak-ng carries state from one synthesis to the next inside the library: the same text spoken twice in
one process comes out a few samples to a pitch period apart in length (French "En attente pour parler à
un préposé": 36,743 samples the first time, 36,734 the second, 36,746 after a Spanish line), and neither
``espeak_ng_SetRandSeed``, nor ``espeak_Terminate`` + ``espeak_Initialize``, nor a fixed text spoken first
resets it. Dialog mode aligns through that reading, so a line's closures could depend on the lines the
server aligned before (on the real-speech development set, a bilabial of 312 moved with the order of the
clips).

:func:`speak_fresh` speaks each text on a private instance of the library, loaded from a copy of its file
(the dynamic loader maps a second copy with its own state), initialised, used once, terminated and
unloaded: every text is read as the first thing a fresh library says. It costs about 2 ms per reading
(the server keeps its readings, ``transcript_align.synthesis``); the process's memory does not grow with
the readings (400 in a row: +2 MB, flat). Where the file cannot be copied or its copy not loaded (a bare
system soname, a platform that refuses), the shared instance speaks, as before, and a log line says so.
"""

from __future__ import annotations

import _ctypes
import logging
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import replace

from .espeak import EspeakLibrary, EspeakUnavailableError, RawSpeech, shared_library

log = logging.getLogger(__name__)
_WARNED = threading.Event()


def speak_fresh(text: str, voice: str, rate_wpm: int = 175, source: str = "auto") -> RawSpeech:
    """``EspeakLibrary.speak`` on a freshly loaded private instance of ``source``'s library.

    Raises:
        EspeakUnavailableError: no library of ``source`` loads here.
        ValueError: espeak-ng has no voice ``voice``.
    """
    shared = shared_library(source)
    if not os.path.isfile(shared.source.path):
        return _shared_speak(shared, text, voice, rate_wpm, "its library is found by name only")
    folder = tempfile.mkdtemp(prefix="au-espeak-")
    try:
        copy = os.path.join(folder, os.path.basename(shared.source.path))
        shutil.copy2(shared.source.path, copy)
        private = EspeakLibrary(replace(shared.source, path=copy))
    except (OSError, EspeakUnavailableError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return _shared_speak(shared, text, voice, rate_wpm, f"a private copy does not load ({exc})")
    try:
        return private.speak(text, voice, rate_wpm)
    finally:
        _unload(private)
        shutil.rmtree(folder, ignore_errors=True)


def _shared_speak(shared: EspeakLibrary, text: str, voice: str, rate_wpm: int, why: str) -> RawSpeech:
    if not _WARNED.is_set():
        _WARNED.set()
        log.warning("espeak-ng readings come from the shared library (%s): a reading may differ by a few "
                    "samples with what the process spoke before", why)
    return shared.speak(text, voice, rate_wpm)


def _unload(library: EspeakLibrary) -> None:
    """Terminate a private instance and unload its copy (nothing of it is called afterwards)."""
    lib = library._lib  # the instance is this module's own
    lib.espeak_Terminate()
    handle = lib._handle
    if sys.platform == "win32":
        _ctypes.FreeLibrary(handle)  # type: ignore[attr-defined]
    else:
        _ctypes.dlclose(handle)


__all__ = ["speak_fresh"]
