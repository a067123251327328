"""The server's emotion option: name and strength checks (the mixing itself is ``au_contract.zone_rules``).

The server mixes an emotion into the tracks with the rig's own zone rules (``zone_rules.evaluate_rules``,
the same formulas the rig's drivers evaluate), so ``predict --emotion E --strength S`` gives the AU values
and landmarks the default head shows with neutral tracks keyed and ``emotion_<e> = S`` set on its control
object. This module only turns the request's emotion option into the rules' input.
"""

from __future__ import annotations

import math

from au_contract import EMOTIONS, ONE_SIDED

from .errors import ModelServerError


class EmotionError(ModelServerError, ValueError):
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


def strengths(name: str, strength: float) -> dict[str, float]:
    """The emotion properties of one request, ``{name: strength}``: the input of ``evaluate_rules``.

    Args:
        name: an emotion of ``EMOTIONS`` (case-insensitive); ``NEUTRAL`` gives no property.
        strength: 0..1.

    Raises:
        EmotionError: unknown name, or a strength outside [0, 1] or not finite.
    """
    key = normalise_name(name)
    if not (isinstance(strength, (int, float)) and math.isfinite(strength) and 0.0 <= strength <= 1.0):
        raise EmotionError(f"emotion strength must be between 0 and 1, got {strength!r}")
    return {} if key == "NEUTRAL" else {key: float(strength)}


def one_sided(name: str) -> str | None:
    """``"L"``/``"R"`` when the emotion's prototype applies to one side of the face only, else None."""
    return ONE_SIDED.get(normalise_name(name))
