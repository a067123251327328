"""The 68 iBUG landmarks of the default head and its AU-to-landmark linear basis (pure numpy).

Landmarks are mesh vertices, picked by documented geometric rules on the hm08 head (``pick_landmarks``),
in iBUG-68 order: 0-16 jaw line, 17-26 brows, 27-35 nose, 36-47 eyes, 48-59 outer lip, 60-67 inner lip.
"Image left" is the character's right (-x). Because every AU shape key is linear, the landmark positions
are exactly ``neutral + sum_s value_s * basis_s`` over the shape keys, whatever the zone rules make of the
AU and emotion properties: ``shape_key_basis`` returns that basis (one slice per key, what
``au_contract.basis.write_basis`` writes) and ``landmark_basis`` the per-AU one (sides summed), exact while
no emotion is active (every key at its AU's value).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .head_source import HeadSource, Ring

N_LANDMARKS = 68


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals of a quad mesh. verts [V, 3], faces [F, 4] -> [V, 3]."""
    p = verts[faces]
    n = np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])
    out = np.zeros_like(verts)
    for k in range(4):
        np.add.at(out, faces[:, k], n)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def _nearest(cands: np.ndarray, verts: np.ndarray, target_xy: tuple[float, float]) -> int:
    d = (verts[cands, 0] - target_xy[0]) ** 2 + (verts[cands, 1] - target_xy[1]) ** 2
    return int(cands[np.argmin(d)])


def _arc_at_x(arc: list[int], verts: np.ndarray, x: float) -> int:
    a = np.asarray(arc)
    return int(a[np.argmin(np.abs(verts[a, 0] - x))])


def _eye_points(ring: Ring, verts: np.ndarray) -> list[int]:
    """Six eye points: min-x corner, two upper (1/3, 2/3), max-x corner, two lower (2/3, 1/3)."""
    x0, x1 = verts[ring.corner_min_x, 0], verts[ring.corner_max_x, 0]
    at = [x0 + (x1 - x0) * t for t in (1 / 3, 2 / 3)]
    return [ring.corner_min_x, _arc_at_x(ring.upper, verts, at[0]), _arc_at_x(ring.upper, verts, at[1]),
            ring.corner_max_x, _arc_at_x(ring.lower, verts, at[1]), _arc_at_x(ring.lower, verts, at[0])]


def lip_side_distance(src: HeadSource) -> np.ndarray:
    """[V] edge-count distance from the lip ring over the outer skin (-1 elsewhere), as used for the
    vermilion border (outer lip contour) and the LIPS region."""
    from .topology import graph_distance

    outer = src.body_mask & outer_skin_vertices(src)
    return graph_distance(src.topo, src.lip_ring.vertices, outer)


def outer_skin_vertices(src: HeadSource) -> np.ndarray:
    """[V] bool: skin vertices outside the lip ring (face, scalp, neck), i.e. not the mouth bag."""
    from .topology import flood_faces, loop_edges

    body_faces = np.asarray([g == "body" for g in src.face_groups])
    seed = int(np.argmax(np.where(body_faces, src.verts[src.faces][:, :, 1].mean(axis=1), -np.inf)))
    reach = flood_faces(src.topo, seed, body_faces, loop_edges(src.lip_ring.vertices))
    mask = np.zeros(len(src.verts), dtype=bool)
    mask[np.unique(src.faces[reach])] = True
    return mask


#: Graph distance (edges) of the vermilion border from the lip contact ring, upper and lower lip.
VERMILION_STEPS = {"upper": 4, "lower": 5}


def pick_landmarks(src: HeadSource) -> np.ndarray:
    """The 68 landmark vertex indices of the cut head, iBUG order. Returns [68] int64.

    Rules: eyes and inner lips from the eyelid and lip rings; outer lips from the vermilion border (a fixed
    number of edges out from the lip ring); nose from the midline profile (nasion at eye height, tip the most
    forward point, subnasale the deepest point between tip and lip) and the alar base at the inner-eye-corner
    width; brows where the ARKit browDown unit moves the skin most, spread between the eye corners; jaw on the
    front-facing face outline swept from ear level down to the chin.
    """
    v = src.verts
    body = src.body_mask
    normals = vertex_normals(v, src.faces)
    outer = body & outer_skin_vertices(src)
    lm: list[int] = [0] * N_LANDMARKS
    eye_y = float(np.mean([c[1] for c in src.eye_centres.values()]))
    # eyes
    lm[36:42] = _eye_points(src.eye_rings["R"], v)
    lm[42:48] = _eye_points(src.eye_rings["L"], v)
    inner_x = float(v[src.eye_rings["L"].corner_min_x, 0])
    outer_x = float(v[src.eye_rings["L"].corner_max_x, 0])
    # inner lips
    ring = src.lip_ring
    w = float(v[ring.corner_max_x, 0])
    lm[60] = ring.corner_min_x
    lm[61:64] = [_arc_at_x(ring.upper, v, x) for x in (-w / 2, 0.0, w / 2)]
    lm[64] = ring.corner_max_x
    lm[65:68] = [_arc_at_x(ring.lower, v, x) for x in (w / 2, 0.0, -w / 2)]
    # outer lips (vermilion border)
    dist = lip_side_distance(src)
    mouth_y = float(v[ring.vertices, 1].mean())
    up = np.nonzero((dist == VERMILION_STEPS["upper"]) & (v[:, 1] > mouth_y))[0]
    lo = np.nonzero((dist == VERMILION_STEPS["lower"]) & (v[:, 1] < mouth_y))[0]
    first = np.nonzero(dist == 1)[0]
    lm[48] = int(first[np.argmin(v[first, 0])])
    lm[54] = int(first[np.argmax(v[first, 0])])
    lm[49:54] = [_arc_at_x(list(up), v, x) for x in np.array([-2, -1, 0, 1, 2]) * w / 3]
    lm[55:60] = [_arc_at_x(list(lo), v, x) for x in np.array([2, 1, 0, -1, -2]) * w / 3]
    # nose: midline front profile
    mid = np.nonzero(outer & (np.abs(v[:, 0]) < 1e-6) & (normals[:, 2] > 0.0))[0]
    band = mid[(v[mid, 1] > mouth_y) & (v[mid, 1] < eye_y + 0.05)]
    tip = int(band[np.argmax(v[band, 2])])
    nasion = _nearest(mid[v[mid, 1] > v[tip, 1]], v, (0.0, eye_y))
    lm[27] = nasion
    bridge = [v[nasion, 1] + (v[tip, 1] - v[nasion, 1]) * t for t in (1 / 3, 2 / 3)]
    lm[28:30] = [_nearest(mid, v, (0.0, y)) for y in bridge]
    lm[30] = tip
    upper_lip_top = float(v[lm[51], 1])
    sub = band[(v[band, 1] < v[tip, 1]) & (v[band, 1] > upper_lip_top) & (v[band, 2] > v[tip, 2] - 0.3)]
    subnasale = int(sub[np.argmin(v[sub, 2])])
    base_y = float(v[subnasale, 1] + 0.3 * (v[tip, 1] - v[subnasale, 1]))
    front = outer & (normals[:, 2] > 0.2)
    fr = np.nonzero(front & (v[:, 1] > v[subnasale, 1] - 0.02) & (v[:, 2] > v[subnasale, 2] - 0.1))[0]
    lm[31:36] = [_nearest(fr, v, (x, base_y)) for x in (-inner_x, -inner_x / 2)] + [subnasale] + [
        _nearest(fr, v, (x, base_y)) for x in (inner_x / 2, inner_x)]
    # brows: per side, where browDown moves the skin most, at five x positions
    for side, name, sl in (("R", "Right", slice(17, 22)), ("L", "Left", slice(22, 27))):
        sign = 1.0 if side == "L" else -1.0
        mag = np.linalg.norm(src.units[f"browDown{name}"], axis=1) * outer
        xs = sign * (inner_x * 0.55 + (outer_x * 1.12 - inner_x * 0.55) * np.linspace(0, 1, 5))
        pts = []
        for x in xs:
            near = np.nonzero((np.abs(v[:, 0] - x) < 0.03) & (mag > 0) & (v[:, 1] > eye_y))[0]
            pts.append(int(near[np.argmax(mag[near])]))
        lm[sl] = sorted(pts, key=lambda i: v[i, 0])
    # jaw: the front-facing outline, swept from ear level (-x) down to the chin and up to +x
    mouth_z = float(v[ring.vertices, 2].max())
    chin_c = mid[(v[mid, 1] < mouth_y) & (normals[mid, 2] > 0.5) & (v[mid, 2] > mouth_z - 0.4)]
    chin = int(chin_c[np.argmin(v[chin_c, 1])])
    face = np.nonzero(front & (np.abs(v[:, 0]) < 1.5 * outer_x) & (v[:, 1] < eye_y - 0.05)
                      & (v[:, 1] >= v[chin, 1] - 1e-6) & (v[:, 2] > v[chin, 2] - 0.55))[0]
    centre = np.array([0.0, eye_y - 0.35 * (eye_y - v[chin, 1])])
    rel = v[face, :2] - centre
    ang = np.arctan2(rel[:, 1], rel[:, 0])
    rad = np.linalg.norm(rel, axis=1)
    for k, theta in enumerate(np.linspace(np.pi * 1.06, np.pi * 1.94, 17)):
        t = np.arctan2(np.sin(theta), np.cos(theta))
        sel = np.abs(np.angle(np.exp(1j * (ang - t)))) < np.pi / 40
        lm[k] = int(face[sel][np.argmax(rad[sel])]) if np.any(sel) else chin
    lm[8] = chin
    return np.asarray(lm, dtype=np.int64)


def landmark_basis(neutral: np.ndarray, au_deltas: dict[str, np.ndarray], landmarks: np.ndarray
                   ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Displacement of each landmark per unit AU.

    Args:
        neutral: [V, 3] rest positions (Blender metres).
        au_deltas: AU code -> [V, 3] displacement at AU = 1 (sided shape keys already summed: the AU
            property drives both sides).
        landmarks: [68] vertex indices.

    Returns:
        (au codes [K], neutral landmarks [68, 3] float32, basis [K, 68, 3] float32)
    """
    codes = list(au_deltas)
    basis = np.stack([au_deltas[c][landmarks] for c in codes]).astype(np.float32)
    return codes, neutral[landmarks].astype(np.float32), basis




def shape_key_basis(neutral: np.ndarray, key_deltas: Mapping[tuple[str, str | None], np.ndarray],
                    landmarks: np.ndarray) -> tuple[list[tuple[str, str | None]], np.ndarray, np.ndarray]:
    """Displacement of each landmark per unit shape-key value.

    Args:
        neutral: [V, 3] rest positions (Blender metres).
        key_deltas: (AU code, side or None) -> [V, 3] displacement of that shape key at value 1.
        landmarks: [68] vertex indices.

    Returns:
        (keys [S], neutral landmarks [68, 3] float32, basis [S, 68, 3] float32)
    """
    keys = list(key_deltas)
    basis = np.stack([key_deltas[k][landmarks] for k in keys]).astype(np.float32)
    return keys, neutral[landmarks].astype(np.float32), basis
