"""Speech presence (pure): the mouth rests wherever nobody is speaking, even in steady noise.

The acoustic model is trained on synthetic voices; steady noise (fan hum, pink noise, a room tone) can
make it open the jaw a little (about 0.15 on the ALSA ``Noise.wav`` clip), and an energy gate does not
help there because noise is loud. The prosody tracker already knows better: its ``speech`` flag marks
frames well above the clip's own noise floor, and ``voiced`` marks frames with a pitch. Speech presence is
their union, held for ``HOLD_S`` on both sides (so unvoiced consonants before and after a voiced stretch,
and quiet phones between two loud ones, stay open) and smoothed so the mouth eases to rest instead of
snapping shut. The speech AUs are multiplied by it.
"""

from __future__ import annotations

import numpy as np

from .filters import gaussian_smooth1d, moving_max

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
