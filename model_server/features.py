"""Features stage: mono 16 kHz audio -> level-normalised log-mel frames at 100 frames/s.

Frame ``k`` is centred on sample ``k * HOP_LENGTH`` (time ``k / 100`` s); a clip of ``N`` samples
gives ``ceil(N / HOP_LENGTH)`` frames. The mel filterbank is Slaney's (the same numbers as
``librosa.filters.mel``, computed here in numpy so the server runtime needs no librosa); the STFT is a
real FFT (numpy) over a periodic Hann window: a few milliseconds per second of audio.
``tests/pure/test_features_numpy.py`` checks both against librosa/scipy.

Level normalisation makes the model indifferent to recording gain: the log-mel is shifted so that the
loud end of the clip (95th percentile of the per-frame maximum) sits at 0 (but the reference never
drops below ``MIN_REF_DB``, so silence is not amplified into noise), floored ``FLOOR_DB`` below it.
Training (model_server.training) and inference call this same function.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
HOP_LENGTH = 160  # 100 frames/s
N_FFT = 512
N_MELS = 64
FMIN_HZ = 40.0
FMAX_HZ = 7600.0
FLOOR_DB = 80.0
#: Lowest reference level (mel power dB). Speech peaking at 0.7 full scale has a reference near +8 dB;
#: the floor keeps digital silence (-100 dB) exactly at the bottom of the range, as in training.
MIN_REF_DB = -20.0


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    hz = np.asarray(hz, np.float64)
    linear = hz / (200.0 / 3.0)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, linear)


def mel_to_hz(mels: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    mels = np.asarray(mels, np.float64)
    linear = mels * (200.0 / 3.0)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mels - 15.0))
    return np.where(mels >= 15.0, log_part, linear)


def mel_edges_hz(n_mels: int = N_MELS, fmin_hz: float = FMIN_HZ, fmax_hz: float = FMAX_HZ) -> np.ndarray:
    """[n_mels + 2] edge frequencies (Hz) of the mel filterbank's triangles, equally spaced in mel: band
    ``j`` rises from edge ``j``, peaks at edge ``j + 1`` (its centre) and falls to edge ``j + 2``."""
    return np.asarray(mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax_hz), n_mels + 2)))


def mel_filterbank(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS,
                   fmin_hz: float = FMIN_HZ, fmax_hz: float = FMAX_HZ) -> np.ndarray:
    """Slaney-normalised triangular mel filters (``librosa.filters.mel`` defaults: htk=False, norm="slaney").

    Returns:
        [n_mels, n_fft // 2 + 1] float32; each triangle has unit area in Hz (``2 / bandwidth`` peak).
    """
    fft_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)  # [F]
    edges_hz = mel_edges_hz(n_mels, fmin_hz, fmax_hz)  # [M + 2]
    widths = np.diff(edges_hz)  # [M + 1]
    ramps = edges_hz[:, None] - fft_hz[None, :]  # [M + 2, F]
    rising = -ramps[:-2] / widths[:-1, None]  # [M, F]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=1)
def _mel_basis() -> tuple[np.ndarray, np.ndarray]:
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann
    return np.ascontiguousarray(mel_filterbank().T), window  # [F, M], [N_FFT]


def n_frames(n_samples: int) -> int:
    """Number of feature frames for ``n_samples`` samples: ``ceil(n_samples / HOP_LENGTH)``."""
    return -(-int(n_samples) // HOP_LENGTH)


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Log-mel features of mono 16 kHz audio.

    Args:
        audio: [N] float mono samples at 16 kHz, nominally in [-1, 1]. Empty input is allowed.

    Returns:
        [T, N_MELS] float32 with ``T = ceil(N / 160)``; values in decibels / 20 relative to the clip's
        loud frames, in ``[-FLOOR_DB / 20, ~1]``.

    Raises:
        ValueError: if ``audio`` is not one-dimensional or holds non-finite values.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"log_mel expects mono audio of shape [N], got shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError("log_mel: audio contains NaN or infinite samples")
    t = n_frames(len(audio))
    if t == 0:
        return np.zeros((0, N_MELS), np.float32)
    basis, window = _mel_basis()
    half = N_FFT // 2
    padded = np.zeros((t - 1) * HOP_LENGTH + N_FFT, np.float32)
    padded[half:half + len(audio)] = audio
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH][:t]  # [T, N_FFT]
    spec = np.fft.rfft(frames * window, axis=1)  # [T, F] complex (complex128 with numpy 1.x)
    power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
    mel_db = 10.0 * np.log10(power @ basis + 1e-10)  # [T, M]
    peak = mel_db.max(axis=1)
    ref = max(float(np.percentile(peak, 95)), MIN_REF_DB)
    out = np.maximum(mel_db - ref, -FLOOR_DB) / 20.0
    return out.astype(np.float32)
