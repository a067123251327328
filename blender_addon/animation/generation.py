"""The part of a generation that needs no Blender: read the audio, ask the server, plan the curves.

Pure module. Runs in a background thread in the UI (``worker.BackgroundJob``) or inline in background
mode; everything that can fail for an outside reason (missing file, server down, bad answer) fails here,
before a single Blender datablock is touched, so a failure leaves the file as it was.

The server is always asked for NEUTRAL tracks (speech, blinks, prosody): the chosen emotion is applied
through the rig's emotion properties, so changing the emotion never rewrites the AU curves and a
regeneration that only changes the emotion reuses the cached tracks without calling the server.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

from au_contract.errors import OptionsError
from au_contract.options import DEFAULT_LANGUAGE, RequestOptions
from au_contract.tracks import NOTES_KEY, TrackFormatError, TrackSet, read_tracks
from au_contract.transcripts import WARNING_PREFIX, read_sidecar

from ..errors import AddonError
from ..server import client
from ..server.worker import JobCancelledError
from . import curveplan, keyreduce
from .timing import resample

log = logging.getLogger(__name__)

_CACHE: OrderedDict[tuple, TrackSet] = OrderedDict()
_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()


class GenerationError(AddonError, RuntimeError):
    """A generation failed before anything was written; the message says what happened and what to do."""


@dataclass(frozen=True)
class GenerateRequest:
    """Everything a generation needs, as plain values.

    Attributes:
        audio_path: absolute path of the speech file.
        server_url: model server base URL.
        fps: the scene's effective frame rate (``render.fps / render.fps_base``).
        frame_start: scene frame where the speech starts.
        emotion: one of ``au_contract.EMOTIONS``.
        strength: emotion strength 0..1.
        blinks, prosody: server options.
        smoothing: server smoothing strength 0..1.
        precise: the server's precise mode (``RequestOptions.precise``).
        seed: seed of blinks and prosody.
        tolerance: key reduction bound (AU units, see ``keyreduce``).
        timeout_s: how long to wait for the server's answer.
        transcript: the line's text (dialog mode); "" = the UTF-8 ``<audio stem>.txt`` beside the audio
            when there is one (``au_contract.transcripts``), else none.
        language: espeak-ng voice code, language tag or name of the transcript (``en``, ``en-US``,
            ``French``).
    """

    audio_path: str
    server_url: str
    fps: float
    frame_start: int = 1
    emotion: str = "NEUTRAL"
    strength: float = 1.0
    blinks: bool = True
    prosody: bool = True
    smoothing: float = 0.0
    precise: bool = False
    seed: int = 0
    tolerance: float = keyreduce.DEFAULT_TOLERANCE
    timeout_s: float = 300.0
    transcript: str = ""
    language: str = DEFAULT_LANGUAGE

    def with_transcript(self) -> GenerateRequest:
        """This request with its transcript resolved: the given text, else the sidecar file's.

        Raises:
            GenerationError: the sidecar file is not UTF-8 text of at most 4096 bytes.
        """
        if self.transcript.strip() or not self.audio_path:
            return self
        try:
            text = read_sidecar(self.audio_path)
        except OptionsError as exc:
            raise GenerationError(str(exc)) from exc
        return replace(self, transcript=text) if text else self

    def server_options(self) -> RequestOptions:
        """What the server is asked (the contract's options): NEUTRAL tracks at the scene's rate, no
        landmarks; the chosen emotion is applied by the rig's emotion properties instead."""
        return RequestOptions(fps=self.fps, emotion="NEUTRAL", strength=0.0, seed=self.seed,
                              blinks=self.blinks, prosody=self.prosody, smoothing=self.smoothing,
                              landmarks=False, transcript=self.transcript, language=self.language,
                              precise=self.precise)


@dataclass
class Prepared:
    """The result of :func:`prepare`: tracks at the scene's rate and the curves to write.

    Attributes:
        request: what was asked.
        tracks: the NEUTRAL tracks resampled to ``request.fps``.
        curves: the generated layer (``curveplan.plan_generated``).
        from_cache: True if the server was not called.
        server_s: seconds spent waiting for the server (0 from the cache).
    """

    request: GenerateRequest
    tracks: TrackSet
    curves: list[curveplan.CurveData]
    from_cache: bool = False
    server_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def _cache_key(req: GenerateRequest) -> tuple:
    stat = Path(req.audio_path).stat()
    return (str(Path(req.audio_path).resolve()), stat.st_mtime_ns, stat.st_size, req.server_url,
            req.server_options())


def clear_cache() -> None:
    """Forget every cached track set (the next generation calls the server)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def fetch_tracks(req: GenerateRequest, cancel: threading.Event | None = None,
                 use_cache: bool = True) -> tuple[TrackSet, bool, float]:
    """Return (NEUTRAL tracks at ``req.fps``, whether they came from the cache, server seconds).

    Raises:
        GenerationError: missing/unreadable audio, server errors, invalid answer.
        JobCancelledError: if ``cancel`` is set when the answer arrives.
    """
    path = Path(req.audio_path)
    if not req.audio_path or not path.is_file():
        raise GenerationError(f"audio file not found: {req.audio_path or '(none chosen)'}. Pick a speech "
                              "recording in the panel's Audio field")
    try:
        key = _cache_key(req)
    except OSError as exc:
        raise GenerationError(f"cannot read the audio file {path}: {exc}") from exc
    if use_cache:
        with _CACHE_LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key], True, 0.0
    try:
        audio = path.read_bytes()
        server = client.Client(req.server_url, timeout_s=req.timeout_s)
        t0 = time.perf_counter()
        raw = server.tracks(audio, req.server_options())
        server_s = time.perf_counter() - t0
    except client.ServerError as exc:
        raise GenerationError(str(exc)) from exc
    except OSError as exc:
        raise GenerationError(f"cannot read the audio file {path}: {exc}") from exc
    if cancel is not None and cancel.is_set():
        raise JobCancelledError("cancelled")
    tracks = read_answer(raw, req.fps)
    with _CACHE_LOCK:
        _CACHE[key] = tracks
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return tracks, False, server_s


def read_answer(raw: bytes | str, fps: float) -> TrackSet:
    """Read a server's au-tracks/1 answer with the contract's lenient reader and resample it to ``fps``.

    Raises:
        GenerationError: the answer is not usable au-tracks/1 (the message says why).
    """
    try:
        tracks = read_tracks(raw, "lenient")
    except TrackFormatError as exc:
        raise GenerationError(f"the model server's answer is not usable: {exc}. Update the server and the "
                              "add-on to the same version") from exc
    for note in tracks.meta.get(NOTES_KEY, []):
        log.info("server answer: %s", note)
    return resample(tracks, fps)


def dialog_warning(tracks: TrackSet) -> str | None:
    """What the server says about the transcript when it was given but not (fully) used, else None."""
    dialog = tracks.meta.get("dialog")
    if isinstance(dialog, dict) and dialog.get("transcript") and dialog.get("warning"):
        return f"{WARNING_PREFIX}{dialog['warning']}"
    return None


def dialog_note(tracks: TrackSet) -> str | None:
    """What the result message says when the transcript was used with no warning: which espeak-ng voice
    read it and how many of its p/b/m closed (``"Transcript used (en-us): 9 of 9 p/b/m closed"``), else
    None."""
    dialog = tracks.meta.get("dialog")
    if not (isinstance(dialog, dict) and dialog.get("used")) or dialog.get("warning"):
        return None
    voice = f" ({dialog['voice']})" if dialog.get("voice") else ""
    return (f"Transcript used{voice}: {dialog.get('bilabials_closed', 0)} of {dialog.get('bilabials', 0)} "
            f"p/b/m closed")


def prepare(req: GenerateRequest, cancel: threading.Event | None = None, use_cache: bool = True) -> Prepared:
    """Fetch the tracks (or reuse them) and plan every curve of the generated layer.

    Raises:
        GenerationError, JobCancelledError: see :func:`fetch_tracks`; bad emotion or strength; a
            transcript file beside the audio that is not UTF-8 (``GenerateRequest.with_transcript``).
    """
    req = req.with_transcript()
    tracks, cached, server_s = fetch_tracks(req, cancel, use_cache)
    t0 = time.perf_counter()
    try:
        curves = curveplan.plan_generated(tracks, float(req.frame_start), req.emotion, req.strength,
                                          req.tolerance)
    except ValueError as exc:
        raise GenerationError(str(exc)) from exc
    if cancel is not None and cancel.is_set():
        raise JobCancelledError("cancelled")
    return Prepared(req, tracks, curves, cached, server_s, {"plan_s": time.perf_counter() - t0})
