"""The zone rules of DESIGN.md §4 as driver expressions (pure): one simple expression per shape key.

Variables (each a single-property driver variable on the control object):

- ``a``: the AU property (speech, blinks, prosody and hand edits), 0..1;
- one per emotion (``hap``, ``sad``, ``sur``, ``fea``, ``ang``, ``dis``, ``con``): the emotion props;
- ``p``: ``zone_prosody_cap``; ``w``: ``zone_blend_weight``; ``c23``, ``c24``, ``c28``: closure AUs.

With ``E`` = the emotion's contribution to this AU, ``min(1, sum_e k_e * emotion_e)`` (k from
``au_contract.EMOTION_PROTOTYPES``; one-sided emotions only on their side), ``S = min(1, sum of emotions)``
(how much any emotion is active) and ``C = max(c23, c24, c28)``:

- **Mouth (M)**, audio priority: ``a + E*(1 - a)``: the expression only fills what speech leaves. For the
  AUs that change the lip contact (``CLOSURE_GATED_AUS``: openings AU16, AU25, AU26, AU27, and fear's AU20,
  anger's AU23) the expression part is gated by ``G = max(0, 1 - 2.5*C)``: during a closure (p, b, m) an
  emotion's jaw drop or lip stretch is switched off and the lips close even under surprise or fear.
- **Upper (U)**, expression priority: ``min(1, E + min(a, p + (1 - p)*(1 - S)))``: with an emotion active,
  audio (prosody) adds at most ``p``; with no emotion the AU passes unchanged (hand edits keep full range).
  Blinks (AU43, AU45) are never capped: ``min(1, a + E)``.
- **Blend (B)**: ``a + (E - a*S)*w`` = ``(1 - w*S)*a + w*E``: a mix of speech and expression weighted by ``w``
  while an emotion is fully active, plain speech otherwise; linear in the emotion's strength (half strength,
  half the smile; ``E <= S`` keeps it in [0, 1]). AU10 (the upper lip raiser, disgust) lifts the upper lip
  off the lower one, so its expression part is gated too: ``a + (E*G - a*S)*w``. The other lip-moving blend
  AUs (AU12, AU14, AU15) move both lip edges together (``au_shapes.COMMON_MODE_AUS``), so a smile or frown
  keeps a closure.
  ``w`` defaults to ``BLEND_WEIGHT_DEFAULT`` = 0.8 (see ``au_contract``): the emotion dominates the cheeks and
  lip corners (a full smile at strength 1) while speech keeps a fifth of its say there.

With no emotion active every rule is the identity (``value == a``), which makes the landmark basis exact.
All expressions use only arithmetic, ``min`` and ``max``: Blender evaluates them as simple expressions,
without Python auto-run.
"""

from __future__ import annotations

from dataclasses import dataclass

from .action_units import (
    AU_BY_CODE,
    BLEND_WEIGHT_PROP,
    CLOSURE_AUS,
    EMOTION_PROPS,
    EMOTION_PROTOTYPES,
    ONE_SIDED,
    PROSODY_CAP_PROP,
)

#: Mouth AUs that open the lips or the jaw.
OPENING_AUS: tuple[str, ...] = ("AU16", "AU25", "AU26", "AU27")
#: AUs whose expression part is gated by the closure AUs: the openings, the stretcher and tightener (they
#: pull the lip edges apart or across each other) and the blend-zone upper lip raiser.
CLOSURE_GATED_AUS: tuple[str, ...] = (*OPENING_AUS, "AU10", "AU20", "AU23")
#: Upper-face AUs that are never capped (blinks come from the blink layer, not prosody).
BLINK_AUS: tuple[str, ...] = ("AU43", "AU45")
#: Steepness of the closure gate: an emotion's mouth opening is fully switched off once the strongest
#: closure AU reaches ``1 / CLOSURE_GAIN`` (0.4). The acoustic model's closure peaks sit around 0.6-1.0 on
#: real bilabials, so a linear ``1 - C`` gate would leave a third of, say, surprise's jaw drop in a /b/.
CLOSURE_GAIN = 2.5
#: Blender's limit on a driver expression's length.
MAX_EXPRESSION = 255

EMOTION_VARS: dict[str, str] = {e: e[:3].lower() for e in EMOTION_PROPS}
CLOSURE_VARS: dict[str, str] = {c: "c" + c[2:] for c in CLOSURE_AUS}


@dataclass(frozen=True)
class DriverSpec:
    """One driver: a simple expression and its single-property variables.

    Attributes:
        expression: the driver expression.
        variables: (variable name, custom property name on the control object) pairs.
    """

    expression: str
    variables: tuple[tuple[str, str], ...]


def _num(x: float) -> str:
    return f"{x:.4g}"


def emotion_terms(code: str, side: str | None) -> list[tuple[str, float]]:
    """(emotion, coefficient) pairs contributing to an AU on one side (None: both sides)."""
    out = []
    for emotion, proto in EMOTION_PROTOTYPES.items():
        if emotion not in EMOTION_PROPS or code not in proto:
            continue
        only = ONE_SIDED.get(emotion)
        if only is not None and side is not None and side != only:
            continue
        out.append((emotion, proto[code]))
    return out


def rule_expression(code: str, side: str | None, a: str = "a") -> tuple[str, set[str]]:
    """The zone-rule expression of one AU (one side) with ``a`` as the AU variable name.

    Returns: (expression, names of the shared variables it uses besides ``a``).
    """
    zone = AU_BY_CODE[code].zone
    terms = emotion_terms(code, side)
    used: set[str] = {EMOTION_VARS[e] for e, _ in terms}
    e_sum = "+".join(f"{_num(k)}*{EMOTION_VARS[e]}" for e, k in terms)
    e_expr = f"min(1,{e_sum})" if terms else ""
    s_expr = "min(1," + "+".join(EMOTION_VARS.values()) + ")"
    gate = f"max(0,1-{_num(CLOSURE_GAIN)}*max(" + ",".join(CLOSURE_VARS.values()) + "))"
    gated = bool(terms) and code in CLOSURE_GATED_AUS
    if gated:
        used |= set(CLOSURE_VARS.values())
    if zone == "M":
        if not terms:
            return a, used
        if gated:
            return f"({a}+{e_expr}*(1-{a})*{gate})", used
        return f"({a}+{e_expr}*(1-{a}))", used
    if zone == "U":
        if code in BLINK_AUS:
            return (f"min(1,{a}+{e_expr})" if terms else a), used
        used |= set(EMOTION_VARS.values()) | {"p"}
        return f"min(1,{e_expr + '+' if terms else ''}min({a},p+(1-p)*(1-{s_expr})))", used
    used |= set(EMOTION_VARS.values()) | {"w"}
    e_part = f"{e_expr}*{gate}" if gated else (e_expr or "0")
    return f"({a}+({e_part}-{a}*{s_expr})*w)", used


def shared_variables() -> dict[str, str]:
    """Variable name -> control-object property for every shared variable a rule may use."""
    out = {v: EMOTION_PROPS[e] for e, v in EMOTION_VARS.items()}
    out.update({v: c for c, v in CLOSURE_VARS.items()})
    out["p"] = PROSODY_CAP_PROP
    out["w"] = BLEND_WEIGHT_PROP
    return out


def driver_spec(expression: str, au_vars: dict[str, str], used: set[str]) -> DriverSpec:
    """A DriverSpec from an expression, its AU variables and the shared variables it uses.

    Raises:
        ValueError: if the expression is longer than Blender accepts.
    """
    if len(expression) > MAX_EXPRESSION:
        raise ValueError(f"driver expression too long ({len(expression)} chars): {expression}")
    shared = shared_variables()
    variables = tuple(sorted(au_vars.items())) + tuple((v, shared[v]) for v in sorted(used))
    return DriverSpec(expression, variables)


def shape_key_driver(code: str, side: str | None) -> DriverSpec:
    """Driver of the default head's shape key for ``code`` on ``side`` (None for unsided AUs)."""
    expression, used = rule_expression(code, side)
    return driver_spec(expression, {"a": code}, used)


def weighted_driver(weights: dict[str, float], side: str | None) -> DriverSpec:
    """Driver of a user's shape key that several AUs feed: ``min(1, sum_k w_k * rule_k)``, clamped at 0.

    weights: AU code -> weight. Each AU's rule uses its own variable (``a12`` for AU12).
    """
    parts, used, au_vars = [], set(), {}
    for code, weight in sorted(weights.items()):
        var = "a" + code[2:]
        expr, u = rule_expression(code, side, a=var)
        used |= u
        au_vars[var] = code
        parts.append(expr if weight == 1.0 else f"{_num(weight)}*{expr}")
    expression = "max(0,min(1," + "+".join(parts) + "))"
    return driver_spec(expression, au_vars, used)


def evaluate(spec: DriverSpec, props: dict[str, float]) -> float:
    """Evaluate a driver spec in Python (for tests and previews). props: property name -> value."""
    env = {name: float(props.get(prop, 0.0)) for name, prop in spec.variables}
    return float(eval(spec.expression, {"__builtins__": {}, "min": min, "max": max}, env))
