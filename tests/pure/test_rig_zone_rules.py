"""Zone rules (DESIGN.md §4): the driver expressions evaluated in Python, and their numpy twin."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from au_contract import (
    ACTION_UNITS,
    AU_CODES,
    BLEND_WEIGHT_DEFAULT,
    BLEND_WEIGHT_PROP,
    EMOTION_PROPS,
    EMOTION_PROTOTYPES,
    PROSODY_CAP_DEFAULT,
    PROSODY_CAP_PROP,
)
from au_contract.zone_rules import (
    MAX_EXPRESSION,
    RULES,
    SHAPE_KEYS,
    ZoneRuleError,
    au_channels,
    evaluate,
    evaluate_rules,
    shape_key_driver,
    weighted_driver,
)

BASE = {BLEND_WEIGHT_PROP: BLEND_WEIGHT_DEFAULT, PROSODY_CAP_PROP: PROSODY_CAP_DEFAULT}


def _drivers():
    for au in ACTION_UNITS:
        for side in (("L", "R") if au.sided else (None,)):
            yield au.code, side, shape_key_driver(au.code, side)


def test_every_expression_is_short_and_uses_only_min_max() -> None:
    for _, _, spec in _drivers():
        assert len(spec.expression) <= MAX_EXPRESSION
        names = {n for n, _ in spec.variables}
        stripped = spec.expression
        for word in sorted(names | {"min", "max"}, key=len, reverse=True):
            stripped = stripped.replace(word, "")
        assert set(stripped) <= set("0123456789.+-*()/, "), spec.expression


@pytest.mark.parametrize("a", [0.0, 0.3, 0.77, 1.0])
def test_identity_without_emotion(a: float) -> None:
    for code, _, spec in _drivers():
        assert evaluate(spec, {**BASE, code: a}) == pytest.approx(a), code


def test_closure_gates_surprise_jaw_drop() -> None:
    spec = shape_key_driver("AU26", None)
    jaw = EMOTION_PROTOTYPES["SURPRISE"]["AU26"]
    surprised = {**BASE, EMOTION_PROPS["SURPRISE"]: 1.0}
    assert evaluate(spec, surprised) == pytest.approx(jaw)
    for closure in ("AU23", "AU24", "AU28"):
        assert evaluate(spec, {**surprised, closure: 1.0}) == pytest.approx(0.0)
    # The gate is steep: a closure at 0.4 (1 / CLOSURE_GAIN) already removes the whole emotion opening,
    # a weak one (0.2) halves it.
    assert evaluate(spec, {**surprised, "AU24": 0.4}) == pytest.approx(0.0)
    assert evaluate(spec, {**surprised, "AU24": 0.2}) == pytest.approx(0.5 * jaw)


def test_closure_gates_every_lip_opening_expression() -> None:
    for emotion, code, side in (("FEAR", "AU20", "L"), ("ANGER", "AU23", None), ("DISGUST", "AU10", "R"),
                                ("DISGUST", "AU16", "L")):
        spec = shape_key_driver(code, side)
        props = {**BASE, EMOTION_PROPS[emotion]: 1.0}
        assert evaluate(spec, props) > 0.2
        assert evaluate(spec, {**props, "AU24": 1.0}) == pytest.approx(0.0), (emotion, code)
    # a smile is not gated: its shape keeps the lips' contact (au_shapes.COMMON_MODE_AUS)
    happy = {**BASE, EMOTION_PROPS["HAPPINESS"]: 1.0}
    spec = shape_key_driver("AU12", "L")
    assert evaluate(spec, {**happy, "AU24": 1.0}) == pytest.approx(evaluate(spec, happy))


def test_mouth_audio_priority() -> None:
    spec = shape_key_driver("AU26", None)
    v = evaluate(spec, {**BASE, EMOTION_PROPS["SURPRISE"]: 1.0, "AU26": 0.8})
    assert v == pytest.approx(0.8 + EMOTION_PROTOTYPES["SURPRISE"]["AU26"] * 0.2)


def test_upper_prosody_capped_under_emotion_blinks_not() -> None:
    spec = shape_key_driver("AU01", None)
    sad = {**BASE, EMOTION_PROPS["SADNESS"]: 1.0}
    raise01 = EMOTION_PROTOTYPES["SADNESS"]["AU01"]
    assert evaluate(spec, sad) == pytest.approx(raise01)
    assert evaluate(spec, {**sad, "AU01": 1.0}) == pytest.approx(min(1.0, raise01 + PROSODY_CAP_DEFAULT))
    angry = {**BASE, EMOTION_PROPS["ANGER"]: 1.0, "AU02": 1.0}
    assert evaluate(shape_key_driver("AU02", "L"), angry) == pytest.approx(PROSODY_CAP_DEFAULT)
    assert evaluate(shape_key_driver("AU45", "L"), {**angry, "AU45": 1.0}) == pytest.approx(1.0)


def test_blend_zone_mixes_with_weight_and_contempt_is_one_sided() -> None:
    smile = EMOTION_PROTOTYPES["HAPPINESS"]["AU12"]
    spec = shape_key_driver("AU12", "L")
    for strength in (0.5, 1.0):
        happy = {**BASE, EMOTION_PROPS["HAPPINESS"]: strength, "AU12": 0.2}
        for w in (0.0, 0.5, 1.0):
            got = evaluate(spec, {**happy, BLEND_WEIGHT_PROP: w})
            assert got == pytest.approx(0.2 + (smile * strength - 0.2 * strength) * w)
    # linear in the emotion's strength: half strength, half the smile (no speech)
    half = evaluate(spec, {**BASE, EMOTION_PROPS["HAPPINESS"]: 0.5})
    assert half == pytest.approx(0.5 * evaluate(spec, {**BASE, EMOTION_PROPS["HAPPINESS"]: 1.0}))
    assert BLEND_WEIGHT_DEFAULT >= 0.75, "an emotion must dominate the blend zone by default (a full smile)"
    contempt = {**BASE, EMOTION_PROPS["CONTEMPT"]: 1.0, BLEND_WEIGHT_PROP: 1.0}
    dimple = EMOTION_PROTOTYPES["CONTEMPT"]["AU14"]
    assert evaluate(shape_key_driver("AU14", "L"), contempt) == pytest.approx(dimple)
    assert evaluate(shape_key_driver("AU14", "R"), contempt) == pytest.approx(0.0)


def test_values_stay_in_unit_range() -> None:
    props = [{**BASE, **{p: v for p in EMOTION_PROPS.values()}, "AU26": a, "AU24": c}
             for v, a, c in itertools.product((0.0, 1.0), (0.0, 1.0), (0.0, 1.0))]
    for _, _, spec in _drivers():
        for p in props:
            assert -1e-9 <= evaluate(spec, p) <= 1.0 + 1e-9


def test_weighted_driver_sums_and_clamps() -> None:
    spec = weighted_driver({"AU26": 0.6, "AU27": 1.0}, None)
    assert evaluate(spec, {**BASE, "AU26": 1.0}) == pytest.approx(0.6)
    assert evaluate(spec, {**BASE, "AU26": 1.0, "AU27": 1.0}) == pytest.approx(1.0)


def _random_props(rng: np.random.Generator, n: int) -> list[dict[str, float]]:
    """Control-object properties: random AUs (some at 0 or 1), 0-3 emotions at random strengths."""
    out = []
    for _ in range(n):
        props = {code: float(rng.choice([0.0, 1.0, rng.uniform()], p=[0.2, 0.1, 0.7])) for code in AU_CODES}
        for emotion in rng.choice(list(EMOTION_PROPS), size=int(rng.integers(0, 4)), replace=False):
            props[EMOTION_PROPS[str(emotion)]] = float(rng.uniform())
        props[BLEND_WEIGHT_PROP] = float(rng.uniform())
        props[PROSODY_CAP_PROP] = float(rng.uniform())
        out.append(props)
    return out


def test_numpy_rules_equal_the_driver_expressions() -> None:
    """Reference twins: the server's numpy evaluator and the rig's driver expressions, every shape key."""
    assert len(RULES) == len(SHAPE_KEYS) == sum(2 if au.sided else 1 for au in ACTION_UNITS)
    rng = np.random.default_rng(7)
    for props in _random_props(rng, 60):
        aus = np.array([[props[c] for c in AU_CODES]])
        strengths = {e: props.get(p, 0.0) for e, p in EMOTION_PROPS.items()}
        got = evaluate_rules(aus, strengths, blend_weight=props[BLEND_WEIGHT_PROP],
                             prosody_cap=props[PROSODY_CAP_PROP])[0]
        want = [evaluate(shape_key_driver(code, side), props) for code, side in SHAPE_KEYS]
        np.testing.assert_allclose(got, want, atol=1e-12, err_msg=str(props))


def test_numpy_rules_per_frame_emotion_and_channels() -> None:
    """Strengths may vary per frame; AU channels are the shape-key values, sides averaged (contempt)."""
    n = 5
    aus = np.zeros((n, len(AU_CODES)))
    aus[:, AU_CODES.index("AU12")] = 0.2
    ramp = np.linspace(0.0, 1.0, n)
    keys = evaluate_rules(aus, {"CONTEMPT": ramp, "NEUTRAL": 1.0})
    left, right = SHAPE_KEYS.index(("AU12", "L")), SHAPE_KEYS.index(("AU12", "R"))
    for i, s in enumerate(ramp):
        props = {**BASE, "AU12": 0.2, EMOTION_PROPS["CONTEMPT"]: s}
        assert keys[i, left] == pytest.approx(evaluate(shape_key_driver("AU12", "L"), props))
        assert keys[i, right] == pytest.approx(evaluate(shape_key_driver("AU12", "R"), props))
    assert keys[-1, left] > keys[-1, right], "contempt lifts the left corner only"
    channels = au_channels(keys)
    np.testing.assert_allclose(channels[:, AU_CODES.index("AU12")], 0.5 * (keys[:, left] + keys[:, right]))
    np.testing.assert_allclose(channels[:, AU_CODES.index("AU26")], keys[:, SHAPE_KEYS.index(("AU26", None))])
    neutral = evaluate_rules(aus, {})
    np.testing.assert_array_equal(au_channels(neutral), aus)  # no emotion: the identity, exactly


@pytest.mark.parametrize(("emotions", "match"), [
    ({"HAPPY": 1.0}, "unknown emotion"), ({"SADNESS": 1.5}, "between 0 and 1"),
    ({"SADNESS": float("nan")}, "between 0 and 1"), ({"SADNESS": np.zeros(3)}, r"\[4\]"),
])
def test_numpy_rules_reject_bad_emotions(emotions: dict, match: str) -> None:
    with pytest.raises(ZoneRuleError, match=match):
        evaluate_rules(np.zeros((4, len(AU_CODES))), emotions)
    with pytest.raises(ZoneRuleError, match="AU_CODES"):
        evaluate_rules(np.zeros((4, 3)), {})
