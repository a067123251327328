"""The default head's bust cut (neck and shoulders ending in one clean edge) and its hair shell."""

from __future__ import annotations

import numpy as np
import pytest

from rigs import head_paint
from rigs import regions as rg
from rigs.head_build import hair_volume, hm08
from rigs.head_build.default_head import build_head_data
from rigs.head_build.head_source import CHEST_CUT_Y, bust_cut_y
from rigs.head_data import HeadData


@pytest.fixture(scope="module")
def head() -> HeadData:
    return build_head_data()


def _border_edges(faces: np.ndarray) -> np.ndarray:
    edges = np.sort(np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2), axis=1)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    return uniq[counts == 1]


def test_the_bust_ends_in_one_smooth_edge_on_the_cut_curve(head: HeadData) -> None:
    parts = (rg.EYE_WHITE, rg.IRIS, rg.TEETH, rg.GUMS, rg.TONGUE, rg.EYELASH, rg.HAIR)
    skin = ~np.isin(head.regions, parts)
    border = _border_edges(head.faces[skin])
    verts = np.unique(border)
    # one closed loop: every border vertex has exactly two border edges
    assert np.all(np.bincount(border.ravel())[verts] == 2)
    # back in MakeHuman units (x across, y up; heights relative to the eyes, hence the constant offset),
    # every border vertex lies on the cut curve
    mh = head.verts[verts].astype(np.float64) / hm08.DM_TO_M
    x, y = mh[:, 0], mh[:, 2]
    cut, _ = bust_cut_y(x)
    assert np.ptp(y - cut) < 1e-4
    assert np.ptp(y) > 0.5  # and the curve rises over the shoulders
    # it is a bust: shoulders, no arms; the lowest point is the chest cut
    assert 0.33 < float(np.ptp(head.verts[:, 0])) < 0.46  # metres
    assert float(cut.min()) == pytest.approx(CHEST_CUT_Y)


def test_hair_grows_out_of_the_scalp_and_not_on_the_face(head: HeadData) -> None:
    hair = np.unique(head.faces[head.regions == rg.HAIR])
    v = head.verts.astype(np.float64)
    lm = head.landmarks
    assert len(hair) > 200
    assert v[hair, 2].min() > head_paint.HAIRLINE_NAPE - 0.01  # down to the nape, not the neck
    front = hair[v[hair, 1] < v[lm[27], 1] + 0.03]  # what faces the camera
    assert v[front, 2].min() > v[lm[17:27], 2].max()  # above the brows
    # thickness: a crown of hair, a flush hairline
    n_own = int(hair.min())  # the shell's vertices come after the head's own
    crown = hair[np.argmax(v[hair, 2])]
    parent = int(np.nonzero(head.source_index[:n_own] == head.source_index[crown])[0][0])
    assert np.linalg.norm(v[crown] - v[parent]) > 0.012
    skin = head_paint.skin_vertices(head.faces, head.regions, len(v))
    weight = head_paint.hair_weights(v, skin)
    scalp = np.unique(head.faces[(head.regions == rg.SCALP) | (head.regions == rg.SKIN)])
    assert weight[scalp].max() == 1.0
    t = hair_volume.thickness(v[scalp], weight[scalp].astype(np.float64))
    assert t.min() == pytest.approx(-hair_volume.INSET)  # under the skin where no hair grows
    assert t.max() > hair_volume.TOP_THICKNESS


def test_the_hairline_follows_the_forehead(head: HeadData) -> None:
    raise_ = head.au_delta("AU02") + head.au_delta("AU01")
    hair = np.unique(head.faces[head.regions == rg.HAIR])
    moved = np.linalg.norm(raise_[hair], axis=1)
    assert moved.max() > 1e-4  # the front of the hair rides on the forehead
    parents = head.source_index[hair]
    own = {int(s): i for i, s in enumerate(head.source_index[:hair.min()])}
    for h, p in zip(hair[:50], parents[:50], strict=True):
        np.testing.assert_array_equal(raise_[h], raise_[own[int(p)]])
