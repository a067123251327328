"""The stages glued: audio -> au-tracks/1 (DESIGN.md §2).

decode (mono 16 kHz) -> acoustic model (mouth and blend AUs, 100 Hz) -> near-silence gate -> the
transcript's closures blended in when one is given and matches (dialog mode, ``model_server.dialog``) ->
upper-face events (blinks, prosody brow raises, seeded) -> resample to the scene fps (anti-aliased;
blinks rendered at the frame times) -> the emotion mixed in per shape key by the rig's zone rules
(``au_contract.zone_rules.evaluate_rules``) -> landmarks from the per-shape-key basis.

:func:`predict_tracks` is what the CLI and the HTTP service call; the service knows nothing else.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from au_contract import AU_CODES, CONTRACT_VERSION, EMOTIONS, MODEL_AUS, zone_rules
from au_contract import basis as landmarks
from au_contract.options import OptionsError, RequestOptions
from au_contract.tracks import Landmarks, TrackSet

from . import __version__, dialog, emotion, prosody, resample
from .closure import (
    BILABIAL_EVENT_MIN,
    BILABIAL_EVENT_MIN_PRECISE,
    BILABIAL_SMOOTH_S,
    enforce_closures,
    peak_resample,
)
from .decode import DEFAULT_MAX_DURATION_S, TARGET_RATE, DecodedAudio, decode_audio
from .filters import remove_dc
from .phonetics import PHONE_CLASSES
from .presence import quiet_gate, speech_presence
from .transcript_align import ModelFrames
from .upper_face import UpperFaceOptions, UpperFaceResult, upper_face
from .views import PLAIN_FACTORS, PRECISE_FACTORS

log = logging.getLogger(__name__)

#: Frames quieter than this (dBFS) are rest pose; a clip whose loud frames are all below it is silent.
SILENCE_DB = -60.0
#: ... unless the recording itself is quiet: frames within this many dB of the clip's loud level (95th
#: percentile) are never rest pose by level alone. A line recorded 30 dB down (peaks at -31 dBFS) kept
#: only 0.78 of its jaw movement under the fixed -60 dBFS gate, one 40 dB down 0.28; the acoustic model
#: itself is indifferent to the level (its features are level-normalised). Speech presence and the quiet
#: gate, which measure from the clip's own floor, still put pauses and steady noise at rest.
SILENCE_BELOW_LOUD_DB = 45.0
#: Clips longer than this run through the model in chunks (bounded memory), seconds.
CHUNK_S = 60.0
CONTEXT_S = 2.0


class SpeechModel(Protocol):
    """What the pipeline needs of the acoustic model (``model_server.acoustic.AcousticModel``)."""

    channels: tuple[str, ...]
    device: str
    version: str

    def predict(self, audio_16k: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class PredictOptions(RequestOptions):
    """The contract's request options (``au_contract.options.RequestOptions``) plus the server's limit.

    Attributes:
        max_duration_s: longest accepted audio, seconds (the server's ``--max-duration``, not a request
            option).
    """

    max_duration_s: float = DEFAULT_MAX_DURATION_S

    def validated(self) -> PredictOptions:
        """Return a copy with every option checked and normalised (``RequestOptions.validated``).

        Raises:
            OptionsError: naming the bad option and its accepted range.
        """
        if not (isinstance(self.max_duration_s, int | float) and math.isfinite(self.max_duration_s)
                and self.max_duration_s > 0):
            raise OptionsError(f"max_duration_s must be a positive number, got {self.max_duration_s!r}")
        out = super().validated()
        assert isinstance(out, PredictOptions)
        return out


_MODEL_LOCK = threading.Lock()
_MODELS: dict[tuple[str, str], SpeechModel] = {}
#: Environment variable naming other ONNX weights than the shipped ``model_server/weights/acoustic.onnx``.
MODEL_ENV = "AU_TALKING_HEAD_MODEL"


def get_model(device: str = "auto", path: str | Path | None = None) -> SpeechModel:
    """Load the acoustic model once per (device, weights) and return it (thread-safe).

    Args:
        device: ``"auto"`` (CUDA when available), ``"cuda"`` or ``"cpu"``.
        path: ONNX weights; default ``$AU_TALKING_HEAD_MODEL`` or the shipped weights.

    Raises:
        model_server.acoustic.ModelNotFoundError: when the weights are missing or unreadable.
    """
    chosen = str(path or os.environ.get(MODEL_ENV, "") or "")
    with _MODEL_LOCK:
        key = (device, chosen)
        if key not in _MODELS:
            from .acoustic import AcousticModel

            model = AcousticModel.load(path=Path(chosen) if chosen else None, device=device)
            log.info("acoustic model %s loaded on %s", model.version, model.device)
            _MODELS[key] = model
        return _MODELS[key]


def predict_tracks(audio: bytes | Path | DecodedAudio, options: PredictOptions | None = None,
                   model: SpeechModel | None = None) -> TrackSet:
    """Turn speech audio into an au-tracks/1 track set.

    Args:
        audio: the audio file's bytes, a path to it, or already decoded audio.
        options: prediction options (defaults: 30 fps, neutral, seed 0, blinks, prosody, landmarks).
        model: the acoustic model; default :func:`get_model` ("auto" device).

    Returns:
        A validated :class:`TrackSet` with every AU of the contract as a channel: each AU's shape-key value
        on the default head (the mean of the two sides for a sided AU under a one-sided emotion, see
        ``au_contract.zone_rules``), landmarks per shape key.

    Raises:
        model_server.decode.AudioError: bad audio (empty, not audio, truncated, NaN, too long...).
        OptionsError: an option out of range.
        OSError: an unreadable path.
        model_server.acoustic.ModelNotFoundError: no model weights.
    """
    opts = (options or PredictOptions()).validated()
    watch = _Stopwatch()
    decoded = _decode(audio, opts)
    opts.check_frames(decoded.duration_s)  # the frame cap (au_contract.options), before any model work
    watch.lap("decode_ms")
    model = model or get_model()
    samples = remove_dc(decoded.samples, TARGET_RATE)  # an offset would hide speech from the level gates
    n100 = -(-samples.size // prosody.HOP)  # model frames: ceil(N / 160)
    track = prosody.analyse(samples, n100)
    silent = n100 == 0 or float(np.percentile(track.energy_db, 95)) < SILENCE_DB
    watch.lap("analysis_ms")
    presence = _presence(track)
    heard = (ModelFrames(np.zeros((n100, len(MODEL_AUS)), np.float32)) if silent
             else _speech_frames(model, samples, presence, phones=True, factors=_factors(opts)))
    watch.lap("model_ms")
    speech100, said = _dialog(model, samples, heard, silent, opts)
    bilabial100 = _bilabial_evidence(heard, presence, said)
    watch.lap("dialog_ms")
    face = upper_face(samples, n100, UpperFaceOptions(seed=opts.seed, blinks=opts.blinks,
                                                      prosody=opts.prosody and not silent), track=track)
    watch.lap("upper_face_ms")
    n_frames = resample.frame_count(decoded.duration_s, opts.fps)
    aus = _au_properties(speech100, face, n_frames, opts, bilabial100)
    watch.lap("resample_ms")
    keys = zone_rules.evaluate_rules(aus, emotion.strengths(opts.emotion, opts.strength))  # [F, R]
    matrix = zone_rules.au_channels(keys).astype(np.float32)  # [F, len(AU_CODES)]
    channels = {code: np.ascontiguousarray(matrix[:, i]) for i, code in enumerate(AU_CODES)}
    watch.lap("emotion_ms")
    basis = landmarks.load_basis() if opts.landmarks else None
    lm = None if basis is None else Landmarks(frames=basis.evaluate_keys(keys), head_size_m=basis.head_size_m)
    watch.lap("landmarks_ms")
    meta = _meta(opts, model, decoded, silent, face, basis, watch.done())
    meta["dialog"] = said.meta
    meta["language"] = opts.language if opts.transcript.strip() else "auto"
    meta["warnings"] = [said.meta["warning"]] if said.meta.get("warning") else []
    tracks = TrackSet(fps=opts.fps, frame_count=n_frames, duration_s=decoded.duration_s, channels=channels,
                      landmarks=lm, meta=meta)
    tracks.validate()
    return tracks


class _Stopwatch:
    """Milliseconds per pipeline stage (``meta.timing_ms``)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.started = self.clock = time.perf_counter()

    def lap(self, name: str) -> None:
        """Record the time since the previous lap as ``name``."""
        now = time.perf_counter()
        self.timings[name] = round((now - self.clock) * 1000.0, 3)
        self.clock = now

    def done(self) -> dict[str, float]:
        """The laps and ``total_ms``."""
        return {**self.timings, "total_ms": round((time.perf_counter() - self.started) * 1000.0, 3)}


def _decode(audio: bytes | Path | DecodedAudio, opts: PredictOptions) -> DecodedAudio:
    """Stage 1: the audio as mono 16 kHz samples (a path is read, bytes decoded, decoded audio kept)."""
    if isinstance(audio, DecodedAudio):
        return audio
    data = Path(audio).read_bytes() if isinstance(audio, Path) else audio
    return decode_audio(data, max_duration_s=opts.max_duration_s)


def _factors(opts: PredictOptions) -> tuple[float, ...]:
    """The views the model hears (``model_server.views``): three in precise mode, else one."""
    return PRECISE_FACTORS if opts.precise else PLAIN_FACTORS


def _speech_frames(model: SpeechModel, samples: np.ndarray, presence: np.ndarray, phones: bool = False,
                   factors: tuple[float, ...] = PLAIN_FACTORS) -> ModelFrames:
    """Stage 2: the model's mouth and blend AUs at 100 Hz ([ceil(N/160), len(MODEL_AUS)]), gated by
    ``presence`` (:func:`_presence` of the samples' track: 0 where nobody speaks), plus (when ``phones`` is
    set) the log-mel frames the model heard and the phone-class posteriors if the weights have the
    phone-class output (one network pass for all)."""
    heard = _run_model(model, samples, phones, factors)
    return replace(heard, aus=heard.aus * presence[:, None])


def _presence(track: prosody.ProsodyTrack) -> np.ndarray:
    """[T] 0..1 at 100 Hz: how much somebody speaks (energy over the silence floor, speech presence, not
    quiet); the model's AUs and bilabial evidence are scaled by it."""
    _, loud = prosody.level_range(track.energy_db)
    silence_db = min(SILENCE_DB, loud - SILENCE_BELOW_LOUD_DB)  # a quiet recording is not silence
    gate = np.clip((track.energy_db - silence_db) / 10.0, 0.0, 1.0)
    gate = resample.gaussian_smooth(gate[:, None].astype(np.float32), 3.0)[:, 0]
    gate = np.minimum(gate, speech_presence(track.speech, track.voiced, TARGET_RATE / prosody.HOP))
    return np.minimum(gate, quiet_gate(track.energy_db, TARGET_RATE / prosody.HOP))


BILABIAL_CLASS = PHONE_CLASSES.index("bilabial")


def _bilabial_evidence(heard: ModelFrames, presence: np.ndarray, said: dialog.DialogResult
                       ) -> np.ndarray | None:
    """[T] at 100 Hz, the closure stage's bilabial evidence: the model's bilabial posterior where somebody
    speaks (times ``presence``, :func:`_presence`; smoothed), raised to the closures of a loosely matched
    transcript (``said.weight``). None for weights without the phone-class output, and under a trusted
    transcript, whose closures ``dialog.blend`` wrote into the closure AUs at every aligned bilabial: the
    closure stage then judges by the closure AUs
    (``model_server.closure.closure_gate``; with the posterior beside a trusted text, its doubtful peaks
    sealed vowels next to the aligned closures: development set false closures 0.141 -> 0.163).
    """
    if heard.phones is None or said.trusted:
        return None
    n = heard.aus.shape[0]
    heard_bilabial = heard.phones[:n, BILABIAL_CLASS] * presence[:n]
    evidence = resample.gaussian_smooth(heard_bilabial[:, None].astype(np.float32),
                                        BILABIAL_SMOOTH_S * TARGET_RATE / prosody.HOP)[:, 0]
    if said.weight is not None:
        evidence = np.maximum(evidence, said.weight[:n])
    return evidence.astype(np.float32)


def _dialog(model: SpeechModel, samples: np.ndarray, heard: ModelFrames, silent: bool,
            opts: PredictOptions) -> tuple[np.ndarray, dialog.DialogResult]:
    """Stage 2b: the transcript's closures blended into the speech AUs (unchanged without a transcript,
    on silence, or when the transcript does not match: ``meta["dialog"]`` says which), and the transcript's
    result (its closures are bilabial evidence for the closure stage). The aligner hears the recording and
    espeak-ng's reading of the transcript through the same acoustic model."""
    if silent and opts.transcript.strip():
        return heard.aus, dialog.DialogResult(meta=dialog.dialog_meta(
            True, opts.language, False, "the audio is silent: nothing to align the transcript to"))

    def model_of(audio: np.ndarray) -> ModelFrames:  # the gate needs no pitch: voiced frames are speech
        track = prosody.analyse(audio, -(-audio.size // prosody.HOP), pitch=False)
        return _speech_frames(model, audio, _presence(track), phones=True, factors=_factors(opts))

    result = dialog.transcript_targets(samples, heard.aus, opts.transcript, opts.language, model_of,
                                       heard.phones, heard.mel)
    return dialog.blend(heard.aus, result), result


def _au_properties(speech100: np.ndarray, face: UpperFaceResult, n_frames: int, opts: PredictOptions,
                   bilabial100: np.ndarray | None = None) -> np.ndarray:
    """Stage 3: the neutral AU values at the output rate, what the add-on keys on the control object.

    Mouth and blend AUs resampled (anti-aliased) with the closures enforced at the output rate, blinks and
    brow raises rendered at the frame times; AUs no layer writes stay 0.

    Returns:
        float64 [n_frames, len(AU_CODES)] in ``AU_CODES`` order.
    """
    times = np.arange(n_frames, dtype=np.float64) / opts.fps
    mouth = resample.resample_tracks(speech100, opts.fps, n_frames, smoothing=opts.smoothing)
    bilabial = None if bilabial100 is None else peak_resample(bilabial100, opts.fps, n_frames)
    event_min = BILABIAL_EVENT_MIN_PRECISE if opts.precise else BILABIAL_EVENT_MIN
    # at the output rate: what the rig shows
    mouth = enforce_closures(mouth, MODEL_AUS, opts.fps, bilabial, event_min)
    upper = face.render(times, snap_fps=opts.fps)
    aus = np.zeros((n_frames, len(AU_CODES)))
    for i, code in enumerate(MODEL_AUS):
        aus[:, AU_CODES.index(code)] = mouth[:, i]
    for code in ("AU45", "AU43", "AU01", "AU02"):
        aus[:, AU_CODES.index(code)] = upper[code]
    return aus


def _meta(opts: PredictOptions, model: SpeechModel, decoded: DecodedAudio, silent: bool,
          face: UpperFaceResult, basis: landmarks.LandmarkBasis | None, timings: dict[str, float]
          ) -> dict[str, Any]:
    """Stage 4: the track set's ``meta`` block."""
    return {
        "model": getattr(model, "version", "unknown"),
        "device": getattr(model, "device", "cpu"),
        "server_version": __version__,
        "contract_version": CONTRACT_VERSION,
        "sample_rate": TARGET_RATE,
        "seed": opts.seed,
        "language": "auto",
        "duration_s": round(decoded.duration_s, 6),
        "silent": silent,
        "source": {"format": decoded.source_format, "sample_rate": decoded.source_rate,
                   "channels": decoded.source_channels},
        "emotion": {"name": opts.emotion, "strength": opts.strength,
                    "one_sided": emotion.one_sided(opts.emotion)},
        "options": {"fps": opts.fps, "blinks": opts.blinks, "prosody": opts.prosody,
                    "smoothing": opts.smoothing, "landmarks": opts.landmarks, "precise": opts.precise},
        "events": {"blinks": len(face.blink_times_s), "brow_raises": len(face.accent_times_s)},
        "landmark_basis": None if basis is None else basis.source,
        "timing_ms": timings,
    }


def _run_model(model: SpeechModel, samples: np.ndarray, phones: bool = False,
               factors: tuple[float, ...] = PLAIN_FACTORS) -> ModelFrames:
    """Model AUs [ceil(N/160), len(MODEL_AUS)] at 100 Hz (not gated) and, with ``phones``, what else the
    model gives (:func:`_outputs`); long clips in chunks with context (then without the log-mel frames)."""
    if tuple(model.channels) != MODEL_AUS:
        raise RuntimeError(f"model channels {model.channels} differ from the contract's {MODEL_AUS}")
    hop = prosody.HOP
    n100 = -(-samples.size // hop)
    chunk = int(CHUNK_S * TARGET_RATE) // hop * hop
    if samples.size <= chunk * 2:
        whole = _outputs(model, samples, phones, factors)
        return ModelFrames(whole.aus[:n100], None if whole.phones is None else whole.phones[:n100], whole.mel)
    context = int(CONTEXT_S * TARGET_RATE) // hop * hop
    aus: list[np.ndarray] = []
    posteriors: list[np.ndarray] = []
    for start in range(0, samples.size, chunk):  # consecutive chunks: their own frames, in order
        lo = max(0, start - context)
        part = _outputs(model, samples[lo:start + chunk + context], phones, factors)
        first = (start - lo) // hop
        own = slice(first, first + min(chunk // hop, n100 - start // hop))
        aus.append(part.aus[own])
        if part.phones is not None:
            posteriors.append(part.phones[own])
    return ModelFrames(np.concatenate(aus), np.concatenate(posteriors) if posteriors else None)


def _outputs(model: SpeechModel, audio: np.ndarray, phones: bool, factors: tuple[float, ...] = PLAIN_FACTORS
             ) -> ModelFrames:
    """One network pass over ``audio`` per view (``factors``, :mod:`model_server.views`; a model without
    ``predict_views`` hears one): AUs, and with ``phones`` (for a model with ``predict_output``) the phone
    posteriors (None for weights without them) and the log-mel frames."""
    predict_views = getattr(model, "predict_views", None) if factors != PLAIN_FACTORS else None
    if predict_views is not None:
        out = predict_views(audio, factors)
    else:
        predict_output = getattr(model, "predict_output", None) if phones else None
        if predict_output is None:
            return ModelFrames(np.asarray(model.predict(audio), np.float32))
        out = predict_output(audio)
    return ModelFrames(np.asarray(out.aus, np.float32), out.phone_posteriors() if phones else None,
                       out.mel if phones else None)


__all__ = ["EMOTIONS", "OptionsError", "PredictOptions", "get_model", "predict_tracks"]
