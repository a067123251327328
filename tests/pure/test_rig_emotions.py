"""Emotions read clearly at strength 1 on the default head, measured through the zone rules (mm).

A regression to faint emotions (weak AU shapes, low prototype intensities, a low blend weight) fails here;
so does a stronger emotion that breaks a lip closure, tears the mesh or pushes skin into the eyeballs.
"""

from __future__ import annotations

import numpy as np
import pytest

from au_contract import EMOTION_PROPS
from rigs.head_build import hm08
from rigs.head_build.default_head import HeadData, build_head_data
from rigs.head_build.emotion_metrics import control_props, emotion_table, measure, pose
from rigs.head_build.head_source import HeadSource, load_head_source


@pytest.fixture(scope="module")
def src() -> HeadSource:
    return load_head_source()


@pytest.fixture(scope="module")
def head(src: HeadSource) -> HeadData:
    return build_head_data(src)


@pytest.fixture(scope="module")
def table(head: HeadData) -> dict[str, dict[str, float]]:
    return emotion_table(head, 1.0)


def test_happiness_smiles_with_cheek_raise(table: dict[str, dict[str, float]]) -> None:
    t = table["HAPPINESS"]
    assert t["corner_raise"] >= 7.0 and t["corner_spread"] >= 8.0  # corners pulled up and back
    assert t["eye_aperture"] <= -1.5  # AU06 pushes the lower lids up: the eyes narrow
    assert abs(t["inner_brow_raise"]) < 0.5  # brows untouched


def test_sadness_inner_brows_up_corners_down(table: dict[str, dict[str, float]]) -> None:
    t = table["SADNESS"]
    assert t["inner_brow_raise"] >= 4.0 and t["inner_brow_raise"] - t["outer_brow_raise"] >= 5.0  # oblique
    assert t["brow_knit"] >= 2.0
    assert t["corner_raise"] <= -4.0


def test_surprise_brows_eyes_jaw(table: dict[str, dict[str, float]]) -> None:
    t = table["SURPRISE"]
    assert t["inner_brow_raise"] >= 5.5 and t["outer_brow_raise"] >= 7.0
    assert t["eye_aperture"] >= 2.5
    assert t["jaw_drop"] >= 7.0


def test_fear_raised_knit_brows_wide_eyes_stretched_lips(table: dict[str, dict[str, float]]) -> None:
    t = table["FEAR"]
    assert t["inner_brow_raise"] >= 2.5 and t["brow_knit"] >= 3.5
    assert t["eye_aperture"] >= 1.5
    assert t["corner_spread"] >= 5.0 and t["jaw_drop"] >= 3.5


def test_anger_lowers_and_knits_brows(table: dict[str, dict[str, float]]) -> None:
    t = table["ANGER"]
    assert t["inner_brow_raise"] <= -4.0 and t["outer_brow_raise"] <= -5.0
    assert t["brow_knit"] >= 7.0
    assert t["upper_lip_raise"] <= -1.0  # AU23 tightens the lips


def test_disgust_wrinkles_nose_and_lifts_upper_lip(table: dict[str, dict[str, float]]) -> None:
    t = table["DISGUST"]
    assert t["upper_lip_raise"] >= 2.5 and t["nose_wrinkle"] >= 1.0
    assert t["brow_knit"] >= 4.0


def test_contempt_is_a_one_sided_smile(head: HeadData) -> None:
    posed = pose(head, control_props("CONTEMPT"))
    rise = 1000.0 * (posed[head.landmarks[[54, 48]], 2] - head.verts[head.landmarks[[54, 48]], 2])
    assert rise[0] >= 5.0 and abs(rise[1]) <= 0.5  # character's left corner (+x, landmark 54) only


def test_half_strength_is_weaker_but_visible(head: HeadData, table: dict[str, dict[str, float]]) -> None:
    half = measure(head, control_props("HAPPINESS", 0.5))["corner_raise"]
    assert 3.0 <= half < table["HAPPINESS"]["corner_raise"]


def test_no_emotion_is_the_neutral_face(head: HeadData) -> None:
    assert all(v == 0.0 for v in measure(head, control_props()).values())


def _closure_error(co: np.ndarray, src: HeadSource) -> float:
    """Largest y/z distance (m) of the upper lip edge from the lower lip edge's polyline, in x."""
    up, lo = np.asarray(src.lip_ring.upper), np.asarray(src.lip_ring.lower)
    order = np.argsort(co[lo, 0])
    return max(float(np.abs(co[up, k] - np.interp(co[up, 0], co[lo[order], 0], co[lo[order], k])).max())
               for k in (1, 2))


@pytest.mark.parametrize("emotion", sorted(EMOTION_PROPS))
def test_lip_pressor_closes_under_every_emotion(head: HeadData, src: HeadSource, emotion: str) -> None:
    assert _closure_error(pose(head, control_props(emotion, AU24=1.0)), src) < 2e-4  # 0.2 mm
    open_err = _closure_error(pose(head, control_props(emotion)), src)
    assert open_err > 1e-3  # the check can fail: without the closure the edges are apart


def test_no_tearing_folding_or_skin_in_the_eyeballs(head: HeadData, src: HeadSource) -> None:
    rest = head.verts.astype(np.float64)
    edges = np.concatenate([head.faces[:, [k, (k + 1) % 4]] for k in range(4)])
    rest_len = np.linalg.norm(rest[edges[:, 0]] - rest[edges[:, 1]], axis=1)
    # the skin and the hair shell grown from it (appended after the source mesh's faces and vertices)
    body_faces = np.ones(len(head.faces), bool)
    body_faces[:len(src.faces)] = [g == "body" for g in src.face_groups]
    body_verts = np.zeros(len(head.verts), bool)
    body_verts[:len(src.verts)] = src.body_mask
    origin = 0.5 * (src.eye_centres["L"] + src.eye_centres["R"])
    centres = [hm08.to_blender(c - origin) for c in src.eye_centres.values()]
    radius = src.eye_radius * hm08.DM_TO_M

    def normals(co: np.ndarray) -> np.ndarray:
        p = co[head.faces]
        n = np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])
        return n / np.linalg.norm(n, axis=1, keepdims=True)

    def clearance(co: np.ndarray) -> np.ndarray:
        return np.min([np.linalg.norm(co - c, axis=1) - radius for c in centres], axis=0)

    near = body_verts & (clearance(rest) > 0.0) & (clearance(rest) < 0.01)
    assert near.sum() > 500
    n0 = normals(rest)
    for emotion in EMOTION_PROPS:
        co = pose(head, control_props(emotion))
        stretch = np.linalg.norm(co[edges[:, 0]] - co[edges[:, 1]], axis=1) / np.maximum(rest_len, 1e-9)
        assert stretch.max() < 2.5, f"{emotion} tears the mesh"
        turned = np.sum(normals(co) * n0, axis=1)[body_faces]
        assert turned.min() > 0.0, f"{emotion} folds {int((turned <= 0).sum())} skin faces over"
        assert clearance(co)[near].min() > -2e-4, f"{emotion} pushes skin into an eyeball"
