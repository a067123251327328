"""Procedural paint of the default head (rigs.head_paint): brows along the brow landmarks, hair on the
crown and not on the face, eye centres at the eyeballs."""

from __future__ import annotations

import numpy as np

from rigs import head_paint
from rigs import regions as rg
from rigs.head_data import default_head_data


def test_brows_hair_and_eyes_land_where_they_belong() -> None:
    head = default_head_data()
    v, lm = head.verts, head.landmarks
    skin = head_paint.skin_vertices(head.faces, head.regions, len(v))
    brow = head_paint.brow_weights(v, lm, skin)
    hair = head_paint.hair_weights(v, skin)
    assert brow[lm[17:27]].min() > 0.5  # on the brow line
    assert brow[lm[30]] == 0 and brow[lm[8]] == 0  # not on the nose tip or chin
    crown = int(np.argmax(np.where(skin, v[:, 2], -np.inf)))
    assert hair[crown] == 1.0
    assert hair[lm[17:27]].max() == 0 and hair[lm[30]] == 0 and hair[lm[8]] == 0
    assert not hair[~skin].any() and not brow[~skin].any()
    centres = head_paint.eye_centres(v, head.faces, head.regions)
    iris = v[np.unique(head.faces[head.regions == rg.IRIS].ravel())]
    assert centres[0, 0] < 0 < centres[1, 0]
    assert np.abs(np.abs(centres[:, 0]) - np.abs(iris[:, 0]).mean()).max() < 0.01
