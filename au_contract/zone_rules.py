"""The zone rules of DESIGN.md §4 (pure): one formula per shape key, written as driver expressions for the
rig and evaluated with numpy by the server, so both show the same face.

The rules are data (:class:`ZoneRule`, one per shape key of the default head: ``SHAPE_KEYS``, in contract
order, sided AUs as ``(code, "L")`` and ``(code, "R")``). Two renderings are made from each:

- :meth:`ZoneRule.expression`: a simple driver expression (arithmetic, ``min``, ``max``; at most
  ``MAX_EXPRESSION`` characters) that Blender evaluates without Python auto-run (:func:`shape_key_driver`,
  :func:`weighted_driver`);
- :func:`evaluate_rules`: every rule at once over frames, numpy. :func:`evaluate` runs a driver expression
  in Python, the slow readable twin; ``tests/pure/test_rig_zone_rules.py`` checks they agree.

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

**AU channels with an emotion** (the server's tracks): a track has one channel per AU, the value of that
AU's shape key on the default head (:func:`au_channels`). A sided AU's two keys agree except under a
one-sided emotion (``ONE_SIDED``: contempt pulls the character's left corner only); its channel is then the
mean of the two sides, and the landmarks are computed per shape key (``au_contract.basis``), so they are
exact all the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np

from .action_units import (
    ACTION_UNITS,
    AU_BY_CODE,
    AU_CODES,
    BLEND_WEIGHT_DEFAULT,
    BLEND_WEIGHT_PROP,
    CLOSURE_AUS,
    EMOTION_PROPS,
    EMOTION_PROTOTYPES,
    EMOTIONS,
    ONE_SIDED,
    PROSODY_CAP_DEFAULT,
    PROSODY_CAP_PROP,
)
from .errors import ContractError

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
#: The sides of a sided AU ("L" = the character's left, +x).
SIDES: tuple[str, ...] = ("L", "R")
#: Every shape key of the default head as (AU code, side or None), in contract order.
SHAPE_KEYS: tuple[tuple[str, str | None], ...] = tuple(
    (au.code, side) for au in ACTION_UNITS for side in (SIDES if au.sided else (None,)))

EMOTION_VARS: dict[str, str] = {e: e[:3].lower() for e in EMOTION_PROPS}
CLOSURE_VARS: dict[str, str] = {c: "c" + c[2:] for c in CLOSURE_AUS}

RuleKind = Literal["mouth", "upper", "blink", "blend"]


class ZoneRuleError(ContractError):
    """Bad input to the zone rules (unknown emotion, strength out of range, wrong array shape)."""


@dataclass(frozen=True)
class DriverSpec:
    """One driver: a simple expression and its single-property variables.

    Attributes:
        expression: the driver expression.
        variables: (variable name, custom property name on the control object) pairs.
    """

    expression: str
    variables: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ZoneRule:
    """The zone rule of one shape key (one AU, one side): the data both renderings are made from.

    Attributes:
        code: the AU code.
        side: ``"L"``/``"R"`` for a sided AU's key, None for an unsided AU (or both sides at once).
        kind: ``"mouth"``, ``"upper"`` (capped prosody), ``"blink"`` (never capped) or ``"blend"``.
        terms: (emotion, coefficient k) pairs feeding ``E = min(1, sum k * emotion)``.
        gated: whether the expression part is scaled by the closure gate ``G``.
    """

    code: str
    side: str | None
    kind: RuleKind
    terms: tuple[tuple[str, float], ...]
    gated: bool

    def expression(self, a: str = "a") -> tuple[str, set[str]]:
        """The driver expression of this rule with ``a`` as the AU variable's name.

        Returns:
            (expression, names of the shared variables it uses besides ``a``).
        """
        used: set[str] = {EMOTION_VARS[e] for e, _ in self.terms}
        e_sum = "+".join(f"{_num(k)}*{EMOTION_VARS[e]}" for e, k in self.terms)
        e_expr = f"min(1,{e_sum})" if self.terms else ""
        s_expr = "min(1," + "+".join(EMOTION_VARS.values()) + ")"
        gate = f"max(0,1-{_num(CLOSURE_GAIN)}*max(" + ",".join(CLOSURE_VARS.values()) + "))"
        if self.gated:
            used |= set(CLOSURE_VARS.values())
        if self.kind == "mouth":
            if not self.terms:
                return a, used
            return (f"({a}+{e_expr}*(1-{a})*{gate})" if self.gated else f"({a}+{e_expr}*(1-{a}))"), used
        if self.kind == "blink":
            return (f"min(1,{a}+{e_expr})" if self.terms else a), used
        used |= set(EMOTION_VARS.values())
        if self.kind == "upper":
            used.add("p")
            return f"min(1,{e_expr + '+' if self.terms else ''}min({a},p+(1-p)*(1-{s_expr})))", used
        used.add("w")
        e_part = f"{e_expr}*{gate}" if self.gated else (e_expr or "0")
        return f"({a}+({e_part}-{a}*{s_expr})*w)", used


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


def zone_rule(code: str, side: str | None) -> ZoneRule:
    """The rule of the shape key of ``code`` on ``side`` (None for unsided AUs).

    Raises:
        KeyError: if ``code`` is not an AU of the contract.
    """
    zone = AU_BY_CODE[code].zone
    terms = tuple(emotion_terms(code, side))
    kind: RuleKind = ("mouth" if zone == "M" else "blend" if zone == "B"
                      else "blink" if code in BLINK_AUS else "upper")
    return ZoneRule(code, side, kind, terms, gated=bool(terms) and code in CLOSURE_GATED_AUS)


#: The rule of every shape key, in ``SHAPE_KEYS`` order.
RULES: tuple[ZoneRule, ...] = tuple(zone_rule(code, side) for code, side in SHAPE_KEYS)


def rule_expression(code: str, side: str | None, a: str = "a") -> tuple[str, set[str]]:
    """The zone-rule expression of one AU (one side) with ``a`` as the AU variable name.

    Returns: (expression, names of the shared variables it uses besides ``a``).
    """
    return zone_rule(code, side).expression(a)


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


@dataclass(frozen=True)
class _RuleTables:
    """``RULES`` as arrays (R = len(RULES), N = len(EMOTION_PROPS))."""

    au_index: np.ndarray  # [R] int, column of each rule's AU in AU_CODES order
    coefficients: np.ndarray  # [N, R] k of each emotion (EMOTION_PROPS order) for each rule
    kinds: dict[str, np.ndarray]  # kind -> [R] bool
    gated: np.ndarray  # [R] bool
    channel_mean: np.ndarray  # [R, len(AU_CODES)]: shape-key values -> AU channels (mean of the sides)


@cache
def _tables() -> _RuleTables:
    emotions = list(EMOTION_PROPS)
    coefficients = np.zeros((len(emotions), len(RULES)))
    channel_mean = np.zeros((len(RULES), len(AU_CODES)))
    for r, rule in enumerate(RULES):
        for emotion, k in rule.terms:
            coefficients[emotions.index(emotion), r] = k
        channel_mean[r, AU_CODES.index(rule.code)] = 1.0
    channel_mean /= channel_mean.sum(axis=0, keepdims=True)
    kinds = {kind: np.array([rule.kind == kind for rule in RULES]) for kind in ("mouth", "upper", "blink",
                                                                                  "blend")}
    return _RuleTables(au_index=np.array([AU_CODES.index(rule.code) for rule in RULES]),
                       coefficients=coefficients, kinds=kinds,
                       gated=np.array([rule.gated for rule in RULES]), channel_mean=channel_mean)


def emotion_matrix(emotions: Mapping[str, float | np.ndarray], n_frames: int) -> np.ndarray:
    """Emotion property values per frame: float64 [F, len(EMOTION_PROPS)] in ``EMOTION_PROPS`` order.

    Args:
        emotions: emotion name (``au_contract.EMOTIONS``, upper case) -> strength 0..1, a number or [F];
            missing emotions are 0; ``NEUTRAL`` has no property and contributes nothing.
        n_frames: F.

    Raises:
        ZoneRuleError: an unknown emotion, a strength outside [0, 1] or not finite, a wrong length.
    """
    out = np.zeros((n_frames, len(EMOTION_PROPS)))
    for name, strength in emotions.items():
        if name not in EMOTIONS:
            raise ZoneRuleError(f"unknown emotion {name!r}; use one of: {', '.join(EMOTIONS)}")
        values = np.asarray(strength, dtype=np.float64)
        if values.ndim > 1 or (values.ndim == 1 and values.shape[0] != n_frames):
            raise ZoneRuleError(f"strength of {name} must be a number or [{n_frames}], got {values.shape}")
        if not (np.all(np.isfinite(values)) and np.all((values >= 0.0) & (values <= 1.0))):
            raise ZoneRuleError(f"strength of {name} must be between 0 and 1, got {strength!r}")
        if name in EMOTION_PROPS:
            out[:, list(EMOTION_PROPS).index(name)] = values
    return out


def evaluate_rules(aus: np.ndarray, emotions: Mapping[str, float | np.ndarray], *,
                   blend_weight: float = BLEND_WEIGHT_DEFAULT,
                   prosody_cap: float = PROSODY_CAP_DEFAULT) -> np.ndarray:
    """Every shape key's value per frame, as the rig's drivers compute it (the numpy rendering of ``RULES``).

    Args:
        aus: [F, len(AU_CODES)] the control object's AU property values (speech, blinks, prosody), 0..1.
        emotions: emotion name -> strength (see :func:`emotion_matrix`).
        blend_weight: ``zone_blend_weight`` (``w``), 0..1.
        prosody_cap: ``zone_prosody_cap`` (``p``), 0..1.

    Returns:
        float64 [F, len(SHAPE_KEYS)] shape-key values in ``SHAPE_KEYS`` order.

    Raises:
        ZoneRuleError: bad shapes or emotions.
    """
    aus = np.asarray(aus, dtype=np.float64)
    if aus.ndim != 2 or aus.shape[1] != len(AU_CODES):
        raise ZoneRuleError(f"aus must be [F, {len(AU_CODES)}] in AU_CODES order, got {aus.shape}")
    t = _tables()
    emo = emotion_matrix(emotions, aus.shape[0])  # [F, N]
    a = aus[:, t.au_index]  # [F, R]
    e = np.minimum(1.0, emo @ t.coefficients)  # [F, R]
    s = np.minimum(1.0, emo.sum(axis=1, keepdims=True))  # [F, 1]
    closure = aus[:, [AU_CODES.index(c) for c in CLOSURE_AUS]].max(axis=1, keepdims=True)  # [F, 1]
    gate = np.maximum(0.0, 1.0 - CLOSURE_GAIN * closure)  # [F, 1]
    e_gated = np.where(t.gated, e * gate, e)
    p, w = float(prosody_cap), float(blend_weight)
    mouth = a + e_gated * (1.0 - a)
    blink = np.minimum(1.0, a + e)
    upper = np.minimum(1.0, e + np.minimum(a, p + (1.0 - p) * (1.0 - s)))
    blend = a + (e_gated - a * s) * w
    return np.select([t.kinds["mouth"], t.kinds["blink"], t.kinds["upper"]], [mouth, blink, upper], blend)


def au_channels(values: np.ndarray) -> np.ndarray:
    """AU channels of shape-key values: each AU's key, the mean of its two sides for a sided AU.

    Args:
        values: [F, len(SHAPE_KEYS)] shape-key values (:func:`evaluate_rules`).

    Returns:
        float64 [F, len(AU_CODES)] in ``AU_CODES`` order.
    """
    if values.ndim != 2 or values.shape[1] != len(RULES):
        raise ZoneRuleError(f"values must be [F, {len(RULES)}] in SHAPE_KEYS order, got {values.shape}")
    return values @ _tables().channel_mean
