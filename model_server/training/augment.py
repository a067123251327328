"""Real-world augmentation of 16 kHz training audio (numpy/scipy only, seeded).

* ``speed``: resampling by a factor 0.82-1.25 shifts pitch *and* formants together (a higher factor
  sounds like a smaller vocal tract: women, children) and changes tempo; phone times scale by
  ``1 / factor`` so labels stay exact.
* ``reverb``: a generated room impulse response: direct path at t = 0 (no label shift), a few early
  reflections, and an exponentially decaying noise tail with RT60 0.15-0.9 s (the statistical
  Schroeder/Polack room model), low-passed as air and walls absorb highs.
* ``noise``: white, pink, brown, mains hum or speech-shaped noise at an SNR of 30, 20, 10 or 5 dB
  (relative to the speech's active level).
* ``telephone``: band-limit to 300-3400 Hz through an 8 kHz round trip, with mild mu-law-like
  compression.
* ``gain``: -30..+8 dB with hard clipping when it overflows.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

from model_server.features import SAMPLE_RATE

SNRS_DB: tuple[float, ...] = (30.0, 20.0, 10.0, 5.0)


def speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` (a multiple of 0.01) times faster: pitch, formants, tempo. [N] -> [N / factor]."""
    up = 100
    down = round(up * factor)
    g = np.gcd(up, down)
    return resample_poly(audio, up // g, down // g).astype(np.float32)


def room_impulse_response(rng: np.random.Generator, rt60_s: float) -> np.ndarray:
    """A synthetic RIR: [L] float32, direct path 1.0 at index 0."""
    length = int(min(1.2, rt60_s * 1.2) * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    decay = np.exp(-6.9078 * t / rt60_s)  # -60 dB at rt60
    tail = rng.standard_normal(length) * decay
    onset = int(rng.uniform(0.003, 0.015) * SAMPLE_RATE)
    tail[:onset] = 0.0
    sos = butter(2, rng.uniform(3000, 7000), "low", fs=SAMPLE_RATE, output="sos")
    tail = sosfilt(sos, tail)
    tail *= rng.uniform(0.15, 0.5) / (np.sqrt(np.sum(tail ** 2)) + 1e-9)
    rir = tail
    rir[0] = 1.0
    for _ in range(rng.integers(2, 6)):
        rir[int(rng.uniform(0.002, 0.03) * SAMPLE_RATE)] += rng.uniform(-0.5, 0.5)
    return rir.astype(np.float32)


def reverb(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a generated RIR (same length as the input)."""
    rir = room_impulse_response(rng, rng.uniform(0.15, 0.9))
    out = fftconvolve(audio, rir)[: len(audio)]
    return (out / (np.max(np.abs(out)) + 1e-9) * np.max(np.abs(audio))).astype(np.float32)


def _colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.arange(n // 2 + 1, dtype=np.float64)
    f[0] = 1.0
    noise = np.fft.irfft(spec / f ** (exponent / 2), n)
    return noise / (np.std(noise) + 1e-9)


def noise(audio: np.ndarray, rng: np.random.Generator, snr_db: float) -> np.ndarray:
    """Add noise at ``snr_db`` relative to the mean power of the active (non-silent) speech."""
    n = len(audio)
    kind = rng.integers(0, 5)
    if kind == 0:
        nz = rng.standard_normal(n)
    elif kind in (1, 2):
        nz = _colored_noise(rng, n, float(kind))  # pink, brown
    elif kind == 3:
        t = np.arange(n) / SAMPLE_RATE
        f0 = rng.choice([50.0, 60.0])
        nz = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 6))
        nz = nz + 0.3 * rng.standard_normal(n)
    else:  # speech-shaped: pink noise low-passed at 1 kHz, amplitude-modulated at syllable rate
        nz = sosfilt(butter(2, 1000, "low", fs=SAMPLE_RATE, output="sos"), _colored_noise(rng, n, 1.0))
        nz *= 1 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 6) * np.arange(n) / SAMPLE_RATE)
    active = audio[np.abs(audio) > 1e-3]
    p_speech = float(np.mean(active ** 2)) if len(active) else 1e-4
    nz = nz / (np.sqrt(np.mean(nz ** 2)) + 1e-12) * np.sqrt(p_speech / 10 ** (snr_db / 10))
    return (audio + nz).astype(np.float32)


def telephone(audio: np.ndarray) -> np.ndarray:
    """8 kHz telephone channel: 300-3400 Hz band, 8 kHz round trip, mild compression."""
    narrow = resample_poly(audio, 1, 2)
    narrow = sosfilt(butter(4, [300, 3400], "band", fs=8000, output="sos"), narrow)
    narrow = np.sign(narrow) * np.log1p(255 * np.abs(narrow)) / np.log1p(255) * 0.5
    return resample_poly(narrow, 2, 1)[: len(audio)].astype(np.float32)


def gain(audio: np.ndarray, db: float) -> np.ndarray:
    """Scale by ``db`` decibels and clip to [-1, 1]."""
    return np.clip(audio * 10 ** (db / 20), -1.0, 1.0).astype(np.float32)


def background(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A speech-free clip: noise, hum or reverberant noise bursts at a random level ([N] float32).

    Trains the model to keep the mouth at rest on non-speech sound (the level normalisation of the
    features makes any sound "loud", so only its spectral and temporal shape tells it from speech).
    """
    n = int(seconds * SAMPLE_RATE)
    carrier = np.zeros(n, np.float32)
    carrier[rng.integers(0, n, 8)] = 0.5  # a few clicks for the noise level reference
    out = noise(carrier, rng, float(rng.uniform(-10, 10)))
    if rng.random() < 0.3:
        out = reverb(out, rng)
    return gain(out / (np.max(np.abs(out)) + 1e-9) * 0.5, float(rng.uniform(-30, 6)))


def augment(audio: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> tuple[np.ndarray, float]:
    """A random augmentation chain.

    Args:
        audio: [N] float32 16 kHz clean speech.
        strength: probability scale of each step (0 = none).

    Returns:
        (augmented audio [M], time_scale) where label times must be multiplied by ``time_scale``.
    """
    scale = 1.0
    if rng.random() < 0.5 * strength:
        factor = round(float(rng.uniform(0.82, 1.25)), 2)  # speed() resamples by 100 / (100 factor)
        audio = speed(audio, factor)
        scale = 1.0 / factor
    if rng.random() < 0.4 * strength:
        audio = reverb(audio, rng)
    if rng.random() < 0.15 * strength:
        audio = telephone(audio)
    if rng.random() < 0.6 * strength:
        audio = noise(audio, rng, float(rng.choice(SNRS_DB)))
    audio = gain(audio, float(rng.uniform(-30, 8)))
    return audio, scale
