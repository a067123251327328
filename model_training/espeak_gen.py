"""Timed speech from espeak-ng (the ctypes binding ``model_server.espeak``), phone boundaries in samples.

espeak-ng is initialised in synchronous mode with phoneme events (``espeakINITIALIZE_PHONEME_EVENTS``)
and IPA phoneme names (``espeakINITIALIZE_PHONEME_IPA``), so every engine of the recipe speaks the same
phone alphabet (IPA) to the coarticulation model. Each phoneme event carries the sample position where
the phone starts; a phone ends where the next event (or the end of the audio) starts. espeak-ng writes
exactly silent samples for pauses, so silences are found from the audio itself. It also writes the closure
of an unvoiced stop as silence *before* the stop's event (the event marks the release), so each stop gets
back the silence that precedes it (:func:`model_server.espeak.attach_stop_closures`, also what the server's
dialog mode reads): the lips of a /p/ close when the sound stops, not when it bursts. Recipes of timing
version 1 (``Recipe.timing_version``: v15, and v12 as it was trained) keep the events as they come instead
(``EspeakEngine(closures=False)``: a stop starts at its release, every silent run is a pause).

The library is not thread-safe: use one process per generator (the corpus builder does).
"""

from __future__ import annotations

import logging
import multiprocessing
from dataclasses import dataclass
from multiprocessing.connection import Connection

from model_server.espeak import EspeakUnavailableError, is_stop, shared_library
from model_training.timing import MIN_SILENCE_S, TimedSpeech, cut_runs, silence_runs

log = logging.getLogger(__name__)


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
    """:class:`TimedSpeech` from the shared libespeak-ng binding (``model_server.espeak``).

    Args:
        closures: give each stop the silent closure before its burst (timing version 2, the default);
            False keeps the phoneme events as they come (timing version 1: a stop starts at its
            release, its closure stays inside the phone before it).
    """

    def __init__(self, closures: bool = True) -> None:
        try:
            self._lib = shared_library("system")  # the recipe's engine, never the bundled one
        except EspeakUnavailableError as exc:
            raise RuntimeError(str(exc)) from exc
        self.sample_rate = self._lib.sample_rate
        self.closures = closures

    def synthesize(self, text: str, voice: EspeakVoice) -> TimedSpeech:
        """Speak ``text`` with ``voice``.

        Returns:
            TimedSpeech at the engine's rate (22,050 Hz) with IPA phones, pauses as ``"_"``.

        Raises:
            ValueError: if the voice does not exist.
        """
        raw = self._lib.speak(text, voice.name, voice.rate_wpm, voice.pitch, voice.pitch_range,
                              closures=self.closures)
        if not self.closures:  # timing version 1: every silent run is a pause, closures included
            return TimedSpeech.from_segments(raw.audio, raw.sample_rate, raw.phones,
                                             silences=silence_runs(raw.audio))
        stops = [(a, b) for name, a, b in raw.phones if is_stop(name)]
        return TimedSpeech.from_segments(raw.audio, raw.sample_rate, raw.phones,
                                         silences=cut_runs(silence_runs(raw.audio), stops,
                                                           min_len=int(MIN_SILENCE_S * raw.sample_rate)))


def _isolated_worker(conn: Connection, closures: bool = True) -> None:
    """Child-process loop of :class:`IsolatedEspeak`: (text, voice) in, ("ok", speech) out."""
    engine = EspeakEngine(closures)
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

    Args:
        closures: as for :class:`EspeakEngine` (False: timing version 1).
    """

    def __init__(self, closures: bool = True) -> None:
        self._ctx = multiprocessing.get_context("spawn")  # no fork of a parent holding torch threads
        self.crashes = 0
        self.closures = closures
        self._start()

    def _start(self) -> None:
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_isolated_worker, args=(child, self.closures), daemon=True)
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
