"""Real-world augmentation of 16 kHz training audio (numpy/scipy only, seeded).

* ``speed``: resampling by a factor 0.82-1.25 shifts pitch *and* formants together (a higher factor
  sounds like a smaller vocal tract: women, children) and changes tempo; phone times scale by
  ``1 / factor`` so labels stay exact.
* ``formant_shift``: moves the formants alone (pitch and timing kept) by warping the angles of the
  poles of a frame-wise LPC envelope and re-filtering the LPC residual (the source-filter model: the
  residual carries the glottal pulses, the all-pole filter the vocal tract). A factor above 1 is a
  shorter vocal tract. Combined with ``speed`` it gives pitch-only shifts too (speed 1.2 with formants
  x 1/1.2 keeps a man's vocal tract at a child's pitch). The factor may also vary with frequency
  (a smooth warp through knots at ``WARP_KNOTS_HZ``): real vocal tracts differ in shape, not only in
  length. Training applies a uniform factor through ``voice_shift`` (per-band warps were tried and
  did not help: see the model card).
* ``reverb``: a generated room impulse response: direct path at t = 0 (no label shift), a few early
  reflections, and an exponentially decaying noise tail with RT60 0.15-0.9 s (the statistical
  Schroeder/Polack room model), low-passed as air and walls absorb highs.
* ``noise``: white, pink, brown, mains hum or speech-shaped noise at an SNR of 30, 20, 10 or 5 dB
  (relative to the speech's active level).
* ``telephone``: band-limit to 300-3400 Hz through an 8 kHz round trip, with mild mu-law-like
  compression.
* ``channel``: a real speech codec round trip through ffmpeg (recipes with ``channel_share`` > 0 only):
  GSM 06.10 full rate at 8 kHz (libgsm), G.722 ADPCM at 16 kHz, plain 8 kHz linear (a 4 kHz band, no
  high-pass) or the ``telephone`` channel above. Telephone prompts and voicemail are coded this way; the
  real-speech development set is mostly GSM, 8 kHz and G.722 recordings.
* ``gain``: -30..+8 dB with hard clipping when it overflows.
"""

from __future__ import annotations

import subprocess

import numpy as np
from scipy.linalg import solve_toeplitz
from scipy.signal import butter, fftconvolve, lfilter, resample_poly, sosfilt

from model_server.features import SAMPLE_RATE

SNRS_DB: tuple[float, ...] = (30.0, 20.0, 10.0, 5.0)


def speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` (a multiple of 0.01) times faster: pitch, formants, tempo. [N] -> [N / factor]."""
    up = 100
    down = round(up * factor)
    g = np.gcd(up, down)
    return resample_poly(audio, up // g, down // g).astype(np.float32)


LPC_ORDER = 18  # 16 kHz: about one pole pair per kHz plus two for the glottal/radiation tilt
FORMANT_RANGE: tuple[float, float] = (0.86, 1.2)
WARP_KNOTS_HZ: tuple[float, ...] = (0.0, 800.0, 1800.0, 3000.0, 4500.0, 8000.0)  # F1 | F2 | F3 | F4 | air


def _lpc(frame: np.ndarray, order: int) -> np.ndarray | None:
    """Autocorrelation-method LPC polynomial [1, a1..ap] of a windowed frame, None when silent."""
    r = np.correlate(frame, frame, "full")[len(frame) - 1: len(frame) + order]
    if r[0] < 1e-9:
        return None
    r[0] *= 1.0 + 1e-6  # white-noise correction: keeps the Toeplitz system well conditioned
    return np.concatenate([[1.0], -solve_toeplitz(r[:-1], r[1:])])


def formant_shift(audio: np.ndarray, factor: float | np.ndarray, frame: int = 512, hop: int = 128
                  ) -> np.ndarray:
    """Scale the formant frequencies, keeping pitch and length. [N] -> [N] float32.

    Args:
        factor: one factor for all formants, or one per knot of ``WARP_KNOTS_HZ`` (linearly
            interpolated in between).
    """
    knots = np.asarray(WARP_KNOTS_HZ) * 2 * np.pi / SAMPLE_RATE
    factors = np.broadcast_to(np.asarray(factor, np.float64), knots.shape)
    x = np.pad(audio.astype(np.float64), (frame, frame))
    win = np.hanning(frame + 1)[:-1]  # periodic Hann: win**2 overlap-adds to a constant at hop frame/4
    out = np.zeros_like(x)
    norm = np.zeros_like(x)
    for start in range(0, len(x) - frame + 1, hop):
        seg = x[start: start + frame] * win
        a = _lpc(seg, LPC_ORDER)
        y = seg
        if a is not None:
            roots = np.roots(a)
            angle = np.angle(roots)
            scaled = np.abs(angle) * np.interp(np.abs(angle), knots, factors)
            warped = np.sign(angle) * np.clip(scaled, 0.0, np.pi - 0.02)
            moved = np.where(np.abs(roots.imag) > 1e-9, np.abs(roots) * np.exp(1j * warped), roots)
            a2 = np.real(np.poly(moved))
            y = lfilter([1.0], a2, lfilter(a, [1.0], seg))
            y *= np.sqrt((seg @ seg) / (y @ y + 1e-12))
        out[start: start + frame] += y * win
        norm[start: start + frame] += win ** 2
    out = out / np.maximum(norm, 1e-8)
    return out[frame: frame + len(audio)].astype(np.float32)


VOICE_SHIFT_P = 0.4  # share of augmented copies that get a new vocal-tract length


def voice_shift(audio: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """With probability ``VOICE_SHIFT_P * strength``, a formant shift by a log-uniform factor in
    ``FORMANT_RANGE`` (new vocal-tract lengths; on top of ``speed`` in :func:`augment` it also gives new
    pitch/formant pairs)."""
    if rng.random() >= VOICE_SHIFT_P * strength:
        return audio
    lo, hi = np.log(FORMANT_RANGE[0]), np.log(FORMANT_RANGE[1])
    return formant_shift(audio, float(np.exp(rng.uniform(lo, hi))))


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


#: The ``channel`` step's codecs: (name, sample rate, ffmpeg encoder, ffmpeg container); ``None``: no codec.
CHANNELS: tuple[tuple[str, int, str | None, str | None], ...] = (
    ("gsm", 8000, "libgsm", "gsm"),
    ("g722", 16000, "g722", "g722"),
    ("narrow8k", 8000, None, None),
    ("telephone", 8000, None, None),
)


def _ffmpeg_round_trip(audio: np.ndarray, rate: int, encoder: str, container: str) -> np.ndarray:
    """Encode ``audio`` (float32 at ``rate``) with an ffmpeg encoder and decode it again, same rate."""
    base = ["ffmpeg", "-hide_banner", "-loglevel", "error"]
    pcm = np.clip(audio * 32767.0, -32768, 32767).astype("<i2").tobytes()
    encode = [*base, "-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "-",
              "-c:a", encoder, "-f", container, "-"]
    coded = subprocess.run(encode, input=pcm, check=True, capture_output=True).stdout
    decode = [*base, "-f", container, "-i", "-", "-ar", str(rate), "-ac", "1", "-f", "s16le", "-"]
    raw = subprocess.run(decode, input=coded, check=True, capture_output=True).stdout
    out = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    return np.pad(out, (0, max(0, len(audio) - len(out))))[: len(audio)]


def channel(audio: np.ndarray, name: str) -> np.ndarray:
    """One of ``CHANNELS`` applied to 16 kHz audio; the same length comes back (G.722's delay is 22
    samples, 1.4 ms, the others' none: labels need no shift)."""
    spec = {c[0]: c for c in CHANNELS}[name]
    if name == "telephone":
        return telephone(audio)
    _, rate, encoder, container = spec
    x = resample_poly(audio, 1, 2) if rate == 8000 else np.asarray(audio, np.float64)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    scale = 0.9 / peak if peak > 0.9 else 1.0  # the codec sees no clipping it did not hear before
    y = _ffmpeg_round_trip(x * scale, rate, encoder, container) / scale if encoder and container else x
    out = resample_poly(y, 2, 1) if rate == 8000 else y
    return np.pad(out, (0, max(0, len(audio) - len(out))))[: len(audio)].astype(np.float32)


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


def augment(audio: np.ndarray, rng: np.random.Generator, strength: float = 1.0,
            applied: list[str] | None = None, channel_share: float = 0.0,
            channel_weights: tuple[float, ...] = ()) -> tuple[np.ndarray, float]:
    """A random augmentation chain.

    Args:
        audio: [N] float32 16 kHz clean speech.
        strength: probability scale of each step (0 = none).
        applied: when given, the names of the steps taken are appended (``speed<1``/``speed>1``,
            ``reverb``, ``telephone``, ``snr<dB>``, ``clipped``, ``channel=<name>``), for per-condition
            evaluation.
        channel_share: probability (times ``strength``) of a ``channel`` codec after the noise; when > 0
            it replaces the ``telephone`` step. 0 draws exactly the random numbers of the chain before
            the channel step existed (older recipes' frames stay the same).
        channel_weights: relative odds of each of ``CHANNELS`` for that codec; () = all alike (and the
            random numbers of the recipes before weights existed).

    Returns:
        (augmented audio [M], time_scale) where label times must be multiplied by ``time_scale``.
    """
    steps = applied if applied is not None else []
    scale = 1.0
    if rng.random() < 0.5 * strength:
        factor = round(float(rng.uniform(0.82, 1.25)), 2)  # speed() resamples by 100 / (100 factor)
        audio = speed(audio, factor)
        scale = 1.0 / factor
        steps.append("speed<1" if factor < 1 else "speed>1")
    if rng.random() < 0.4 * strength:
        audio = reverb(audio, rng)
        steps.append("reverb")
    if channel_share <= 0 and rng.random() < 0.15 * strength:
        audio = telephone(audio)
        steps.append("telephone")
    if rng.random() < 0.6 * strength:
        snr = float(rng.choice(SNRS_DB))
        audio = noise(audio, rng, snr)
        steps.append(f"snr{snr:.0f}")
    if channel_share > 0 and rng.random() < channel_share * strength:
        if channel_weights:
            odds = np.asarray(channel_weights, np.float64)
            name = CHANNELS[int(rng.choice(len(CHANNELS), p=odds / odds.sum()))][0]
        else:
            name = CHANNELS[int(rng.integers(len(CHANNELS)))][0]
        audio = channel(audio, name)
        steps.append(f"channel={name}")
    db = float(rng.uniform(-30, 8))
    if np.max(np.abs(audio)) * 10 ** (db / 20) > 1.0:
        steps.append("clipped")
    audio = gain(audio, db)
    return audio, scale
