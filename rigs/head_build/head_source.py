"""Cut the head and neck out of the hm08 base mesh and find its facial features (pure numpy).

Stage contract (``stages.PREPARE``): reads the installed CC0 data (see ``hm08``), touches no Blender data.
Everything here is in MakeHuman units and axes (decimetres, +Y up, face towards +Z); ``default_head``
converts to Blender at the end.

Kept: the ``body`` faces whose four vertices lie above the bust cut (head, neck, shoulders and the top of
the chest, with the closed mouth bag; see ``bust_cut_y``), and the helper eyeballs, teeth, tongue and
eyelashes. The vertices on the cut's border are slid onto the cut curve, so the bust ends in one clean,
smooth edge instead of the stair steps of whole faces. Features found from the topology and the CC0
face units (no hand-typed vertex numbers, so the method is checkable):

- lip contact ring: the closed edge loop through the lowest front vertex of the upper lip on the midline;
  it runs along the upper lip's edge and back along the lower lip's edge (hm08's lips touch at rest).
- eyelid margin rings: the closed edge loop through the vertex an ARKit ``eyeBlink`` target moves most.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import hm08
from .topology import Topology, build_topology, horizontal_loop, split_ring

#: The bust cut (MakeHuman dm): flat across the upper chest at ``CHEST_CUT_Y``, rising as a parabola from
#: ``|x| = SHOULDER_X0`` by ``SHOULDER_RISE`` per ``SHOULDER_SPAN`` squared, so it closes over each shoulder
#: before the arm starts (the hm08 shoulder tops run from (0.6, 6.1) down to (2.2, 5.45)).
CHEST_CUT_Y = 4.75
SHOULDER_X0, SHOULDER_SPAN, SHOULDER_RISE = 1.3, 0.9, 1.0
#: Passes of the border snap (each a Newton step onto the cut curve).
SNAP_STEPS = 4
#: Helper groups kept with the head, by role.
EYE_GROUPS = {"L": "helper-l-eye", "R": "helper-r-eye"}
TEETH_GROUPS = ("helper-upper-teeth", "helper-lower-teeth")
TONGUE_GROUP = "helper-tongue"
EYELASH_PREFIXES = ("helper-l-eyelashes", "helper-r-eyelashes")


@dataclass(frozen=True)
class Ring:
    """A closed feature ring split into arcs that run from the min-x to the max-x corner (shared ends)."""

    upper: list[int]
    lower: list[int]
    corner_min_x: int
    corner_max_x: int

    @property
    def vertices(self) -> list[int]:
        """Every vertex of the ring once, in cycle order."""
        return self.upper + self.lower[-2:0:-1]


@dataclass
class HeadSource:
    """The head cut out of hm08 with its features, in MakeHuman units/axes.

    Attributes:
        verts: [V, 3] float64 positions (dm).
        faces: [F, 4] int64.
        face_groups: [F] source OBJ group of each face (``"body"``, ``"helper-l-eye"``...).
        source_index: [V] int64 index of each vertex in the full hm08 mesh.
        units: ARKit-named CC0 face units, each [V, 3] float64 displacement (dm).
        topo: adjacency of the cut mesh.
        lip_ring: the lip contact ring (upper arc = upper lip edge).
        eye_rings: eyelid margin ring per side ``"L"``/``"R"`` (character's side; L is +x).
        eye_centres: per side, [3] eyeball centre.
        eye_radius: mean eyeball radius (dm).
    """

    verts: np.ndarray
    faces: np.ndarray
    face_groups: tuple[str, ...]
    source_index: np.ndarray
    units: dict[str, np.ndarray]
    topo: Topology
    lip_ring: Ring
    eye_rings: dict[str, Ring]
    eye_centres: dict[str, np.ndarray]
    eye_radius: float
    extra_units: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def body_mask(self) -> np.ndarray:
        """[V] bool: vertices of the skin surface (group ``body``)."""
        mask = np.zeros(len(self.verts), dtype=bool)
        body = np.asarray([g == "body" for g in self.face_groups])
        mask[np.unique(self.faces[body])] = True
        return mask


def _keep_face(group: str) -> bool:
    return (group in EYE_GROUPS.values() or group in TEETH_GROUPS or group == TONGUE_GROUP
            or group.startswith(EYELASH_PREFIXES))


def bust_cut_y(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Height of the bust cut over ``x`` (dm) and its slope dy/dx: ``([N], [N])``."""
    t = np.maximum(np.abs(x) - SHOULDER_X0, 0.0) / SHOULDER_SPAN
    y = CHEST_CUT_Y + SHOULDER_RISE * t * t
    return y, 2.0 * SHOULDER_RISE * t / SHOULDER_SPAN * np.sign(x)


def _border_vertices(faces: np.ndarray) -> np.ndarray:
    """Vertices on edges used by one face only. faces: [F, 4]."""
    edges = np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2)
    edges = np.sort(edges, axis=1)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    return np.unique(uniq[counts == 1])


def snap_to_cut(verts: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Slide ``verts[idx]`` in the x-y plane onto the cut curve ``y = bust_cut_y(x)``; returns a copy."""
    out = verts.copy()
    for _ in range(SNAP_STEPS):
        x, y = out[idx, 0], out[idx, 1]
        cut, slope = bust_cut_y(x)
        g = y - cut
        grad = np.stack([-slope, np.ones_like(slope)], axis=1)
        out[idx, :2] -= (g / np.sum(grad * grad, axis=1))[:, None] * grad
    return out


def cut_head(mesh: hm08.ObjMesh) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]:
    """Select the bust faces of hm08 and compact their vertices (kept in source order, deterministic);
    the body's border vertices are snapped onto the cut curve.

    Returns: verts [V, 3], faces [F, 4], face groups [F], source_index [V].
    """
    cut, _ = bust_cut_y(mesh.verts[:, 0])
    inside = mesh.verts[:, 1] > cut
    above = np.all(inside[mesh.faces], axis=1)
    keep = np.asarray([(g == "body" and a) or _keep_face(g) for g, a in zip(mesh.face_groups, above,
                                                                             strict=True)])
    faces = mesh.faces[keep]
    source_index = np.unique(faces)
    remap = np.full(len(mesh.verts), -1, dtype=np.int64)
    remap[source_index] = np.arange(len(source_index))
    groups = tuple(g for g, k in zip(mesh.face_groups, keep, strict=True) if k)
    faces = remap[faces]
    body = np.asarray([g == "body" for g in groups])
    border = _border_vertices(faces[body])
    border = border[mesh.verts[source_index[border], 1] < CHEST_CUT_Y + 2 * SHOULDER_RISE]  # the cut only
    verts = snap_to_cut(mesh.verts[source_index], border)
    return verts, faces, groups, source_index


def _midline_lowest_upper_lip(verts: np.ndarray, body: np.ndarray, close: np.ndarray) -> int:
    """Lowest front vertex of the upper lip on the midline (mouthClose pushes the upper lip down)."""
    cand = np.nonzero(body & (np.abs(verts[:, 0]) < 1e-6) & (close[:, 1] < -1e-4))[0]
    front = cand[verts[cand, 2] > np.max(verts[cand, 2]) - 0.08]  # the outer surface, not the mouth bag
    return int(front[np.argmin(verts[front, 1])])


def find_lip_ring(verts: np.ndarray, topo: Topology, body: np.ndarray, close: np.ndarray) -> Ring:
    """The lip contact ring (see module docstring). close: [V, 3] the ARKit mouthClose unit."""
    start = _midline_lowest_upper_lip(verts, body, close)
    loop = horizontal_loop(topo, verts, start)
    upper, lower, c0, c1 = split_ring(verts, loop, start)
    return Ring(upper, lower, c0, c1)


def find_eye_ring(verts: np.ndarray, topo: Topology, body: np.ndarray, blink: np.ndarray) -> Ring:
    """The eyelid margin ring moved by one eye's blink unit (blink: [V, 3])."""
    start = int(np.argmax(np.linalg.norm(blink, axis=1) * body))
    loop = horizontal_loop(topo, verts, start)
    upper, lower, c0, c1 = split_ring(verts, loop, start)
    return Ring(upper, lower, c0, c1)


def load_head_source() -> HeadSource:
    """Read hm08 and its CC0 units from the installed packages, cut the head and find its features.

    Raises:
        SourceDataError: if the packages are missing.
    """
    mesh = hm08.base_mesh()
    all_units = hm08.face_units(len(mesh.verts))
    verts, faces, groups, source_index = cut_head(mesh)
    units = {name: d[source_index] for name, d in all_units.items()}
    extra = {"mouth-compression": hm08.expression_unit("mouth-compression", len(mesh.verts))[source_index]}
    topo = build_topology(faces, len(verts))
    body_faces = np.asarray([g == "body" for g in groups])
    body = np.zeros(len(verts), dtype=bool)
    body[np.unique(faces[body_faces])] = True
    lip_ring = find_lip_ring(verts, topo, body, units["mouthClose"])
    eye_rings = {side: find_eye_ring(verts, topo, body, units[f"eyeBlink{name}"])
                 for side, name in (("L", "Left"), ("R", "Right"))}
    centres: dict[str, np.ndarray] = {}
    radii = []
    for side, group in EYE_GROUPS.items():
        idx = np.unique(faces[np.asarray([g == group for g in groups])])
        centres[side] = verts[idx].mean(axis=0)
        radii.append(float(np.linalg.norm(verts[idx] - centres[side], axis=1).mean()))
    return HeadSource(verts, faces, groups, source_index, units, topo, lip_ring, eye_rings, centres,
                      float(np.mean(radii)), extra)
