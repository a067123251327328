"""The default head as pure data: determinism, zone masking, exact lip closure, landmarks, regions."""

from __future__ import annotations

import numpy as np
import pytest

from au_contract import ACTION_UNITS
from rigs import regions
from rigs.head_build.au_shapes import mask_zone
from rigs.head_build.default_head import HeadData, build_head_data
from rigs.head_build.head_source import HeadSource, load_head_source
from rigs.naming import ZONE_GROUPS, all_shape_key_names

#: sha256 of rest positions + faces + shape-key deltas; update deliberately when the head changes.
PINNED_HASH = "2ddd9ff3cefba13a900422b807b824bcdfb5e30c803e6ea139d150c03d969c01"


@pytest.fixture(scope="module")
def src() -> HeadSource:
    return load_head_source()


@pytest.fixture(scope="module")
def head(src: HeadSource) -> HeadData:
    return build_head_data(src)


def test_deterministic_and_pinned(head: HeadData) -> None:
    assert build_head_data().content_hash() == head.content_hash()
    assert head.content_hash() == PINNED_HASH


def test_light_mesh(head: HeadData) -> None:
    assert 3000 < len(head.verts) < 8000
    assert 0.2 < head.head_size < 0.3  # metres, chin to crown


def test_every_au_has_shape_keys_that_move(head: HeadData) -> None:
    assert set(head.shape_deltas) == set(all_shape_key_names())
    for name, delta in head.shape_deltas.items():
        assert np.abs(delta).max() > 1e-3, f"{name} moves less than 1 mm"


def test_shape_keys_move_only_their_zones(head: HeadData) -> None:
    w = {z: head.zone_groups[g] for z, g in ZONE_GROUPS.items()}
    assert np.allclose(w["M"] + w["U"] + w["B"], 1.0, atol=1e-5)
    for au in ACTION_UNITS:
        # AU06 is masked like an upper AU (it narrows the eye from below; au_shapes.MASK_ZONE)
        allowed = (w["U"] + w["B"]) if mask_zone(au.code) == "U" else (w["M"] + w["B"])
        for name, delta in head.shape_deltas.items():
            if name.split("_")[0] != au.code:
                continue
            moved = np.linalg.norm(delta, axis=1) > 1e-7
            assert not np.any(moved & (allowed <= 0.0)), f"{name} moves vertices outside its zones"
    # and the zones are real: mouth AUs never reach the eyes, upper AUs never the lips
    assert np.all(np.linalg.norm(head.au_delta("AU26")[w["U"] >= 1.0], axis=1) == 0.0)
    assert np.all(np.linalg.norm(head.au_delta("AU04")[w["M"] >= 1.0], axis=1) == 0.0)
    assert np.all(np.linalg.norm(head.au_delta("AU06")[w["M"] >= 1.0], axis=1) == 0.0)  # never the lips


def _polyline_distance(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    a, b = line[:-1], line[1:]
    ab = b - a
    t = np.clip(np.einsum("pkd,kd->pk", points[:, None] - a[None], ab) / np.maximum((ab * ab).sum(1), 1e-20),
                0.0, 1.0)
    closest = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(points[:, None] - closest, axis=2).min(axis=1)


def test_lip_pressor_closes_exactly(src: HeadSource, head: HeadData) -> None:
    posed = (head.verts + head.au_delta("AU24"))[:len(src.verts)]  # the hair shell is appended after
    up, lo = np.asarray(src.lip_ring.upper), np.asarray(src.lip_ring.lower)
    neutral_gap = _polyline_distance(head.verts[up], head.verts[lo]).max()
    assert neutral_gap > 1e-3  # the rest pose really has a gap to close
    # no gap: the upper lip edge lies on the lower lip edge; the lower edge is within 0.5 mm of the upper one
    assert _polyline_distance(posed[up], posed[lo]).max() < 1e-6
    assert _polyline_distance(posed[lo], posed[up]).max() < 5e-4
    # no interpenetration: wherever upper-lip and lower-lip vertices stand in the same column (same x and
    # depth within 2 mm), the upper one is above the lower one
    from rigs.head_build.topology import graph_distance

    body = src.body_mask
    d_up = graph_distance(src.topo, list(up[1:-1]), body)
    d_lo = graph_distance(src.topo, list(lo[1:-1]), body)
    between_corners = np.abs(posed[:, 0]) < 0.8 * np.abs(posed[up, 0]).max()  # the commissure folds
    upper = np.nonzero((d_up > 0) & (d_up <= 4) & (d_lo > d_up) & between_corners)[0]
    lower = np.nonzero((d_lo > 0) & (d_lo <= 4) & (d_up > d_lo) & between_corners)[0]
    dx = np.abs(posed[upper, None, 0] - posed[None, lower, 0])
    dy = np.abs(posed[upper, None, 1] - posed[None, lower, 1])
    column = (dx < 2e-3) & (dy < 2e-3)
    assert column.sum() > 20
    dz = posed[upper, None, 2] - posed[None, lower, 2]
    assert dz[column].min() >= -1e-6, f"lips interpenetrate by {-dz[column].min() * 1000:.2f} mm"


def test_landmarks(head: HeadData) -> None:
    lm = head.landmarks
    assert lm.shape == (68,) and len(set(lm.tolist())) == 68
    p = head.verts[lm]
    mirror = [(0, 16), (36, 45), (39, 42), (48, 54), (60, 64), (17, 26), (31, 35)]
    for i, j in mirror:
        assert p[i, 0] == pytest.approx(-p[j, 0], abs=1e-4) and p[i, 0] < 0
    for i in (8, 27, 30, 33, 51, 57, 62, 66):
        assert abs(p[i, 0]) < 1e-4
    z = p[:, 2]
    assert z[8] < z[57] < z[66] <= z[62] < z[51] < z[33] < z[30] < z[27] < z[19]  # chin up to brows


def test_basis_is_linear_in_aus(head: HeadData) -> None:
    codes, neutral, basis = head.basis()
    rng = np.random.default_rng(0)
    aus = rng.uniform(0, 1, len(codes))
    expect = head.verts[head.landmarks] + sum(a * head.au_delta(c)[head.landmarks] for a, c in zip(aus, codes,
                                                                                                  strict=True))
    got = neutral + np.tensordot(aus, basis, axes=1)
    assert np.abs(got - expect).max() <= 1e-5 * head.head_size


def test_regions(head: HeadData) -> None:
    counts = np.bincount(head.regions, minlength=len(regions.REGION_NAMES))
    for code in regions.REGION_NAMES:
        assert counts[code] > 0, regions.REGION_NAMES[code]
    assert counts[regions.SKIN] > counts.sum() / 2
