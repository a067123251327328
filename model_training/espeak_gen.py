"""Timed speech from espeak-ng through its C library (ctypes), with phone boundaries in samples.

espeak-ng is initialised in synchronous mode with phoneme events (``espeakINITIALIZE_PHONEME_EVENTS``)
and IPA phoneme names (``espeakINITIALIZE_PHONEME_IPA``), so every engine of the recipe speaks the same
phone alphabet (IPA) to the coarticulation model. Each phoneme event carries the sample position where
the phone starts; a phone ends where the next event (or the end of the audio) starts. espeak-ng writes
exactly silent samples for pauses, so silences are found from the audio itself.

The library is not thread-safe: use one process per generator (the corpus builder does).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from model_training.timing import TimedSpeech, silence_runs

log = logging.getLogger(__name__)

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_EVENT_END = 0  # espeakEVENT_LIST_TERMINATED
_EVENT_PHONEME = 7
_CHARS_UTF8 = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4


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
class EspeakVoice:
    """One espeak-ng voice setting.

    Attributes:
        language: espeak language code, e.g. ``"en-us"``, ``"de"``.
        variant: voice variant name (``"m3"``, ``"f2"``, ``"klatt"``...) or ``""`` for the default.
        rate_wpm: speaking rate in words per minute (espeak default 175).
        pitch: base pitch 0..100 (default 50).
        pitch_range: pitch range 0..100 (default 50).
    """

    language: str
    variant: str = ""
    rate_wpm: int = 175
    pitch: int = 50
    pitch_range: int = 50

    @property
    def name(self) -> str:
        """The name passed to ``espeak_SetVoiceByName``, e.g. ``"en-us+f3"``."""
        return f"{self.language}+{self.variant}" if self.variant else self.language


class EspeakEngine:
    """A ctypes wrapper of libespeak-ng producing :class:`TimedSpeech` (one per process)."""

    def __init__(self) -> None:
        path = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            self._lib = ctypes.CDLL(path)
        except OSError as exc:
            raise RuntimeError("libespeak-ng not found: install the Debian package libespeak-ng1") from exc
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                           ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.sample_rate = int(self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA))
        if self.sample_rate <= 0:
            raise RuntimeError("espeak_Initialize failed (is espeak-ng-data installed?)")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, str]] = []
        self._offset = 0
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

    def synthesize(self, text: str, voice: EspeakVoice) -> TimedSpeech:
        """Speak ``text`` with ``voice``.

        Returns:
            TimedSpeech at the engine's rate (22,050 Hz) with IPA phones, pauses as ``"_"``.

        Raises:
            ValueError: if the voice does not exist.
        """
        if self._lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice.name!r} (see `espeak-ng --voices`)")
        self._lib.espeak_SetParameter(_RATE, int(voice.rate_wpm), 0)
        self._lib.espeak_SetParameter(_PITCH, int(voice.pitch), 0)
        self._lib.espeak_SetParameter(_RANGE, int(voice.pitch_range), 0)
        self._chunks, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data)
        self._lib.espeak_Synth(buf, len(data), 0, 0, 0, _CHARS_UTF8, None, None)
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)  # [N]
        n = len(audio)
        starts = [min(max(s, 0), n) for s, _ in self._events]
        phones: list[tuple[str, int, int]] = []
        for k, (start, (_, name)) in enumerate(zip(starts, self._events, strict=True)):
            end = starts[k + 1] if k + 1 < len(starts) else n
            if end > start and name.strip():
                phones.append((name.strip(), start, end))
        return TimedSpeech.from_segments(audio, self.sample_rate, phones, silences=silence_runs(audio))


def _isolated_worker(conn: Connection) -> None:
    """Child-process loop of :class:`IsolatedEspeak`: (text, voice) in, ("ok", speech) out."""
    engine = EspeakEngine()
    while True:
        msg = conn.recv()
        if msg is None:
            return
        try:
            conn.send(("ok", engine.synthesize(*msg)))
        except ValueError as exc:
            conn.send(("error", str(exc)))


class IsolatedEspeak:
    """:class:`EspeakEngine` in a child process.

    libespeak-ng 1.51 crashes (SIGSEGV) on rare voice/text/pitch combinations (for example Spanish,
    variant ``rob``, pitch 22, range 90, on one 14-word sentence). In a child process such a crash costs
    one utterance: :meth:`synthesize` returns None, and the next call starts a fresh child. The crash
    is deterministic, so a seeded corpus stays reproducible.
    """

    def __init__(self) -> None:
        self._ctx = multiprocessing.get_context("spawn")  # no fork of a parent holding torch threads
        self.crashes = 0
        self._start()

    def _start(self) -> None:
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_isolated_worker, args=(child,), daemon=True)
        self._proc.start()
        child.close()

    def synthesize(self, text: str, voice: EspeakVoice) -> TimedSpeech | None:
        """Like :meth:`EspeakEngine.synthesize`; None when libespeak-ng crashed on this input."""
        try:
            self._conn.send((text, voice))
            status, value = self._conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self._proc.join()
            self.crashes += 1
            log.warning("libespeak-ng crashed (exit %s) on %s %r; skipped", self._proc.exitcode,
                        voice, text[:60])
            self._start()
            return None
        if status == "error":
            raise ValueError(value)
        return value

    def close(self) -> None:
        """Stop the child process."""
        if self._proc.is_alive():
            self._conn.send(None)
            self._proc.join(timeout=10)
