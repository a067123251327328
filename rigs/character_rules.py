"""Lip closure on a user's character: driver specs on top of the zone rules (pure, no bpy).

Speech keeps some jaw drop on fast bilabials: the acoustic model gives AU26 ~0.4 while AU24 is ~0.75 on
the /p/ of "map a bomb", which is how people speak (the lips close, the jaw stays a little open). The
default head's AU24 shape carries an exact closure field, so its lips meet anyway; a user's character
driven only through ``zone_rules.weighted_driver`` keeps ``jawOpen`` at 0.24 there and shows an open
mouth on every such /p/ /b/ /m/. Two remedies, chosen by ``rigs.arkit`` per character:

- **A lip-closing shape** (ARKit ``mouthClose``, which brings the lips together *against* ``jawOpen``:
  at equal values the lips meet, alone it pushes them through each other): driven as ``jawOpen * G``
  (:func:`closure_driver`).
- **No such shape** (a custom map, or ARKit names without ``mouthClose``): the terms of the opening AUs
  (``zone_rules.OPENING_AUS``) of every target are scaled by ``1 - G``, so the jaw itself shuts
  (:func:`gated_weighted_driver`).

``G = clamp((max(c23, c24, c28) - CLOSE_FROM) / (CLOSE_FULL - CLOSE_FROM), 0, 1)``, where CLOSE_FULL is the
add-on's "lips pressed" level (``quality.PRESSED_ABOVE``). Only arithmetic, ``min`` and ``max``: the
drivers stay simple expressions and evaluate without Python auto-run.
"""

from __future__ import annotations

from au_contract.zone_rules import (
    CLOSURE_VARS,
    OPENING_AUS,
    DriverSpec,
    _num,
    driver_spec,
    rule_expression,
    weighted_driver,
)

#: The lips start to close against the jaw when the strongest closure AU passes CLOSE_FROM and are shut
#: from CLOSE_FULL on (the model's AU24 sits around 0.3 next to a bilabial inside a vowel, 0.6-0.8 on it).
CLOSE_FROM = 0.25
CLOSE_FULL = 0.5


def closure_gate() -> str:
    """The expression of ``G`` (0..1) over the closure variables ``c23``, ``c24``, ``c28``."""
    k = 1.0 / (CLOSE_FULL - CLOSE_FROM)
    return f"min(1,max(0,{_num(k)}*max({','.join(CLOSURE_VARS.values())})-{_num(k * CLOSE_FROM)}))"


def gated_weighted_driver(weights: dict[str, float], side: str | None) -> DriverSpec:
    """``zone_rules.weighted_driver`` with the opening AUs' terms scaled by ``1 - G``.

    weights: AU code -> weight (``a26`` is the variable of AU26). Equal to ``weighted_driver`` when no
    opening AU feeds the target.
    """
    if not set(weights) & set(OPENING_AUS):
        return weighted_driver(weights, side)
    parts: list[str] = []
    opening: list[str] = []
    au_vars: dict[str, str] = {}
    used: set[str] = set(CLOSURE_VARS.values())
    for code, weight in sorted(weights.items()):
        var = "a" + code[2:]
        expr, u = rule_expression(code, side, a=var)
        used |= u
        au_vars[var] = code
        term = expr if weight == 1.0 else f"{_num(weight)}*{expr}"
        (opening if code in OPENING_AUS else parts).append(term)
    parts.append(f"({'+'.join(opening)})*(1-{closure_gate()})")
    return driver_spec("max(0,min(1," + "+".join(parts) + "))", au_vars, used)


def closure_driver(jaw_weights: dict[str, float]) -> DriverSpec:
    """Driver of a character's lip-closing shape (ARKit ``mouthClose``): its jawOpen value times ``G``.

    jaw_weights: AU code -> weight of the character's jawOpen target (``{"AU26": 0.6, "AU27": 1.0}``).
    Never exceeds the jawOpen value, so the lips never pass through each other.
    """
    jaw = weighted_driver(jaw_weights, None)
    au_vars = {v: p for v, p in jaw.variables if v[0] == "a" and v[1:].isdigit()}  # a26, a27; not ang, c24
    used = {v for v, _ in jaw.variables if v not in au_vars} | set(CLOSURE_VARS.values())
    return driver_spec(f"{jaw.expression}*{closure_gate()}", au_vars, used)
