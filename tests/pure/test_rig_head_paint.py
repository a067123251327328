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


def test_tooth_angles_run_around_the_arch_with_a_boundary_on_the_midline() -> None:
    head = default_head_data()
    v = head.verts
    ang = head_paint.tooth_angles(v, head.faces, head.regions)
    teeth = np.unique(head.faces[np.isin(head.regions, (rg.TEETH, rg.GUMS))].ravel())
    others = np.setdiff1d(np.arange(len(v)), teeth)
    assert not ang[others].any()
    front = teeth[v[teeth, 1] < v[teeth, 1].min() + 0.004]  # the incisors
    assert np.abs(ang[front]).max() < 0.6  # a few teeth either side of the midline
    side = teeth[np.abs(v[teeth, 0]) > 0.005]
    assert np.all(np.sign(ang[side]) == np.sign(v[side, 0]))
    back = teeth[v[teeth, 1] > v[teeth, 1].max() - 0.004]  # the molars
    assert np.abs(ang[back]).min() > 1.5


def test_lash_coordinate_runs_from_the_lid_to_the_tips() -> None:
    head = default_head_data()
    v = head.verts
    tip = head_paint.lash_tips(v, head.faces, head.regions)
    lash = np.unique(head.faces[head.regions == rg.EYELASH].ravel())
    assert not np.delete(tip, lash).any()
    assert tip[lash].min() == 0.0 and tip[lash].max() == 1.0
    centres = head_paint.eye_centres(v, head.faces, head.regions)
    r = np.min([np.linalg.norm(v[lash] - c, axis=1) for c in centres], axis=0)
    assert np.corrcoef(r, tip[lash])[0, 1] > 0.8  # farther from the eye, nearer the tip
