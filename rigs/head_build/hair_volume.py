"""The default head's haircut as geometry: a shell grown out of the scalp (pure numpy, Blender axes, m).

The painted hair (``rigs.head_paint.hair_weights``) says where hair grows; this stage gives it volume.
Every scalp quad with hair weight on any of its vertices is copied and pushed out along the skin's vertex
normals by a thickness that

- ramps up with the hair weight and starts ``INSET`` under the skin, so the shell comes out of the skin
  along a smooth contour of the weight (the hairline: no quad steps, no float, no coplanar faces),
- is ``SIDE_THICKNESS`` over the ears and nape and grows to ``TOP_THICKNESS`` on the crown,
- carries clumps: a smooth, deterministic ripple of ``CLUMP_AMPLITUDE`` so the silhouette is not a helmet.

Scalp quads the shell covers at full thickness become region SCALP (skin, but hidden: the splat twin
spends few Gaussians there). The copies are new vertices appended after the head's own (landmark indices
do not move), region HAIR. Each copies its scalp vertex's shape-key deltas and zone weights, so a brow
raise lifts the hairline with the forehead, and its hm08 source index (``HeadData.source_index``: the
vertex it grew from).
"""

from __future__ import annotations

import numpy as np

from .. import head_paint
from .. import regions as rg
from ..head_data import HeadData
from .landmarks import vertex_normals

#: Thickness of the hair (m) over the ears and nape, and on the crown.
SIDE_THICKNESS, TOP_THICKNESS = 0.006, 0.016
#: How far under the skin the shell starts where the weight is zero (m).
INSET = 0.001
#: Height band (m above the eye line) over which the side thickness grows to the crown's.
TOP_FROM, TOP_TO = 0.03, 0.10
#: Hair weight at which the shell has its full thickness (it starts from zero at weight 0).
FULL_WEIGHT = 0.7
#: Clumps: amplitude (m) and the spatial frequencies (rad/m) of the ripple along the normal.
CLUMP_AMPLITUDE = 0.0012
CLUMP_FREQ = ((210.0, 0.0, 95.0), (0.0, 170.0, 140.0), (120.0, 150.0, 0.0))


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def thickness(points: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Hair thickness ``[N]`` (m) at scalp ``points`` ``[N, 3]`` with hair ``weight`` ``[N]``."""
    top = _smoothstep(TOP_FROM, TOP_TO, points[:, 2])
    base = SIDE_THICKNESS + (TOP_THICKNESS - SIDE_THICKNESS) * top
    ripple = np.mean([np.sin(points @ np.asarray(f)) for f in CLUMP_FREQ], axis=0)
    return _smoothstep(0.0, FULL_WEIGHT, weight) * (base + INSET + CLUMP_AMPLITUDE * ripple) - INSET


def add_hair(head: HeadData) -> HeadData:
    """``head`` with the hair shell appended (vertices, quads of region HAIR, deltas, zone weights)."""
    v, f = head.verts.astype(np.float64), head.faces
    skin = head_paint.skin_vertices(f, head.regions, len(v))
    weight = head_paint.hair_weights(v, skin).astype(np.float64)
    scalp = np.isin(head.regions, (rg.SKIN, rg.BROW)) & np.any(weight[f] > 0.0, axis=1)
    parents = np.unique(f[scalp])
    surface = np.isin(head.regions, (rg.SKIN, rg.BROW, rg.BODY))
    normals = vertex_normals(v, f[surface])[parents]
    grown = v[parents] + normals * thickness(v[parents], weight[parents])[:, None]
    remap = np.full(len(v), -1, np.int64)
    remap[parents] = len(v) + np.arange(len(parents))
    faces = np.concatenate([f, remap[f[scalp]]]).astype(np.int32)
    regions = head.regions.copy()
    regions[scalp & np.all(weight[f] >= FULL_WEIGHT, axis=1)] = rg.SCALP
    regions = np.concatenate([regions, np.full(int(scalp.sum()), rg.HAIR, head.regions.dtype)])
    deltas = {k: np.concatenate([d, d[parents]]) for k, d in head.shape_deltas.items()}
    groups = {k: np.concatenate([w, w[parents]]) for k, w in head.zone_groups.items()}
    return HeadData(np.concatenate([head.verts, grown.astype(np.float32)]), faces, regions, deltas, groups,
                    head.landmarks, head.head_size,
                    np.concatenate([head.source_index, head.source_index[parents]]))
