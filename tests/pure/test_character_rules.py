"""Lip closure on a user's character (rigs.character_rules, rigs.arkit): mouthClose follows the jaw during a
closure, never exceeds it; without a closing shape the jaw itself shuts."""

from __future__ import annotations

import itertools

import pytest

from au_contract import BLEND_WEIGHT_DEFAULT, BLEND_WEIGHT_PROP, PROSODY_CAP_DEFAULT, PROSODY_CAP_PROP
from au_contract.zone_rules import MAX_EXPRESSION, evaluate, weighted_driver
from rigs.arkit import ARKIT_52, arkit_target_map, custom_target_map
from rigs.character_rules import CLOSE_FROM, CLOSE_FULL, closure_driver, gated_weighted_driver

BASE = {BLEND_WEIGHT_PROP: BLEND_WEIGHT_DEFAULT, PROSODY_CAP_PROP: PROSODY_CAP_DEFAULT}
JAW = {"AU26": 0.6, "AU27": 1.0}


def test_mouth_close_follows_the_jaw_only_during_a_closure() -> None:
    close, jaw = closure_driver(JAW), weighted_driver(JAW, None)
    # the /p/ of "map a": speech keeps AU26 ~0.4 while AU24 presses the lips
    p = {**BASE, "AU26": 0.4, "AU24": 0.75}
    assert evaluate(close, p) == pytest.approx(evaluate(jaw, p)) == pytest.approx(0.24)
    assert evaluate(close, {**BASE, "AU26": 0.4, "AU24": CLOSE_FROM}) == 0.0
    half = evaluate(close, {**BASE, "AU26": 0.4, "AU24": 0.5 * (CLOSE_FROM + CLOSE_FULL)})
    assert half == pytest.approx(0.12)
    for a26, a27, c, sur in itertools.product((0, 0.5, 1), (0, 1), (0, 0.3, 0.6, 1), (0, 1)):
        props = {**BASE, "AU26": a26, "AU27": a27, "AU23": c, "emotion_surprise": sur}
        assert 0.0 <= evaluate(close, props) <= evaluate(jaw, props) + 1e-9


def test_gated_driver_shuts_the_opening_terms_only() -> None:
    spec = gated_weighted_driver({"AU16": 1.0, "AU25": 0.35, "AU10": 1.0}, "L")
    assert len(spec.expression) <= MAX_EXPRESSION
    speech = {**BASE, "AU16": 0.3, "AU25": 0.6, "AU10": 0.2}
    assert evaluate(spec, speech) == pytest.approx(evaluate(weighted_driver(
        {"AU16": 1.0, "AU25": 0.35, "AU10": 1.0}, "L"), speech))
    assert evaluate(spec, {**speech, "AU28": 0.9}) == pytest.approx(0.2), "only AU10's part stays"
    assert gated_weighted_driver({"AU12": 1.0}, "R") == weighted_driver({"AU12": 1.0}, "R")


def test_arkit_map_uses_mouth_close_when_present_else_gates() -> None:
    full = arkit_target_map(list(ARKIT_52))
    assert full.closures == {"mouthClose": JAW} and not full.gate_opening
    without = arkit_target_map([n for n in ARKIT_52 if n != "mouthClose"])
    assert without.closures == {} and without.gate_opening
    custom = custom_target_map({"AU26": {"JawDrop": 1.0}}, ["JawDrop"])
    assert custom.gate_opening and not custom.closures
