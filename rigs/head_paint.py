"""Procedural paint of the default head: smooth eyebrow and hair weights per vertex, the teeth's and lashes'
coordinates for their shaders, eye centres (pure).

The head's brow region is a band of whole faces (stair-stepped edges) and its haircut a shell of coarse
quads. These per-vertex values are computed from the rest mesh and its landmarks when the rig is generated
(and, for the hair weights, when the hair shell is grown: ``head_build.hair_volume``), written as point
attributes, and read by the materials (``rigs.bl_head_materials``): brows as hair strokes and the painted
hair under the shell with soft edges, teeth separated around the arch, lashes tapering from root to tip.
Everything is procedural (no image textures), in Blender axes and metres (origin between the eyes, front
-Y, +Z up).
"""

from __future__ import annotations

import itertools

import numpy as np

from . import regions as rg

#: Point attributes written on the face mesh (FLOAT, 0..1).
BROW_ATTRIBUTE = "auth_brow"
HAIR_ATTRIBUTE = "auth_hair"
#: Angle (rad) of each tooth vertex around the dental arch's centre, read by the teeth shader.
TOOTH_ANGLE_ATTRIBUTE = "auth_tooth_angle"
#: How far behind the front teeth the arch's centre lies (m).
ARCH_DEPTH = 0.022
#: Eyelash root-to-tip coordinate (0 at the lid margin, 1 at the tips), read by the lash shader.
LASH_ATTRIBUTE = "auth_lash"
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


def tooth_angles(verts: np.ndarray, faces: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """``[V]`` angle (rad, 0 on the midline, + towards +x) of the TEETH and GUMS vertices around the dental
    arch's centre, ``ARCH_DEPTH`` behind the front teeth at rest; 0 elsewhere. Stored as a point attribute
    it follows the teeth when the jaw moves (object coordinates would not)."""
    out = np.zeros(len(verts), np.float32)
    idx = np.unique(faces[np.isin(regions, (rg.TEETH, rg.GUMS))].ravel())
    if len(idx):
        centre_y = float(verts[idx, 1].min()) + ARCH_DEPTH
        out[idx] = np.arctan2(verts[idx, 0], centre_y - verts[idx, 1])
    return out


def _components(faces: np.ndarray, n_verts: int) -> np.ndarray:
    """``[V]`` connected-component label of each vertex of ``faces`` (-1 for unused vertices)."""
    label = np.full(n_verts, -1, np.int64)
    used = np.unique(faces.ravel())
    label[used] = used
    while True:  # propagate the smallest label across each face until nothing changes
        low = label[faces].min(axis=1)
        new = label.copy()
        np.minimum.at(new, faces.ravel(), np.repeat(low, faces.shape[1]))
        if np.array_equal(new, label):
            return label
        label = new


def lash_tips(verts: np.ndarray, faces: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """``[V]`` root-to-tip coordinate of the EYELASH vertices, 0 elsewhere: per lash card (connected
    piece), the distance from its eyeball's centre rescaled from the card's nearest vertex (0, the roots on
    the lid margin) to its farthest (1, the tips)."""
    out = np.zeros(len(verts), np.float32)
    lash_faces = faces[regions == rg.EYELASH]
    if not len(lash_faces):
        return out
    label = _components(lash_faces, len(verts))
    centres = eye_centres(verts, faces, regions)
    for card in np.unique(label[label >= 0]):
        idx = np.nonzero(label == card)[0]
        centre = centres[int(verts[idx, 0].mean() > 0)]
        r = np.linalg.norm(verts[idx] - centre, axis=1)
        out[idx] = (r - r.min()) / max(float(np.ptp(r)), 1e-9)
    return out


def skin_vertices(faces: np.ndarray, regions: np.ndarray, n_verts: int) -> np.ndarray:
    """``[V]`` bool: vertices used by a SKIN, BROW or SCALP face."""
    out = np.zeros(n_verts, bool)
    out[faces[np.isin(regions, (rg.SKIN, rg.BROW, rg.SCALP))].ravel()] = True
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
