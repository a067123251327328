"""Procedural paint of the default head: smooth eyebrow and hair weights per vertex, eye centres (pure).

The default head has no hair geometry and its brow region is a band of whole faces (stair-stepped
edges). These weights are computed from the rest mesh and its landmarks when the rig is generated, and
the skin shader (``rig_types.bl_facs_materials``) mixes hair colour into the skin by them, so brows and a
short haircut read as painted hair with soft edges. Everything is procedural (no image textures), in
Blender axes and metres (origin between the eyes, front -Y, +Z up).
"""

from __future__ import annotations

import itertools

import numpy as np

from . import regions as rg

#: Point attributes written on the face mesh (FLOAT, 0..1).
BROW_ATTRIBUTE = "auth_brow"
HAIR_ATTRIBUTE = "auth_hair"
#: Brow band: full weight within ``BROW_CORE`` of the landmark line (m), none beyond ``BROW_EDGE``.
BROW_CORE, BROW_EDGE = 0.0035, 0.0080
#: Hairline heights (m above the eye line): over the forehead, in front of the ears, at the nape.
HAIRLINE_FRONT, HAIRLINE_SIDE, HAIRLINE_NAPE = 0.066, 0.028, -0.075
HAIRLINE_SOFT = 0.006


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance ``[N]`` of 2D points ``[N, 2]`` to the segment ``a``-``b``."""
    ab = b - a
    t = np.clip((p - a) @ ab / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def brow_weights(verts: np.ndarray, landmarks: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Eyebrow weight ``[V]`` in 0..1 of each vertex: a soft band along the iBUG brow landmarks 17-26.

    Args:
        verts: ``[V, 3]`` rest positions.
        landmarks: ``[68]`` vertex indices (iBUG order).
        skin: ``[V]`` bool, vertices of the outer skin (others get 0).
    """
    xz = verts[:, [0, 2]]
    dist = np.full(len(verts), np.inf)
    for sl in (slice(17, 22), slice(22, 27)):
        pts = verts[landmarks[sl]][:, [0, 2]]
        pts = pts[np.argsort(pts[:, 0])]
        pts[:, 1] += 0.0015  # the landmarks run along the brow's lower half
        for a, b in itertools.pairwise(pts):
            dist = np.minimum(dist, _segment_distance(xz, a, b))
    front = verts[:, 1] < float(verts[landmarks[17:27], 1].max()) + 0.01
    w = 1.0 - _smoothstep(BROW_CORE, BROW_EDGE, dist)
    return np.where(skin & front, w, 0.0).astype(np.float32)


def hair_weights(verts: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Hair weight ``[V]`` in 0..1: above a hairline that runs from the forehead past the ears to the nape.

    Args:
        verts: ``[V, 3]`` rest positions.
        skin: ``[V]`` bool, vertices of the outer skin (others get 0).
    """
    x, y, z = verts[:, 0], verts[:, 1], verts[:, 2]
    width = float(np.abs(x[skin]).max())
    y0, y1 = float(y[skin].min()), float(y[skin].max())
    back = _smoothstep(0.55, 0.95, (y - y0) / (y1 - y0))
    side = _smoothstep(0.55, 0.85, np.abs(x) / width)
    line = HAIRLINE_FRONT + (HAIRLINE_SIDE - HAIRLINE_FRONT) * side
    line = line + (HAIRLINE_NAPE - line) * back
    w = _smoothstep(line - HAIRLINE_SOFT, line + HAIRLINE_SOFT, z)
    return np.where(skin, w, 0.0).astype(np.float32)


def skin_vertices(faces: np.ndarray, regions: np.ndarray, n_verts: int) -> np.ndarray:
    """``[V]`` bool: vertices used by a SKIN or BROW face."""
    out = np.zeros(n_verts, bool)
    out[faces[np.isin(regions, (rg.SKIN, rg.BROW))].ravel()] = True
    return out


def eye_centres(verts: np.ndarray, faces: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """``[2, 3]`` centres of the eyeballs (-x eye first): the mean of each side's eye-white and iris
    vertices, moved back onto the eyeball's axis (the iris cap is in front)."""
    out = np.zeros((2, 3))
    eye = np.unique(faces[np.isin(regions, (rg.EYE_WHITE, rg.IRIS))].ravel())
    for i, sign in enumerate((-1.0, 1.0)):
        pts = verts[eye[np.sign(verts[eye, 0]) == sign]]
        if len(pts):
            out[i] = 0.5 * (pts.min(0) + pts.max(0))
    return out
