"""The mapping editor's pure side: edits over recognition, the stored diff, rows; recorded pose deltas."""

from __future__ import annotations

import math

import pytest

from au_contract.zone_rules import evaluate
from rigs.arkit import ARKIT_52, map_from_text, map_to_text
from rigs.bone_poses import delta_from_pose, pose_key, poses_from_json, poses_to_json, with_pose
from rigs.errors import MappingError
from rigs.mapping import edits_against, mapping_rows, plan_character, plan_map


def test_an_edited_weight_replaces_the_recognised_one_and_carries_the_closure() -> None:
    names = list(ARKIT_52)
    base = plan_character(names)
    table = plan_map(base)
    assert table["AU26"]["jawOpen"] == pytest.approx(0.6)
    table["AU26"]["jawOpen"] = 0.3
    edits = edits_against(base, table)
    assert edits == {"AU26": {"jawOpen": 0.3}, "AU27": {"jawOpen": 1.0}}, "only the changed key is kept"
    plan = plan_character(names, edits=map_from_text(map_to_text(edits)))
    props = {"AU26": 1.0}
    assert evaluate(plan.drivers["jawOpen"], props) == pytest.approx(0.3)
    assert evaluate(base.drivers["jawOpen"], props) == pytest.approx(0.6)
    closing = {"AU26": 1.0, "AU24": 1.0}  # mouthClose closes against the edited jaw, not the recognised one
    assert evaluate(plan.drivers["mouthClose"], closing) == pytest.approx(
        evaluate(plan.drivers["jawOpen"], closing), abs=1e-6)
    assert plan.roles["jawOpen"].endswith("(edited)") and plan.summary("x") == base.summary("x")


def test_edits_drive_unrecognised_names_and_report_absent_ones() -> None:
    plan = plan_character(["Smile_L", "Zork"], edits={"AU12": {"Smile_L": 0.8, "Nope": 1.0}})
    assert evaluate(plan.drivers["Smile_L"], {"AU12": 1.0}) == pytest.approx(0.8)
    assert "Smile_L" not in plan.unrecognised and "Zork" in plan.unrecognised
    assert plan.unknown == ["Nope"] and "AU12" not in plan.unmapped
    rows = mapping_rows(plan)
    assert [(r.au, r.target, r.weight, r.editable) for r in rows] == [("AU12", "Smile_L", 0.8, True)]


def test_a_recorded_pose_plays_back_the_recorded_rotation() -> None:
    angle = 0.4
    quat = (math.cos(angle / 2), math.sin(angle / 2), 0.0, 0.0)
    delta = delta_from_pose((0.002, 0.0, 0.004), quat, scale=2.0)
    assert delta is not None and delta.loc == pytest.approx((0.001, 0.0, 0.002))
    w, x = 1.0, delta.rot[0]  # what the driver sets: xyz with w at 1, normalised by Blender
    assert 2 * math.atan2(x, w) == pytest.approx(angle)
    negated = delta_from_pose((0.002, 0.0, 0.004), tuple(-c for c in quat), scale=2.0)
    assert negated == delta, "q and -q are the same rotation"
    assert delta_from_pose((0.0, 1e-9, 0.0), (1.0, 0.0, 0.0, 0.0)) is None
    poses = with_pose({}, pose_key("AU12", "L"), {"lip.L": delta})
    assert poses_from_json(poses_to_json(poses)) == poses
    assert with_pose(poses, "AU12_L", {}) == {}


def test_pose_keys_name_the_au_and_side() -> None:
    assert pose_key("AU26") == "AU26" and pose_key("AU12", "R") == "AU12_R"
    for code, side in (("AU99", ""), ("AU26", "L"), ("AU12", "X")):
        with pytest.raises(MappingError):
            pose_key(code, side)
