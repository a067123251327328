"""Vendor name sets and the character plan (rigs.name_sets, rigs.mapping): tolerant recognition, every
recognised name driven or at rest with a reason, unknown names with a suggestion, a complete ARKit-52."""

from __future__ import annotations

import pytest

from au_contract.zone_rules import MAX_EXPRESSION
from rigs.arkit import ARKIT_52
from rigs.mapping import TONGUE_REASON, plan_character
from rigs.name_sets import NAME_SETS, canonical, recognise


@pytest.mark.parametrize(("name", "target"), [
    ("eyeBlinkLeft", "eyeBlinkLeft"), ("blendShape1.EyeBlink_L", "eyeBlinkLeft"), ("A25_Jaw_Open", "jawOpen"),
    ("A14_Eye_Blink_Left", "eyeBlinkLeft"), ("Brow_Raise_Inner_L", "browInnerUp"), ("Jaw_Open", "jawOpen"),
    ("facs_bs_MouthSmileLeft_div2", "mouthSmileLeft"), ("facs_jnt_JawOpen", "jawOpen"),
    ("Eye_L_Look_L", "eyeLookOutLeft"), ("Eye_R_Look_L", "eyeLookInRight"),
    ("head|mouthPressRight", "mouthPressRight"),
])
def test_expression_names_reach_their_arkit_shape(name: str, target: str) -> None:
    role = recognise([name]).roles[name][2]
    assert role.kind in ("arkit", "aus") and role.target == target


def test_sides_are_the_characters() -> None:
    roles = recognise(["Brow_Raise_Inner_L", "Brow_Raise_Inner_R", "Mouth_Smile_Right"]).roles
    assert [r[2].side for r in roles.values()] == ["L", "R", "R"]
    assert canonical("eyeBlinkLeft") == canonical("EYE_BLINK_L") == canonical("eyeBlink_l")


def test_single_letters_go_to_the_set_that_knows_more_of_the_mesh() -> None:
    assert recognise(list("ABCDEFGHX")).sets == {"Preston Blair": 9}
    assert recognise(["A", "I", "U", "E", "O"]).sets == {"VRM": 5}


def test_unknown_names_come_with_a_suggestion() -> None:
    rec = recognise(["mouthSmileLeftt", "Key 1"])
    assert rec.unknown["mouthSmileLeftt"].startswith("mouthSmileLeft")
    assert rec.unknown["Key 1"] == ""


def test_arkit_52_is_complete_and_reported() -> None:
    plan = plan_character(list(ARKIT_52))
    assert len(plan.drivers) == 51 and plan.at_rest == {"tongueOut": TONGUE_REASON}
    assert plan.unmapped == [] and not plan.unrecognised
    assert all(len(d.expression) <= MAX_EXPRESSION for d in plan.drivers.values())
    assert plan.summary("Head").startswith("Drove 51 of 52 shape keys of 'Head' [ARKit-52 (52)]")
    assert "eye_look_h" in dict(plan.drivers["eyeLookOutLeft"].variables).values()


@pytest.mark.parametrize("name_set", NAME_SETS, ids=lambda s: s.name)
def test_every_name_of_every_set_is_driven_or_at_rest_with_a_reason(name_set) -> None:
    plan = plan_character(list(name_set.roles))
    assert not plan.unrecognised
    assert set(plan.drivers) | set(plan.at_rest) == set(name_set.roles)
    assert all(reason for reason in plan.at_rest.values())


def test_visemes_give_way_to_expression_shapes_and_the_reverse() -> None:
    rpm = plan_character([*ARKIT_52, "viseme_PP", "viseme_aa", "mouthOpen"])
    assert not rpm.visemes and "viseme_PP" in rpm.at_rest and "mouthOpen" in rpm.at_rest
    oculus = plan_character(["viseme_PP", "viseme_aa", "viseme_TH", "eyeBlinkLeft"])
    assert oculus.visemes and set(oculus.drivers) == {"viseme_PP", "viseme_aa", "eyeBlinkLeft"}
    assert "phone classes" in oculus.at_rest["viseme_TH"]


def test_nothing_recognised_says_so() -> None:
    plan = plan_character(["Key 1", "Smile"])
    assert not plan.drivers and set(plan.unrecognised) == {"Key 1", "Smile"}
