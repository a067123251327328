"""Speech presence (pure): the mouth rests wherever nobody is speaking, even in steady noise.

The acoustic model is trained on synthetic voices; steady noise (fan hum, pink noise, a room tone) can
make it open the jaw a little (about 0.15 on the ALSA ``Noise.wav`` clip), and an energy gate does not
help there because noise is loud. The prosody tracker already knows better: its ``speech`` flag marks
frames well above the clip's own noise floor, and ``voiced`` marks frames with a pitch. Speech presence is
their union, held for ``HOLD_S`` on both sides (so unvoiced consonants before and after a voiced stretch,
and quiet phones between two loud ones, stay open) and smoothed so the mouth eases to rest instead of
snapping shut. The speech AUs are multiplied by it.

The hold keeps the mouth a little open through short pauses, which real speakers do not: the
``quiet_gate`` closes it anyway inside stretches of at least ``MIN_QUIET_S`` at the clip's noise floor
(recordings with a clear floor only: loud speech at least ``MIN_RANGE_DB`` above it).
"""

from __future__ import annotations

import numpy as np

from .filters import gaussian_smooth1d, moving_max
from .prosody import level_range

#: How long speech presence is held around each speech or voiced frame (s): long enough for a quiet
#: unvoiced consonant beside a voiced stretch, short enough that the mouth rests in a 300 ms pause
#: (0.25 until session 6: rest in pauses on the real-speech dev set 0.56 -> 0.67 with v12, speech-frame r
#: 0.466 -> 0.455, held-out TTS unchanged; docs/evaluation.md).
HOLD_S = 0.12
#: Standard deviation of the smoothing of the presence edges (s).
EASE_S = 0.03


def speech_presence(speech: np.ndarray, voiced: np.ndarray, frame_rate_hz: float) -> np.ndarray:
    """Speech presence in [0, 1] per frame.

    Args:
        speech: [T] bool, frames well above the noise floor (``prosody.ProsodyTrack.speech``).
        voiced: [T] bool, frames with a pitch (``prosody.ProsodyTrack.voiced``).
        frame_rate_hz: frames per second of both arrays.

    Returns:
        [T] float32: 1 within HOLD_S of any speech or voiced frame, easing to 0 elsewhere.
    """
    active = (np.asarray(speech, bool) | np.asarray(voiced, bool)).astype(np.float32)
    if active.size == 0:
        return active
    size = 2 * max(1, round(HOLD_S * frame_rate_hz)) + 1
    held = moving_max(active, size, mode="constant")
    # The ease (30 ms) is far shorter than the hold (250 ms): speech frames themselves stay at 1.
    eased = gaussian_smooth1d(held, EASE_S * frame_rate_hz, mode="nearest")
    return np.clip(eased, 0.0, 1.0).astype(np.float32)


#: A frame is quiet when its level is within this many dB of the clip's noise floor (10th percentile).
#: The speech flag needs 12 dB; between the two, a frame is neither (breath, a fading vowel's tail).
QUIET_MARGIN_DB = 8.0
#: Quiet stretches at least this long are pauses where the mouth rests, whatever the hold says (s): as long
#: as a long stop closure (50-120 ms), so a /t/ or /k/ inside a word does not shut the mouth. Session 7 on
#: the real-speech dev set with v12 (rest in pauses / speech r / jerk): no quiet gate 0.666 / 0.455 /
#: 1.128; 4 dB, 150 ms 0.735 / 0.456 / 1.134; 6 dB, 120 ms 0.777 / 0.457 / 1.146; 8 dB, 120 ms 0.800 /
#: 0.457 / 1.155; 8 dB, 100 ms 0.801 / 0.458 / 1.175. Held-out TTS unchanged (their pauses already rest).
MIN_QUIET_S = 0.12
#: Clips whose loud level is less than this far above their floor have no clear pauses: no quiet gate.
MIN_RANGE_DB = 20.0


def quiet_gate(energy_db: np.ndarray, frame_rate_hz: float) -> np.ndarray:
    """[T] float32 in [0, 1]: 0 inside stretches of at least ``MIN_QUIET_S`` at the noise floor, 1 elsewhere,
    eased over ``EASE_S``."""
    energy = np.asarray(energy_db, np.float64)
    gate = np.ones(energy.size, np.float32)
    floor, loud = level_range(energy)  # the 10th percentile: the quiet margin was set against it
    if loud - floor < MIN_RANGE_DB:
        return gate
    quiet = np.concatenate([[False], energy <= floor + QUIET_MARGIN_DB, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    min_len = round(MIN_QUIET_S * frame_rate_hz)
    for lo, hi in zip(edges[::2], edges[1::2], strict=True):
        if hi - lo >= min_len:
            gate[lo:hi] = 0.0
    eased = gaussian_smooth1d(gate, EASE_S * frame_rate_hz, mode="nearest")
    return np.clip(eased, 0.0, 1.0).astype(np.float32)
