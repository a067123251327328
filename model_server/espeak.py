"""espeak-ng through its C library (ctypes): speech audio with the sample where each phone starts.

The one ctypes binding of the project: the server's dialog mode (:mod:`model_server.dialog`) speaks a
transcript with it, and the training corpus (``model_training.espeak_gen``) builds its clips on it.

espeak-ng is initialised in synchronous mode with phoneme events (``espeakINITIALIZE_PHONEME_EVENTS``) and
IPA phoneme names (``espeakINITIALIZE_PHONEME_IPA``). The library keeps global state and is not
thread-safe: :class:`EspeakLibrary` serialises its calls with a lock, and :func:`shared_library` gives
one instance per process. A missing library (Blender's bundled Python, a machine without the Debian
package ``libespeak-ng1``) raises :class:`EspeakUnavailableError`, which callers turn into "not used".

Pure module (numpy and the standard library).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass

import numpy as np

from .errors import ModelServerError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_EVENT_END = 0  # espeakEVENT_LIST_TERMINATED
_EVENT_PHONEME = 7
_CHARS_UTF8 = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4


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


class EspeakLibrary:
    """libespeak-ng loaded once; :meth:`speak` is serialised by a lock."""

    def __init__(self) -> None:
        path = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            self._lib = ctypes.CDLL(path)
        except OSError as exc:
            raise EspeakUnavailableError("libespeak-ng is not installed (Debian package libespeak-ng1)"
                                         ) from exc
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                           ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.sample_rate = int(self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA))
        if self.sample_rate <= 0:
            raise EspeakUnavailableError("espeak_Initialize failed (is espeak-ng-data installed?)")
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

    def speak(self, text: str, voice: str, rate_wpm: int = 175, pitch: int = 50, pitch_range: int = 50
              ) -> RawSpeech:
        """Speak ``text`` with the espeak-ng voice ``voice`` at ``rate_wpm`` words per minute.

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
        return RawSpeech(audio, self.sample_rate, phones)


_SHARED: EspeakLibrary | None = None
_SHARED_LOCK = threading.Lock()


def shared_library() -> EspeakLibrary:
    """The process's one :class:`EspeakLibrary` (loaded on first use).

    Raises:
        EspeakUnavailableError: libespeak-ng or its data is missing.
    """
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = EspeakLibrary()
        return _SHARED


__all__ = ["EspeakLibrary", "EspeakUnavailableError", "RawSpeech", "shared_library"]
