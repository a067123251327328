"""Face region codes of the default head (``rigs.regions``), per face, from documented rules (pure).

- helper eyeballs: IRIS within ``IRIS_ANGLE_DEG`` of the eye's forward axis, EYE_WHITE elsewhere;
- helper teeth, tongue, eyelashes: TEETH, TONGUE, EYELASH;
- skin inside the lip contact ring (the closed mouth bag): LIPS for the first ``INNER_LIP_STEPS`` edges of
  the wet lip, MOUTH_INTERIOR deeper in;
- outer skin within the vermilion border (``landmarks.VERMILION_STEPS`` edges of the lip ring): LIPS;
- skin within ``BROW_HALF_HEIGHT`` above/below the brow landmark polyline: BROW; everything else SKIN.
"""

from __future__ import annotations

import numpy as np

from .. import regions as R  # noqa: N812 (short region-code namespace)
from .head_source import EYE_GROUPS, TEETH_GROUPS, TONGUE_GROUP, HeadSource
from .landmarks import VERMILION_STEPS, lip_side_distance, outer_skin_vertices
from .topology import graph_distance

IRIS_ANGLE_DEG = 24.0
INNER_LIP_STEPS = 2
BROW_HALF_HEIGHT = 0.045  # dm


def face_regions(src: HeadSource, landmarks: np.ndarray) -> np.ndarray:
    """Region code per face. Returns [F] int32."""
    v, faces = src.verts, src.faces
    out = np.full(len(faces), R.SKIN, dtype=np.int32)
    groups = np.asarray(src.face_groups)
    centres = v[faces].mean(axis=1)
    for side, group in EYE_GROUPS.items():
        sel = groups == group
        d = centres[sel] - src.eye_centres[side]
        cos = d[:, 2] / np.maximum(np.linalg.norm(d, axis=1), 1e-12)
        out[sel] = np.where(cos > np.cos(np.radians(IRIS_ANGLE_DEG)), R.IRIS, R.EYE_WHITE)
    out[np.isin(groups, TEETH_GROUPS)] = R.TEETH
    out[groups == TONGUE_GROUP] = R.TONGUE
    out[np.asarray(["eyelashes" in g for g in src.face_groups])] = R.EYELASH
    body = groups == "body"
    outer_v = outer_skin_vertices(src)
    inner_v = src.body_mask & ~outer_v
    inner_v[src.lip_ring.vertices] = True
    inner_face = body & ~np.all(outer_v[faces], axis=1)
    d_in = graph_distance(src.topo, src.lip_ring.vertices, inner_v)
    wet = np.all((d_in[faces] >= 0) & (d_in[faces] <= INNER_LIP_STEPS), axis=1)
    out[inner_face] = np.where(wet[inner_face], R.LIPS, R.MOUTH_INTERIOR)
    d_out = lip_side_distance(src)
    mouth_y = float(v[src.lip_ring.vertices, 1].mean())
    limit = np.where(v[:, 1] > mouth_y, VERMILION_STEPS["upper"], VERMILION_STEPS["lower"])
    in_lip = (d_out >= 0) & (d_out <= limit)
    out[body & ~inner_face & np.all(in_lip[faces], axis=1)] = R.LIPS
    for sl in (slice(17, 22), slice(22, 27)):
        pts = v[landmarks[sl]]
        order = np.argsort(pts[:, 0])
        xs, ys = pts[order, 0], pts[order, 1]
        inside = body & ~inner_face & (centres[:, 0] >= xs[0]) & (centres[:, 0] <= xs[-1])
        brow_y = np.interp(centres[:, 0], xs, ys)
        near = (inside & (np.abs(centres[:, 1] - brow_y) < BROW_HALF_HEIGHT)
                & (centres[:, 2] > pts[:, 2].min() - 0.15))
        out[near & (out == R.SKIN)] = R.BROW
    return out
