"""Cheap prosody analysis at 100 Hz: frame energy, speech activity, pitch (f0) and pitch accents.

The upper-face layer needs to know where speech pauses (phrase boundaries, where people blink more) and
where the pitch peaks on a stressed word (where brows go up). A normalised autocorrelation pitch tracker
over 40 ms frames, computed with batched FFTs in chunks, is accurate enough for that and runs at several
thousand times real time, far cheaper than pYIN.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

FRAME_RATE = 100  # Hz, the model's output rate
HOP = 160  # samples at 16 kHz
WIN = 640  # 40 ms energy window at 16 kHz
PITCH_RATE = 8000  # pitch is tracked on a decimated copy: half the work, f0 < 420 Hz needs no more
PITCH_HOP = 80
PITCH_WIN = 320  # 40 ms: two periods of a 50 Hz voice
NFFT = 512  # >= PITCH_WIN + the longest lag: no circular wrap-around
F0_MIN_HZ = 65.0
F0_MAX_HZ = 420.0
_CHUNK_FRAMES = 512  # frames per FFT batch: ~1 MB of buffers, stays in cache
#: Voicing threshold on the normalised autocorrelation peak.
VOICING_THRESHOLD = 0.45
#: A speech frame is at least this far over the noise floor (:func:`speech_floor`) and at most
#: ``SPEECH_RANGE_DB`` under the clip's loud level. There is no fixed dBFS floor: the -55 dBFS one of
#: sessions 1-12 could only bind where the loud level was under -20 dBFS, so all it did was cut a quiet
#: recording's consonants (with the fixed -60 dBFS energy gate, ``pipeline.SILENCE_BELOW_LOUD_DB``).
SPEECH_OVER_FLOOR_DB = 12.0
SPEECH_RANGE_DB = 35.0
#: The speech flag's noise floor is never above the clip's quietest stretch of this length (s), averaged
#: in dB. The 10th percentile alone is no floor in a tightly trimmed line: with under a tenth of the clip
#: quiet, it lands inside the speech, a few dB under the loud level, and the flag (floor + 12 dB) then
#: dropped most of the vowels, so speech presence held the mouth shut through them (6 % of the speech
#: frames of Allison Smith's Spanish prompts, every frame of some). Real-speech development set, v16, audio
#: only: speech r 0.548 -> 0.570 (Allison 0.600 -> 0.665), rounding +0.003, false closures 0.141 -> 0.133,
#: rest in pauses 0.789 -> 0.784; held-out TTS unchanged (docs/evaluation.md, "Session 13"). Steady noise
#: has no quieter stretch than itself, so it still has no speech frames.
QUIETEST_STRETCH_S = 0.1


@dataclass
class ProsodyTrack:
    """Per-frame prosody, all arrays [T] at 100 Hz.

    Attributes:
        energy_db: frame RMS in dBFS.
        speech: True where the frame is speech (energy well above the noise floor).
        voiced: True where a pitch was found.
        f0_hz: fundamental frequency in Hz where voiced, 0 elsewhere.
    """

    energy_db: np.ndarray  # [T] float32
    speech: np.ndarray  # [T] bool
    voiced: np.ndarray  # [T] bool
    f0_hz: np.ndarray  # [T] float32


def frame_energy_db(samples: np.ndarray, n_frames: int) -> np.ndarray:
    """RMS level (dBFS) of 40 ms windows centred on ``t * 160`` samples: float32 [n_frames].

    A window is four consecutive 160-sample hops, so the energy is summed once per hop (float32 within
    a hop, float64 across hops) and each window adds four hop sums: one pass over the audio.
    """
    if n_frames <= 0:
        return np.zeros(0, np.float32)
    pad = WIN // 2
    hops_per_win = WIN // HOP
    n_hops = n_frames + hops_per_win - 1
    padded = np.zeros(n_hops * HOP, np.float32)
    chunk = np.asarray(samples[: padded.size - pad], np.float32)
    padded[pad:pad + chunk.size] = chunk
    rows = padded.reshape(n_hops, HOP)
    hop_energy = np.einsum("ij,ij->i", rows, rows).astype(np.float64)  # [n_hops]
    power = hop_energy[:n_frames].copy()
    for k in range(1, hops_per_win):
        power += hop_energy[k:k + n_frames]
    power /= WIN
    return (10.0 * np.log10(power + 1e-12)).astype(np.float32)


def level_range(energy_db: np.ndarray) -> tuple[float, float]:
    """(noise floor, loud level) of a clip in dB: the 10th and 95th percentiles of its frame levels
    (-120 dB each for no frames)."""
    if not len(energy_db):
        return -120.0, -120.0
    floor, loud = np.percentile(energy_db, [10, 95])
    return float(floor), float(loud)


def speech_floor(energy_db: np.ndarray, floor: float) -> float:
    """The noise floor the speech flag is measured from (dB): the lower of ``floor`` (the 10th percentile of
    the frame levels, :func:`level_range`) and the mean level of the quietest ``QUIETEST_STRETCH_S``
    stretch."""
    size = max(1, round(QUIETEST_STRETCH_S * FRAME_RATE))
    energy = np.asarray(energy_db, np.float64)
    if energy.size >= size:
        floor = min(floor, float(np.convolve(energy, np.full(size, 1.0 / size), mode="valid").min()))
    return floor


def analyse(samples: np.ndarray, n_frames: int, sample_rate: int = 16000, pitch: bool = True) -> ProsodyTrack:
    """Analyse mono 16 kHz speech.

    Args:
        samples: float32 [N], mono, 16 kHz.
        n_frames: number of 100 Hz frames T to return (frame t is centred at ``t / 100`` s).
        sample_rate: must be 16000.
        pitch: False skips the pitch search (most of the cost): ``voiced`` and ``f0_hz`` are then all zero,
            ``energy_db`` and ``speech`` unchanged.

    Returns:
        The per-frame prosody track.
    """
    if sample_rate != 16000:
        raise ValueError(f"prosody analysis expects 16 kHz audio, got {sample_rate} Hz")
    energy = frame_energy_db(samples, n_frames)
    floor, loud = level_range(energy)
    threshold = max(speech_floor(energy, floor) + SPEECH_OVER_FLOOR_DB, loud - SPEECH_RANGE_DB)
    speech = energy > threshold
    f0 = np.zeros(n_frames, np.float32)
    clarity = np.zeros(n_frames, np.float32)
    todo = np.flatnonzero(speech) if pitch else np.zeros(0, np.int64)  # pitch only where there is speech
    if todo.size:
        windows = _pitch_windows(samples, n_frames, sample_rate)
        for start in range(0, todo.size, _CHUNK_FRAMES):
            idx = todo[start:start + _CHUNK_FRAMES]
            f0[idx], clarity[idx] = _pitch(windows[idx])
    voiced = speech & (clarity > VOICING_THRESHOLD)
    f0 = np.where(voiced, f0, 0.0).astype(np.float32)
    return ProsodyTrack(energy_db=energy, speech=speech, voiced=voiced, f0_hz=f0)


def _pitch_windows(samples: np.ndarray, n_frames: int, sample_rate: int) -> np.ndarray:
    """A strided view [n_frames, PITCH_WIN] of the 8 kHz signal, window t centred on ``t / 100`` s."""
    import soxr

    x8 = np.asarray(soxr.resample(samples, sample_rate, PITCH_RATE, quality="LQ"), np.float32)
    pad = PITCH_WIN // 2
    padded = np.zeros(n_frames * PITCH_HOP + PITCH_WIN, np.float32)
    part = x8[: padded.size - pad]
    padded[pad:pad + part.size] = part
    return np.lib.stride_tricks.sliding_window_view(padded, PITCH_WIN)[::PITCH_HOP][:n_frames]


@lru_cache(maxsize=1)
def _pitch_constants() -> tuple[np.ndarray, np.ndarray]:
    """The Hann window [PITCH_WIN] and its normalised autocorrelation [lag_max + 2], float32."""
    window = np.hanning(PITCH_WIN).astype(np.float32)
    lag_max = int(PITCH_RATE / F0_MIN_HZ)
    # Autocorrelation of the window itself, to unbias the lag-dependent taper.
    win_ac = np.fft.irfft(np.abs(np.fft.rfft(window, NFFT)) ** 2)[: lag_max + 2]
    win_ac = np.maximum(win_ac / win_ac[0], 1e-3).astype(np.float32)
    window.flags.writeable = False
    win_ac.flags.writeable = False
    return window, win_ac


def _pitch(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised-autocorrelation pitch of 8 kHz frames.

    Args:
        frames: float32 [C, PITCH_WIN] raw (not yet windowed) frames.

    Returns:
        ``(f0_hz, clarity)``: float [C] each; clarity is the normalised autocorrelation peak.
    """
    window, win_ac = _pitch_constants()
    lag_min = int(PITCH_RATE / F0_MAX_HZ)
    lag_max = int(PITCH_RATE / F0_MIN_HZ)
    # Window into a zeroed [C, NFFT] buffer (the FFT pads nothing), then take the power spectrum as
    # complex (|X|^2 + 0j, exact) so the inverse FFT converts nothing. numpy's FFT (pocketfft, as
    # scipy's) keeps the server free of scipy.
    buf = np.zeros((frames.shape[0], NFFT), np.float32)
    head = buf[:, :PITCH_WIN]
    np.subtract(frames, frames.mean(axis=1, keepdims=True), out=head)
    head *= window
    spec = np.fft.rfft(buf, axis=1)  # [C, NFFT / 2 + 1] complex (complex128 with numpy 1.x)
    power = np.multiply(spec, spec.conj(), out=spec)
    ac = np.fft.irfft(power, NFFT, axis=1)[:, : lag_max + 2].astype(np.float32)  # [C, L]
    ac = ac / (np.maximum(ac[:, :1], 1e-12) * win_ac[None, :])
    rows = np.arange(ac.shape[0])
    lag = np.argmax(ac[:, lag_min:lag_max + 1], axis=1) + lag_min
    peak, left, right = ac[rows, lag], ac[rows, lag - 1], ac[rows, lag + 1]
    denom = left - 2 * peak + right
    ok = np.abs(denom) > 1e-9
    shift = np.where(ok, 0.5 * (left - right) / np.where(ok, denom, 1.0), 0.0)
    return PITCH_RATE / (lag + np.clip(shift, -0.5, 0.5)), peak


def phrase_boundaries(speech: np.ndarray, min_pause_frames: int = 15) -> np.ndarray:
    """Frames where a pause of at least ``min_pause_frames`` starts after speech.

    Args:
        speech: bool [T] speech activity at 100 Hz.
        min_pause_frames: shortest pause counted as a boundary (15 = 150 ms).

    Returns:
        int array [B] of frame indices (first silent frame of each pause), ascending.
    """
    if speech.size == 0 or not speech.any():
        return np.zeros(0, np.int64)
    s = speech.astype(np.int8)
    edges = np.diff(np.concatenate([[0], s, [0]]))
    starts = np.flatnonzero(edges == 1)  # speech run starts
    ends = np.flatnonzero(edges == -1)  # first frame after each speech run
    out = []
    for i, end in enumerate(ends):
        next_start = starts[i + 1] if i + 1 < len(starts) else speech.size
        if next_start - end >= min_pause_frames or next_start == speech.size:
            out.append(end)
    return np.asarray(out, np.int64)


def pitch_accents(track: ProsodyTrack, min_rise_st: float = 1.5,
                  min_gap_frames: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Find pitch accents: local f0 peaks clearly above the speaker's median, on loud voiced frames.

    Args:
        track: the prosody track.
        min_rise_st: how far (semitones) above the utterance median a peak must rise.
        min_gap_frames: minimum spacing between accents (40 = 0.4 s).

    Returns:
        ``(frames, strengths)``: int [A] peak frame indices and float32 [A] strengths in [0, 1].
    """
    voiced = track.voiced
    if voiced.sum() < 10:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    semitones = np.zeros(voiced.size, np.float32)
    median = float(np.median(track.f0_hz[voiced]))
    semitones[voiced] = 12.0 * np.log2(track.f0_hz[voiced] / median)
    # Smooth within voiced regions (normalised convolution) so octave slips and jitter do not count.
    kernel = np.exp(-0.5 * (np.arange(-8, 9) / 4.0) ** 2).astype(np.float32)
    num = np.convolve(semitones * voiced, kernel, mode="same")
    den = np.convolve(voiced.astype(np.float32), kernel, mode="same")
    smooth = np.where(den > 0.3, num / np.maximum(den, 1e-6), -np.inf)
    loud = track.energy_db > (np.max(track.energy_db[voiced]) - 18.0)
    candidates = np.flatnonzero(voiced[1:-1] & loud[1:-1] & (smooth[1:-1] >= smooth[:-2])
                                & (smooth[1:-1] > smooth[2:]) & (smooth[1:-1] > min_rise_st)) + 1
    order = candidates[np.argsort(-smooth[candidates])]
    chosen: list[int] = []
    for c in order:
        if all(abs(int(c) - k) >= min_gap_frames for k in chosen):
            chosen.append(int(c))
    frames = np.asarray(sorted(chosen), np.int64)
    strengths = np.clip((smooth[frames] - min_rise_st) / 4.0 + 0.25, 0.0, 1.0).astype(np.float32)
    return frames, strengths
