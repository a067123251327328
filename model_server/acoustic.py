"""Model stage: the shipped acoustic model (ONNX) behind a small lazy onnxruntime wrapper.

``AcousticModel.load()`` finds ``model_server/weights/acoustic.onnx`` (or a given path), picks the CUDA
provider when onnxruntime offers it and the CPU provider otherwise, and ``predict`` turns 16 kHz mono
audio into per-frame mouth/blend AUs at 100 Hz, already through the learned smoothing head.

Weights trained with the auxiliary phone-class head also have an output ``phone_logits`` [1, T, P]
(columns: ``model_server.phonetics.PHONE_CLASSES``, named in the ``phone_classes`` metadata).
``predict_output`` returns it beside the AUs; weights without it (the shipped v10) give ``None`` there,
and the AUs never depend on it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from au_contract import MODEL_AUS
from model_server.errors import ModelServerError
from model_server.features import N_MELS, SAMPLE_RATE, log_mel, n_frames
from model_server.phonetics import PHONE_CLASSES
from model_server.views import PRECISE_FACTORS, mean_or_none, warped

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "acoustic.onnx"
TRAIN_COMMAND = "python -m model_training.train --recipe full"


class ModelNotFoundError(ModelServerError, RuntimeError):
    """The ONNX weights are missing or unreadable."""


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelNotFoundError(
            "onnxruntime is not installed: `pip install onnxruntime-gpu` (or `onnxruntime`) in the "
            "server's environment") from exc
    return onnxruntime


@dataclass(frozen=True)
class AcousticOutput:
    """Everything the network says about one clip, at 100 frames/s.

    Attributes:
        aus: [T, n_aus] float32 in [0, 1], after the smoothing head (what ``predict`` returns).
        raw: [T, n_aus] float32 in [0, 1], before the smoothing head.
        phone_logits: [T, len(PHONE_CLASSES)] float32 unnormalised phone-class scores, columns in
            ``PHONE_CLASSES`` order; ``None`` when the weights have no phone-class output.
        mel: [T, n_mels] the log-mel frames the network heard (:func:`model_server.features.log_mel`), when
            the output was made from audio (:meth:`AcousticModel.predict_output`); else ``None``.
    """

    aus: np.ndarray
    raw: np.ndarray
    phone_logits: np.ndarray | None = None
    mel: np.ndarray | None = None

    def phone_posteriors(self) -> np.ndarray | None:
        """[T, len(PHONE_CLASSES)] float32 per-frame class probabilities (softmax), or ``None``."""
        if self.phone_logits is None:
            return None
        z = self.phone_logits - self.phone_logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class AcousticModel:
    """Speech -> mouth/blend AUs (au_contract.MODEL_AUS order) at 100 frames/s.

    Attributes:
        channels: AU codes of the output columns, equal to ``MODEL_AUS``.
        frame_rate_hz: output frame rate (100.0).
        device: ``"cuda"`` or ``"cpu"``: the onnxruntime provider actually used.
        version: model version string from the ONNX metadata.
        phone_classes: ``PHONE_CLASSES`` when the weights have the ``phone_logits`` output (with matching
            ``phone_classes`` metadata), else ``None``.
    """

    def __init__(self, session: Any, meta: dict[str, str], device: str) -> None:
        self._session = session
        self.channels: tuple[str, ...] = tuple(meta.get("channels", "").split(","))
        if self.channels != MODEL_AUS:
            raise ModelNotFoundError(
                f"the weights predict {self.channels}, but this version of the AU contract needs "
                f"{MODEL_AUS}: retrain with `{TRAIN_COMMAND}`")
        self.frame_rate_hz = float(meta.get("frame_rate_hz", "100.0"))
        self.version: str = meta.get("version", "unknown")
        self.device = device
        self._n_mels = int(meta.get("n_mels", N_MELS))
        self._meta = meta
        self.phone_classes = _phone_classes(session, meta)

    def head_taps(self) -> np.ndarray:
        """[n_aus, K] taps of the learned smoothing head (from the ONNX metadata)."""
        return np.asarray(json.loads(self._meta["head_taps"]), np.float32)

    @classmethod
    def load(cls, path: Path | None = None, device: str = "auto") -> AcousticModel:
        """Open the ONNX weights.

        Args:
            path: the .onnx file; default ``model_server/weights/acoustic.onnx``.
            device: ``"auto"`` (CUDA when available), ``"cuda"`` or ``"cpu"``.

        Raises:
            ModelNotFoundError: if the file is missing/unreadable or onnxruntime is missing.
            ValueError: for an unknown ``device``.
        """
        if device not in ("auto", "cuda", "cpu"):
            raise ValueError(f"device must be 'auto', 'cuda' or 'cpu', got {device!r}")
        path = Path(path) if path is not None else DEFAULT_WEIGHTS
        if not path.is_file():
            raise ModelNotFoundError(
                f"acoustic model weights not found at {path}. They ship with the repository "
                f"(git checkout model_server/weights/acoustic.onnx, or git lfs pull); to train them "
                f"yourself run `{TRAIN_COMMAND}` (about 1.5 h on 2 CPU cores)")
        ort = _onnxruntime()
        available = ort.get_available_providers()
        want_cuda = device in ("auto", "cuda") and "CUDAExecutionProvider" in available
        if device == "cuda" and not want_cuda:
            log.warning("CUDA requested but onnxruntime has no CUDAExecutionProvider; using the CPU")
        providers = ["CPUExecutionProvider"]
        if want_cuda:
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelNotFoundError(f"cannot load acoustic model {path}: {exc}. Re-fetch the file or "
                                     f"retrain with `{TRAIN_COMMAND}`") from exc
        used = session.get_providers()
        meta = dict(session.get_modelmeta().custom_metadata_map)
        return cls(session, meta, "cuda" if used and used[0] == "CUDAExecutionProvider" else "cpu")

    def predict_features(self, mel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the network on log-mel frames.

        Args:
            mel: [T, n_mels] float32 from :func:`model_server.features.log_mel`.

        Returns:
            (aus [T, n_aus], raw [T, n_aus]) float32 in [0, 1]: after and before the smoothing head.
        """
        t = mel.shape[0]
        if t == 0:
            empty = np.zeros((0, len(self.channels)), np.float32)
            return empty, empty.copy()
        x = np.ascontiguousarray(mel, dtype=np.float32)[None]
        aus, raw = self._session.run(["aus", "raw"], {"mel": x})
        return np.clip(aus[0], 0.0, 1.0), np.clip(raw[0], 0.0, 1.0)

    def output_features(self, mel: np.ndarray) -> AcousticOutput:
        """Run the network on log-mel frames [T, n_mels] and return every output (see
        :class:`AcousticOutput`); the AUs equal :meth:`predict_features`'."""
        if self.phone_classes is None:
            return AcousticOutput(*self.predict_features(mel))
        if mel.shape[0] == 0:
            empty = np.zeros((0, len(self.channels)), np.float32)
            return AcousticOutput(empty, empty.copy(), np.zeros((0, len(self.phone_classes)), np.float32))
        x = np.ascontiguousarray(mel, dtype=np.float32)[None]
        aus, raw, phones = self._session.run(["aus", "raw", "phone_logits"], {"mel": x})
        return AcousticOutput(np.clip(aus[0], 0.0, 1.0), np.clip(raw[0], 0.0, 1.0),
                              np.asarray(phones[0], np.float32))

    def predict_output(self, audio_16k: np.ndarray) -> AcousticOutput:
        """Every output of the network for mono 16 kHz speech: AUs as :meth:`predict`, plus the phone-class
        logits [ceil(N / 160), len(PHONE_CLASSES)] when the weights have them (else ``None``) and the
        log-mel frames it heard.

        Raises:
            ValueError: if the audio is not one-dimensional or has non-finite samples.
        """
        mel = _log_mel_of(audio_16k)
        return replace(self.output_features(mel), mel=mel)

    def predict_views(self, audio_16k: np.ndarray, factors: tuple[float, ...] = PRECISE_FACTORS
                      ) -> AcousticOutput:
        """:meth:`predict_output` averaged over views of the recording (precise mode,
        :mod:`model_server.views`): the network hears the log-mel frames warped by each frequency factor;
        AUs, raw AUs and phone-class logits are averaged over the views (``mel`` is the unwarped frames).
        ``factors=(1.0,)`` gives exactly :meth:`predict_output`.

        Raises:
            ValueError: if the audio is not one-dimensional or has non-finite samples, or a bad factor.
        """
        mel = _log_mel_of(audio_16k)
        outs = [self.output_features(warped(mel, f)) for f in factors]
        aus, raw = mean_or_none([o.aus for o in outs]), mean_or_none([o.raw for o in outs])
        assert aus is not None and raw is not None
        return AcousticOutput(aus, raw, mean_or_none([o.phone_logits for o in outs]), mel)

    def predict(self, audio_16k: np.ndarray) -> np.ndarray:
        """Mouth/blend AUs of mono 16 kHz speech.

        Args:
            audio_16k: [N] float32 mono samples at 16 kHz (any length, including 0).

        Returns:
            [ceil(N / 160), len(channels)] float32 in [0, 1] at 100 Hz, smoothed.

        Raises:
            ValueError: if the audio is not one-dimensional or has non-finite samples.
        """
        mel = _log_mel_of(audio_16k)
        aus, _ = self.predict_features(mel)
        assert aus.shape[0] == n_frames(len(audio_16k))
        return aus


def _log_mel_of(audio_16k: np.ndarray) -> np.ndarray:
    """[T, n_mels] features of [N] mono 16 kHz audio (ValueError for other shapes or NaN samples)."""
    audio = np.asarray(audio_16k, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"predict expects mono {SAMPLE_RATE} Hz audio of shape [N], got {audio.shape}")
    return log_mel(audio)


def _phone_classes(session: Any, meta: dict[str, str]) -> tuple[str, ...] | None:
    """``PHONE_CLASSES`` if the session has a ``phone_logits`` output whose metadata names the same
    classes; ``None`` otherwise (older weights; a mismatch is logged and the output ignored)."""
    if "phone_logits" not in {o.name for o in session.get_outputs()}:
        return None
    named = tuple(meta.get("phone_classes", "").split(","))
    if named != PHONE_CLASSES:
        log.warning("the weights' phone classes %s are not this version's %s: phone output ignored",
                    named, PHONE_CLASSES)
        return None
    return PHONE_CLASSES
