"""espeak-ng through its C library (ctypes): speech audio with the sample where each phone starts.

The one ctypes binding of the project: the server's dialog mode (:mod:`model_server.dialog`) speaks a
transcript with it, and the training corpus (``model_training.espeak_gen``) builds its clips on it.

Two libraries may serve (:func:`locate`, the ``source`` of :func:`shared_library`):

- ``"bundled"``: libespeak-ng 1.52 and its ``espeak-ng-data`` from the ``espeakng-loader`` wheel, which
  the extension zips carry for every platform, so dialog mode works inside Blender with nothing else
  installed;
- ``"system"``: the machine's libespeak-ng (Debian ``libespeak-ng1``, 1.51 on Debian 12) with its own
  data. The training corpus asks for this one, so its recipe keeps the engine it was built with.

``"auto"`` (the server's choice) takes the bundled library when the package is importable and loads,
else the system one. espeak-ng is initialised in synchronous mode with phoneme events
(``espeakINITIALIZE_PHONEME_EVENTS``) and IPA phoneme names (``espeakINITIALIZE_PHONEME_IPA``). The
library keeps global state and is not thread-safe: :class:`EspeakLibrary` serialises its calls with a
lock, and :func:`shared_library` gives one instance per library and process (each loaded from its full
path, so the two never share one copy). When no library loads, :class:`EspeakUnavailableError` says why,
and callers turn it into "not used".

Pure module (numpy and the standard library; ``espeakng_loader`` when installed).
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelServerError
from .phonetics import split_ipa

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_INIT_DONT_EXIT = 0x8000  # without it, espeak_Initialize calls exit(1) when it finds no data
_MAX_DATA_PATH = 150  # bytes of ".../espeak-ng-data": espeak-ng keeps it in char[160] (230 on Windows)
_EVENT_END = 0  # espeakEVENT_LIST_TERMINATED
_EVENT_PHONEME = 7
_CHARS_UTF8 = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
#: Where :func:`shared_library` may take libespeak-ng from (see the module docstring).
SOURCES = ("auto", "bundled", "system")
_SYSTEM_SONAME = "libespeak-ng.so.1"  # Linux; elsewhere ctypes.util.find_library gives a full path


class EspeakUnavailableError(ModelServerError, RuntimeError):
    """libespeak-ng (or its data) is not installed here."""


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


@dataclass
class RawSpeech:
    """What one synthesis gives.

    Attributes:
        audio: [N] float32 in [-1, 1] at ``sample_rate``.
        sample_rate: the engine's rate (22,050 Hz).
        phones: (IPA phone, start sample, end sample) per phone; a phone ends where the next starts.
    """

    audio: np.ndarray
    sample_rate: int
    phones: list[tuple[str, int, int]]


@dataclass(frozen=True)
class LibrarySource:
    """One libespeak-ng that may be loaded.

    Attributes:
        kind: ``"bundled"`` (the espeakng-loader wheel) or ``"system"``.
        path: the library file (a full path, or on Linux a bare soname when ldconfig could not say).
        data_parent: the folder holding ``espeak-ng-data``, given to ``espeak_Initialize``; None: the
            library's built-in default (the system package's data).
    """

    kind: str
    path: str
    data_parent: str | None = None


def bundled_source() -> LibrarySource | None:
    """The library of the ``espeakng-loader`` package, or None when it is not installed (or incomplete)."""
    try:
        import espeakng_loader
    except ImportError:
        return None
    try:
        path, data = str(espeakng_loader.get_library_path()), Path(espeakng_loader.get_data_path())
    except (RuntimeError, OSError):  # get_data_path raises RuntimeError when espeak-ng-data is missing
        return None
    return LibrarySource("bundled", path, str(data.parent)) if os.path.isfile(path) else None


def _ldconfig_path(soname: str) -> str | None:
    """The full path ldconfig's cache gives ``soname`` (Linux), or None."""
    for tool in ("/sbin/ldconfig", shutil.which("ldconfig")):
        if not tool or not os.path.exists(tool):
            continue
        try:
            out = subprocess.run([tool, "-p"], capture_output=True, text=True, timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for line in out.splitlines():
            found = re.match(rf"\s*{re.escape(soname)} \(([^)]*)\) => (\S+)", line)
            if found and ("64" in found.group(1)) == (sys.maxsize > 2**32):
                return found.group(2)
    return None


def system_source() -> LibrarySource | None:
    """The machine's libespeak-ng, or None when none is found.

    On Linux the full path comes from ldconfig's cache: a bare soname would be answered with the bundled
    copy once that is loaded in the process (both are ``libespeak-ng.so.1``).
    """
    if sys.platform.startswith("linux"):
        return LibrarySource("system", _ldconfig_path(_SYSTEM_SONAME) or _SYSTEM_SONAME)
    found = ctypes.util.find_library("espeak-ng") or ctypes.util.find_library("libespeak-ng")
    return LibrarySource("system", found) if found else None


def locate(source: str = "auto") -> list[LibrarySource]:
    """The libraries to try for ``source`` (one of :data:`SOURCES`), in order; empty: none here.

    Raises:
        ValueError: ``source`` is not one of :data:`SOURCES`.
    """
    if source not in SOURCES:
        raise ValueError(f"espeak-ng source {source!r} is not one of {SOURCES}")
    found = {"bundled": bundled_source() if source in ("auto", "bundled") else None,
             "system": system_source() if source in ("auto", "system") else None}
    return [s for s in found.values() if s is not None]


def _c_path(path: str) -> bytes:
    """A path as espeak-ng's C ``fopen`` wants it (the ANSI code page on Windows)."""
    return path.encode("mbcs") if sys.platform == "win32" else os.fsencode(path)


def short_data_parent(data_parent: str) -> str:
    """``data_parent``, or a short folder whose ``espeak-ng-data`` links to it when the path is too long.

    espeak-ng silently truncates a data path of 160 bytes or more (a deep Blender extension folder, a
    long user name), then finds no data. Outside Windows (whose limit is 230 and where links need
    rights), a long path is reached through a link in a private temporary folder of this process
    (removed at exit); when no link can be made, the long path is returned.
    """
    target = os.path.join(data_parent, "espeak-ng-data")
    if sys.platform == "win32" or len(_c_path(target)) < _MAX_DATA_PATH:
        return data_parent
    try:
        short = tempfile.mkdtemp(prefix="auth-espeak-")  # mode 0700: nobody else can swap the link
        link = os.path.join(short, "espeak-ng-data")
        os.symlink(target, link)
    except OSError:
        return data_parent
    atexit.register(_remove_link, link)
    return short


def _remove_link(link: str) -> None:
    try:
        os.unlink(link)
        os.rmdir(os.path.dirname(link))
    except OSError:
        pass


class EspeakLibrary:
    """One libespeak-ng loaded and initialised; :meth:`speak` is serialised by a lock.

    Args:
        source: the library to load (default: the system library, as before there was a choice).

    Raises:
        EspeakUnavailableError: the library does not load or does not find its data.
    """

    def __init__(self, source: LibrarySource | None = None) -> None:
        self.source = source or system_source() or LibrarySource("system", _SYSTEM_SONAME)
        try:
            self._lib = ctypes.CDLL(self.source.path)
        except OSError as exc:
            raise EspeakUnavailableError(f"the {self.source.kind} libespeak-ng ({self.source.path}) does "
                                         f"not load: {exc}") from exc
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_Info.restype = ctypes.c_char_p
        self._lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                           ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        parent = self.source.data_parent
        data = _c_path(short_data_parent(parent)) if parent else None
        self.sample_rate = int(self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT))
        data_path = ctypes.c_char_p()
        version = self._lib.espeak_Info(ctypes.byref(data_path))
        #: espeak-ng's version (``espeak_Info``), e.g. ``"1.52.0"`` (bundled) or ``"1.51"`` (Debian 12).
        self.version = (version or b"?").decode("utf-8", "replace")
        #: The espeak-ng-data folder the library uses (through a link when the real path is too long).
        raw_path = data_path.value or b""
        self.data_path = raw_path.decode("mbcs") if sys.platform == "win32" else os.fsdecode(raw_path)
        if self.sample_rate <= 0 or not os.path.isfile(os.path.join(self.data_path, "phontab")):
            where = self.data_path or "its default place"
            raise EspeakUnavailableError(f"the {self.source.kind} libespeak-ng {self.version} finds no "
                                         f"espeak-ng-data (looked in {where})")
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, str]] = []
        self._callback = _CALLBACK(self._on_synth)  # keep a reference: ctypes would free it
        self._lib.espeak_SetSynthCallback(self._callback)

    def _on_synth(self, wav: ctypes._Pointer, numsamples: int, events: ctypes._Pointer) -> int:
        i = 0
        while events[i].type != _EVENT_END:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                name = bytes(ev.id.string).split(b"\0", 1)[0].decode("utf-8", "ignore")
                self._events.append((int(ev.sample), name))
            i += 1
        if numsamples > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(numsamples,)).astype(np.float32) / 32768.0)
        return 0

    def has_voice(self, name: str) -> bool:
        """True when espeak-ng knows the voice ``name`` (``"en"``, ``"de"``, ``"en-us+f3"``)."""
        with self._lock:
            return self._lib.espeak_SetVoiceByName(name.encode()) == 0

    def speak(self, text: str, voice: str, rate_wpm: int = 175, pitch: int = 50, pitch_range: int = 50,
              closures: bool = True) -> RawSpeech:
        """Speak ``text`` with the espeak-ng voice ``voice`` at ``rate_wpm`` words per minute.

        Each stop starts at its closure (:func:`attach_stop_closures`); with ``closures=False`` the phones
        are espeak-ng's events as they come (a stop starts at its release: the older training timings).

        Raises:
            ValueError: espeak-ng has no voice ``voice``.
        """
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r} (see `espeak-ng --voices`)")
            self._lib.espeak_SetParameter(_RATE, int(rate_wpm), 0)
            self._lib.espeak_SetParameter(_PITCH, int(pitch), 0)
            self._lib.espeak_SetParameter(_RANGE, int(pitch_range), 0)
            self._chunks, self._events = [], []
            data = text.encode("utf-8") + b"\0"
            buf = ctypes.create_string_buffer(data)
            self._lib.espeak_Synth(buf, len(data), 0, 0, 0, _CHARS_UTF8, None, None)
            audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)  # [N]
            events = list(self._events)
        n = len(audio)
        starts = [min(max(s, 0), n) for s, _ in events]
        phones: list[tuple[str, int, int]] = []
        for k, (start, (_, name)) in enumerate(zip(starts, events, strict=True)):
            end = starts[k + 1] if k + 1 < len(starts) else n
            if end > start and name.strip():
                phones.append((name.strip(), start, end))
        if closures:
            phones = attach_stop_closures(audio, self.sample_rate, phones)
        return RawSpeech(audio, self.sample_rate, phones)


#: Stops and affricates (by their first IPA symbols): espeak-ng writes their closure as silence before
#: the phone's event.
STOP_SYMBOLS = frozenset(("p", "b", "t", "d", "k", "ɡ", "g", "c", "ɟ", "q", "ɢ", "ʈ", "ɖ", "ʔ",
                          "tʃ", "dʒ", "ts", "dz", "tɕ", "dʑ"))
#: Longest stretch of silence before a stop that counts as its closure (a phrase-initial stop after a long
#: pause gets this much of it: the lips close well before the burst).
MAX_CLOSURE_S = 0.08


def is_stop(phone: str) -> bool:
    """Whether an IPA phone begins with a stop or affricate (``"p"``, ``"tʃ"``, ``"kʰ"``...)."""
    syms = split_ipa(phone)
    return bool(syms) and (syms[0] in STOP_SYMBOLS or "".join(syms[:2]) in STOP_SYMBOLS)


def attach_stop_closures(audio: np.ndarray, sample_rate: int, phones: list[tuple[str, int, int]],
                         drop_db: float = 30.0) -> list[tuple[str, int, int]]:
    """Give each stop the silent closure that precedes its burst.

    espeak-ng's phoneme event for an unvoiced stop comes at the release; the closure before it is written
    as (near-)silence inside the previous phone, so a /p/ timed by its event would close the lips only as
    they open. Every stop whose event is preceded by quiet audio (2.5 ms frames more than ``drop_db``
    below the loudest frame of the 200 ms before, or digital silence) starts instead where that quiet
    starts (at most :data:`MAX_CLOSURE_S` earlier, never before the previous phone's start), and the
    previous phone ends there. A voiced stop's closure is voiced, not quiet: it stays as it is.

    Args:
        phones: (IPA phone, start sample, end sample) per phone, as from the library's events.
    """
    hop = max(1, sample_rate // 400)
    n_frames = len(audio) // hop
    rms = np.sqrt(np.mean(audio[:n_frames * hop].reshape(n_frames, hop) ** 2, axis=1))  # [F]
    out = list(phones)
    for k, (name, start, end) in enumerate(out):
        f = min(start // hop, n_frames)
        if f <= 0 or not is_stop(name):
            continue
        level = max(1e-4, float(rms[max(0, f - 80):f].max()) * 10 ** (-drop_db / 20))
        lo = max(0, f - int(MAX_CLOSURE_S * sample_rate) // hop, (out[k - 1][1] // hop + 1) if k else 0)
        loud = np.flatnonzero(rms[lo:f] > level)
        first_quiet = lo + int(loud[-1]) + 1 if len(loud) else lo
        new_start = first_quiet * hop
        if first_quiet < f:
            out[k] = (name, new_start, end)
            if k and out[k - 1][2] > new_start:
                out[k - 1] = (out[k - 1][0], out[k - 1][1], new_start)
    return out


_SHARED: dict[str, EspeakLibrary] = {}  # kind ("bundled", "system") -> the process's instance
_CHOSEN: dict[str, EspeakLibrary] = {}  # source -> the instance it settled on (locating runs ldconfig: once)
_SHARED_LOCK = threading.Lock()


def shared_library(source: str = "auto") -> EspeakLibrary:
    """The process's one :class:`EspeakLibrary` of ``source`` (loaded on first use).

    Args:
        source: ``"auto"`` (the server: the bundled library when it loads, else the system one),
            ``"bundled"`` or ``"system"`` (the training corpus: the engine its recipe was built with).

    Raises:
        EspeakUnavailableError: no library of ``source`` loads here; the message says what was tried.
        ValueError: ``source`` is not one of :data:`SOURCES`.
    """
    with _SHARED_LOCK:
        if source in _CHOSEN:
            return _CHOSEN[source]
        failures = []
        for candidate in locate(source):
            if candidate.kind not in _SHARED:
                try:
                    _SHARED[candidate.kind] = EspeakLibrary(candidate)
                except EspeakUnavailableError as exc:
                    failures.append(str(exc))
                    continue
            _CHOSEN[source] = _SHARED[candidate.kind]
            return _CHOSEN[source]
        raise EspeakUnavailableError(_unavailable_message(source, failures))


def _unavailable_message(source: str, failures: list[str]) -> str:
    wanted = {"auto": "neither the bundled espeak-ng (the espeakng-loader wheel of the extension) nor a "
                      "system libespeak-ng (Debian package libespeak-ng1) is available on this platform",
              "bundled": "the bundled espeak-ng (Python package espeakng-loader) is not installed",
              "system": "libespeak-ng is not installed (Debian package libespeak-ng1)"}[source]
    return "; ".join([f"espeak-ng is unavailable: {wanted}", *failures])


__all__ = ["SOURCES", "EspeakLibrary", "EspeakUnavailableError", "LibrarySource", "RawSpeech",
           "bundled_source", "locate", "shared_library", "system_source"]
