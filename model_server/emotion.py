"""Emotion presets and the zone rules that mix them with speech (DESIGN.md §4), on the server side.

The preset of an emotion is ``strength * au_contract.EMOTION_PROTOTYPES[name]``, constant over
the clip. It is combined with the speech-driven layer (model AUs, blinks, prosody) zone by zone:

- **Mouth (M)**: speech has priority. ``out = max(speech, gate * emotion)`` where
  ``gate = 1 - max(closure AUs of speech)``: during a lip closure (AU23/AU24/AU28 high) an emotion's
  jaw drop or lip stretch is gated off, so p/b/m still close under "surprise".
- **Upper (U)**: expression has priority; prosody adds at most the prosody cap on top of it and never
  lowers it: ``out = emotion + min(prosody, cap) * (1 - emotion)``. Blinks (AU45/AU43) pass through.
- **Blend (B)**: a soft union ``out = s + w*e - s*w*e`` (``w`` = blend weight, default
  ``BLEND_WEIGHT_DEFAULT`` * 2 = 1.0 so a full-strength smile shows fully); never below speech alone.

Contempt is one-sided on the rig (``ONE_SIDED``); tracks have one channel per AU, so the server bakes
the prototype into both sides and reports ``meta.emotion.one_sided`` for the add-on.
"""

from __future__ import annotations

import numpy as np

from au_contract import (
    BLEND_WEIGHT_DEFAULT,
    CLOSURE_AUS,
    EMOTION_PROTOTYPES,
    EMOTIONS,
    ONE_SIDED,
    PROSODY_CAP_DEFAULT,
    zone_of,
)


class EmotionError(ValueError):
    """An unknown emotion name or a strength outside [0, 1]."""


def normalise_name(name: str) -> str:
    """Return the contract spelling of an emotion (case-insensitive: ``"happiness"`` -> ``"HAPPINESS"``).

    Raises:
        EmotionError: if ``name`` is not one of ``au_contract.EMOTIONS``.
    """
    key = str(name).strip().upper()
    if key not in EMOTIONS:
        raise EmotionError(f"unknown emotion {name!r}; use one of: {', '.join(EMOTIONS)}")
    return key


def preset(name: str, strength: float = 1.0) -> dict[str, float]:
    """AU values of an emotion at a strength.

    Args:
        name: an emotion of ``EMOTIONS`` (case-insensitive).
        strength: 0..1.

    Returns:
        AU code -> value in [0, 1] (only the AUs of the prototype).

    Raises:
        EmotionError: unknown name or strength outside [0, 1] / not finite.
    """
    key = normalise_name(name)
    if not (np.isfinite(strength) and 0.0 <= strength <= 1.0):
        raise EmotionError(f"emotion strength must be between 0 and 1, got {strength!r}")
    prototype = EMOTION_PROTOTYPES[key]
    return {code: float(np.clip(value * strength, 0.0, 1.0)) for code, value in prototype.items()}


def one_sided(name: str) -> str | None:
    """``"L"``/``"R"`` when the emotion's prototype applies to one side of the face only, else None."""
    return ONE_SIDED.get(normalise_name(name))


def combine(speech: dict[str, np.ndarray], emotion: dict[str, float],
            prosody: dict[str, np.ndarray] | None = None, prosody_cap: float = PROSODY_CAP_DEFAULT,
            blend_weight: float = 2.0 * BLEND_WEIGHT_DEFAULT) -> dict[str, np.ndarray]:
    """Mix speech, emotion and prosody per zone.

    Args:
        speech: AU code -> float32 [T]: model AUs (M, B) and blinks (AU45/AU43); every AU of the
            contract may appear; missing ones count as 0.
        emotion: AU code -> constant value (from :func:`preset`).
        prosody: AU code -> float32 [T] brow raises (upper zone), or None.
        prosody_cap: largest value prosody may add.
        blend_weight: weight ``w`` of the emotion in the blend zone (0..1).

    Returns:
        AU code -> float32 [T] in [0, 1] for every AU present in any input.
    """
    prosody = prosody or {}
    lengths = {v.shape[0] for v in (*speech.values(), *prosody.values())}
    if len(lengths) != 1:
        raise ValueError(f"all tracks must have the same length, got lengths {sorted(lengths)}")
    n = lengths.pop()
    zeros = np.zeros(n, np.float32)
    closure = np.max(np.stack([speech.get(c, zeros) for c in CLOSURE_AUS]), axis=0)
    gate = np.clip(1.0 - closure, 0.0, 1.0)
    w = float(np.clip(blend_weight, 0.0, 1.0))
    cap = float(np.clip(prosody_cap, 0.0, 1.0))
    out: dict[str, np.ndarray] = {}
    for code in sorted(set(speech) | set(emotion) | set(prosody)):
        s = speech.get(code, zeros)
        e = float(emotion.get(code, 0.0))
        zone = zone_of(code)
        if zone == "M":
            value = np.maximum(s, gate * e)
        elif zone == "B":
            value = s + w * e - s * w * e
        else:
            p = np.minimum(prosody.get(code, zeros), cap)
            value = np.maximum(s, e + p * (1.0 - e))
        out[code] = np.clip(value, 0.0, 1.0).astype(np.float32)
    return out
