"""The stages glued: audio -> au-tracks/1 (DESIGN.md §2).

decode (mono 16 kHz) -> acoustic model (mouth and blend AUs, 100 Hz) -> near-silence gate ->
upper-face events (blinks, prosody brow raises, seeded) -> resample to the scene fps (anti-aliased;
blinks rendered at the frame times) -> emotion preset mixed in by zone -> landmarks from the AU basis.

:func:`predict_tracks` is what the CLI and the HTTP service call; the service knows nothing else.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from au_contract import AU_CODES, CONTRACT_VERSION, EMOTIONS, MODEL_AUS, PROSODY_CAP_DEFAULT
from au_contract import basis as landmarks
from au_contract.tracks import Landmarks, TrackSet

from . import __version__, emotion, prosody, resample
from .closure import enforce_closures
from .decode import DEFAULT_MAX_DURATION_S, TARGET_RATE, DecodedAudio, decode_audio
from .presence import speech_presence
from .upper_face import UpperFaceOptions, upper_face

log = logging.getLogger(__name__)

#: Frames quieter than this (dBFS) are rest pose; a clip whose loud frames are all below it is silent.
SILENCE_DB = -60.0
#: Clips longer than this run through the model in chunks (bounded memory), seconds.
CHUNK_S = 60.0
CONTEXT_S = 2.0
MAX_SEED = 2**63 - 1


class OptionsError(ValueError):
    """A request option is out of range; ``code`` is ``"bad_parameter"`` and the message names it."""

    code = "bad_parameter"

    @property
    def message(self) -> str:
        return str(self)


class SpeechModel(Protocol):
    """What the pipeline needs of the acoustic model (``model_server.acoustic.AcousticModel``)."""

    channels: tuple[str, ...]
    device: str
    version: str

    def predict(self, audio_16k: np.ndarray) -> np.ndarray: ...


@dataclass
class PredictOptions:
    """Options of one prediction (the HTTP query parameters and CLI flags).

    Attributes:
        fps: output frame rate, > 0 and <= 1000, fractional allowed (29.97).
        emotion: one of ``au_contract.EMOTIONS`` (case-insensitive).
        strength: emotion strength, 0..1.
        seed: random seed for blinks and brow raises, 0..2**63-1.
        blinks: add blinks (AU45/AU43).
        prosody: add brow raises on pitch accents (AU01/AU02).
        smoothing: extra temporal smoothing of the speech AUs, 0..1 (1 = a 60 ms Gaussian).
        landmarks: include ibug68 landmarks.
        max_duration_s: longest accepted audio, seconds.
    """

    fps: float = 30.0
    emotion: str = "NEUTRAL"
    strength: float = 1.0
    seed: int = 0
    blinks: bool = True
    prosody: bool = True
    smoothing: float = 0.0
    landmarks: bool = True
    max_duration_s: float = DEFAULT_MAX_DURATION_S

    def validated(self) -> PredictOptions:
        """Return a copy with the emotion name normalised.

        Raises:
            OptionsError: naming the bad option and its accepted range.
        """
        if not (math.isfinite(self.fps) and 0 < self.fps <= resample.MAX_FPS):
            raise OptionsError(f"fps must be a number in (0, {resample.MAX_FPS:g}], got {self.fps!r}")
        try:
            name = emotion.normalise_name(self.emotion)
        except emotion.EmotionError as exc:
            raise OptionsError(str(exc)) from exc
        if not (math.isfinite(self.strength) and 0.0 <= self.strength <= 1.0):
            raise OptionsError(f"strength must be between 0 and 1, got {self.strength!r}")
        if not 0 <= int(self.seed) <= MAX_SEED:
            raise OptionsError(f"seed must be an integer in [0, 2**63-1], got {self.seed!r}")
        if not (math.isfinite(self.smoothing) and 0.0 <= self.smoothing <= 1.0):
            raise OptionsError(f"smoothing must be between 0 and 1, got {self.smoothing!r}")
        if not (math.isfinite(self.max_duration_s) and self.max_duration_s > 0):
            raise OptionsError(f"max_duration_s must be positive, got {self.max_duration_s!r}")
        return PredictOptions(**{**asdict(self), "emotion": name, "seed": int(self.seed)})


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
        A validated :class:`TrackSet` with every AU of the contract as a channel.

    Raises:
        model_server.decode.AudioError: bad audio (empty, not audio, truncated, NaN, too long...).
        OptionsError: an option out of range.
        OSError: an unreadable path.
        model_server.acoustic.ModelNotFoundError: no model weights.
    """
    opts = (options or PredictOptions()).validated()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    started = clock

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round((now - clock) * 1000.0, 3)
        clock = now

    if isinstance(audio, DecodedAudio):
        decoded = audio
    else:
        data = Path(audio).read_bytes() if isinstance(audio, Path) else audio
        decoded = decode_audio(data, max_duration_s=opts.max_duration_s)
    lap("decode_ms")
    model = model or get_model()
    samples = decoded.samples
    n100 = -(-samples.size // prosody.HOP)  # model frames: ceil(N / 160)
    track = prosody.analyse(samples, n100)
    silent = n100 == 0 or float(np.percentile(track.energy_db, 95)) < SILENCE_DB
    lap("analysis_ms")
    if silent:
        speech100 = np.zeros((n100, len(MODEL_AUS)), np.float32)
    else:
        speech100 = _run_model(model, samples)
        gate = np.clip((track.energy_db - SILENCE_DB) / 10.0, 0.0, 1.0)
        gate = resample.gaussian_smooth(gate[:, None].astype(np.float32), 3.0)[:, 0]
        gate = np.minimum(gate, speech_presence(track.speech, track.voiced, TARGET_RATE / prosody.HOP))
        speech100 = speech100 * gate[:, None]
    lap("model_ms")
    face = upper_face(samples, n100, UpperFaceOptions(seed=opts.seed, blinks=opts.blinks,
                                                      prosody=opts.prosody and not silent), track=track)
    lap("upper_face_ms")
    duration_s = decoded.duration_s
    n_frames = resample.frame_count(duration_s, opts.fps)
    times = np.arange(n_frames, dtype=np.float64) / opts.fps
    mouth = resample.resample_tracks(speech100, opts.fps, n_frames, smoothing=opts.smoothing)
    mouth = enforce_closures(mouth, MODEL_AUS, opts.fps)  # at the output rate: what the rig will show
    upper = face.render(times, snap_fps=opts.fps)
    lap("resample_ms")
    speech = {code: mouth[:, i] for i, code in enumerate(MODEL_AUS)}
    speech.update({code: upper[code] for code in ("AU45", "AU43")})
    brows = {code: upper[code] for code in ("AU01", "AU02")}
    preset = emotion.preset(opts.emotion, opts.strength)
    mixed = emotion.combine(speech, preset, brows, prosody_cap=PROSODY_CAP_DEFAULT)
    zeros = np.zeros(n_frames, np.float32)
    channels = {code: mixed.get(code, zeros) for code in AU_CODES}
    lap("emotion_ms")
    lm = None
    basis_source = None
    if opts.landmarks:
        basis = landmarks.load_basis()
        matrix = np.stack([channels[c] for c in AU_CODES], axis=1)
        lm = Landmarks(frames=basis.evaluate(matrix), head_size_m=basis.head_size_m)
        basis_source = basis.source
    lap("landmarks_ms")
    timings["total_ms"] = round((time.perf_counter() - started) * 1000.0, 3)
    meta: dict[str, Any] = {
        "model": getattr(model, "version", "unknown"),
        "device": getattr(model, "device", "cpu"),
        "server_version": __version__,
        "contract_version": CONTRACT_VERSION,
        "sample_rate": TARGET_RATE,
        "seed": opts.seed,
        "language": "auto",
        "duration_s": round(duration_s, 6),
        "silent": silent,
        "source": {"format": decoded.source_format, "sample_rate": decoded.source_rate,
                   "channels": decoded.source_channels},
        "emotion": {"name": opts.emotion, "strength": opts.strength,
                    "one_sided": emotion.one_sided(opts.emotion)},
        "options": {"fps": opts.fps, "blinks": opts.blinks, "prosody": opts.prosody,
                    "smoothing": opts.smoothing, "landmarks": opts.landmarks},
        "events": {"blinks": len(face.blink_times_s), "brow_raises": len(face.accent_times_s)},
        "landmark_basis": basis_source,
        "timing_ms": timings,
    }
    tracks = TrackSet(fps=opts.fps, frame_count=n_frames, duration_s=duration_s, channels=channels,
                      landmarks=lm, meta=meta)
    tracks.validate()
    return tracks


def _run_model(model: SpeechModel, samples: np.ndarray) -> np.ndarray:
    """Model AUs [ceil(N/160), len(MODEL_AUS)] at 100 Hz; long clips in chunks with context."""
    if tuple(model.channels) != MODEL_AUS:
        raise RuntimeError(f"model channels {model.channels} differ from the contract's {MODEL_AUS}")
    hop = prosody.HOP
    n100 = -(-samples.size // hop)
    chunk = int(CHUNK_S * TARGET_RATE) // hop * hop
    if samples.size <= chunk * 2:
        return np.asarray(model.predict(samples), np.float32)[:n100]
    context = int(CONTEXT_S * TARGET_RATE) // hop * hop
    out = np.zeros((n100, len(MODEL_AUS)), np.float32)
    for start in range(0, samples.size, chunk):
        lo = max(0, start - context)
        part = np.asarray(model.predict(samples[lo:start + chunk + context]), np.float32)
        first = (start - lo) // hop
        count = min(chunk // hop, n100 - start // hop)
        out[start // hop:start // hop + count] = part[first:first + count]
    return out


__all__ = ["EMOTIONS", "OptionsError", "PredictOptions", "get_model", "predict_tracks"]
