"""Face region codes of the default head (``rigs.regions``), per face, from documented rules (pure).

- helper eyeballs: IRIS within ``IRIS_ANGLE_DEG`` of the eye's forward axis, EYE_WHITE elsewhere;
- helper teeth, tongue, eyelashes: TEETH, TONGUE, EYELASH; the root side of each tooth arch (the upper
  arch's top ``GUM_SHARE`` of its height, the lower arch's bottom one): GUMS;
- the lower eyelid's margin (skin faces on the lid edge ring, within one edge of it, below the eye
  corners): WET_LINE;
- skin inside the lip contact ring (the closed mouth bag): LIPS for the first ``INNER_LIP_STEPS`` edges of
  the wet lip, MOUTH_INTERIOR deeper in;
- outer skin within the vermilion border (``landmarks.VERMILION_STEPS`` edges of the lip ring): LIPS;
- skin within ``BROW_HALF_HEIGHT`` above/below the brow landmark polyline: BROW;
- skin faces entirely ``BODY_BELOW_CHIN`` below the chin landmark (lower neck, shoulders, chest): BODY;
- everything else SKIN. (The hair volume's faces, HAIR, are added later: ``hair_volume``.)
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
BODY_BELOW_CHIN = 0.45  # dm
GUM_SHARE = 0.3


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
    for group, root_up in zip(TEETH_GROUPS, (True, False), strict=True):
        sel = groups == group
        y = centres[sel, 1]
        lo, hi = float(v[faces[sel], 1].min()), float(v[faces[sel], 1].max())
        rel = (y - lo) / (hi - lo)
        out[np.nonzero(sel)[0][(rel > 1 - GUM_SHARE) if root_up else (rel < GUM_SHARE)]] = R.GUMS
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
    low = np.all(v[faces][:, :, 1] < v[landmarks[8], 1] - BODY_BELOW_CHIN, axis=1)
    out[body & low & (out == R.SKIN)] = R.BODY
    out[body & _lower_lid_margin(src) & (out == R.SKIN)] = R.WET_LINE
    return out


def _lower_lid_margin(src: HeadSource) -> np.ndarray:
    """[F] bool: faces within one edge of a lower eyelid's margin arc (corners excluded)."""
    out = np.zeros(len(src.faces), dtype=bool)
    for ring in src.eye_rings.values():
        lower = ring.lower[1:-1]
        d = graph_distance(src.topo, lower, src.body_mask)
        corner_y = 0.5 * (src.verts[ring.corner_min_x, 1] + src.verts[ring.corner_max_x, 1])
        near = (d >= 0) & (d <= 1) & (src.verts[:, 1] < corner_y)
        out |= np.all(near[src.faces], axis=1)
    return out
