"""Quad-mesh topology helpers for the rig generator (pure numpy): neighbours, edge loops, rings,
graph distances and flood fills. Vertex and face indices are those of the mesh passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Topology:
    """Adjacency of a quad mesh.

    Attributes:
        neighbours: per vertex, the sorted vertex indices sharing an edge with it.
        vertex_faces: per vertex, the set of faces using it.
        faces: [F, 4] vertex indices.
    """

    neighbours: tuple[tuple[int, ...], ...]
    vertex_faces: tuple[frozenset[int], ...]
    faces: np.ndarray


def build_topology(faces: np.ndarray, n_verts: int) -> Topology:
    """Adjacency of a quad mesh with ``n_verts`` vertices. faces: [F, 4] int."""
    nb: list[set[int]] = [set() for _ in range(n_verts)]
    vf: list[set[int]] = [set() for _ in range(n_verts)]
    for fi, face in enumerate(faces.tolist()):
        for k, a in enumerate(face):
            b = face[(k + 1) % len(face)]
            nb[a].add(b)
            nb[b].add(a)
            vf[a].add(fi)
    return Topology(tuple(tuple(sorted(s)) for s in nb), tuple(frozenset(s) for s in vf), faces)


def edge_loop(topo: Topology, a: int, b: int, max_steps: int = 400) -> list[int]:
    """Walk the quad edge loop that starts with edge (a, b), until it closes or ends.

    At a valence-4 vertex the loop continues through the edge that shares no face with the incoming
    edge. Returns the vertex indices in order; a closed loop does not repeat its first vertex.
    """
    path = [a, b]
    for _ in range(max_steps):
        prev, cur = path[-2], path[-1]
        shared = topo.vertex_faces[prev] & topo.vertex_faces[cur]
        nxt = [c for c in topo.neighbours[cur] if c != prev and not (topo.vertex_faces[c] & shared)]
        if len(topo.neighbours[cur]) != 4 or len(nxt) != 1:
            return path
        if nxt[0] == path[0]:
            return path
        path.append(nxt[0])
    return path


def horizontal_loop(topo: Topology, verts: np.ndarray, start: int) -> list[int]:
    """The closed edge loop through ``start`` that leaves it most horizontally (along +x).

    verts: [V, 3] positions with x across the face and y up (MakeHuman axes).
    """
    def score(j: int) -> float:
        d = verts[j] - verts[start]
        return float(d[0] - 3.0 * abs(d[1]))

    b = max(topo.neighbours[start], key=score)
    return edge_loop(topo, start, b)


def graph_distance(topo: Topology, sources: list[int], allowed: np.ndarray) -> np.ndarray:
    """Breadth-first edge-count distance from ``sources`` over vertices where ``allowed`` [V] is true.

    Returns: [V] int distances, -1 where unreached.
    """
    dist = np.full(len(topo.neighbours), -1, dtype=np.int64)
    queue: deque[int] = deque()
    for s in sources:
        dist[s] = 0
        queue.append(s)
    while queue:
        v = queue.popleft()
        for w in topo.neighbours[v]:
            if dist[w] < 0 and allowed[w]:
                dist[w] = dist[v] + 1
                queue.append(w)
    return dist


def flood_faces(topo: Topology, seed_face: int, face_mask: np.ndarray, barrier: set[tuple[int, int]]
                ) -> np.ndarray:
    """Faces reachable from ``seed_face`` through shared edges not in ``barrier`` (sorted vertex pairs).

    face_mask: [F] bool, the faces that may be visited. Returns [F] bool.
    """
    faces = topo.faces.tolist()
    edge_faces: dict[tuple[int, int], list[int]] = {}
    for fi, face in enumerate(faces):
        if not face_mask[fi]:
            continue
        for k, a in enumerate(face):
            b = face[(k + 1) % len(face)]
            edge_faces.setdefault((min(a, b), max(a, b)), []).append(fi)
    seen = np.zeros(len(faces), dtype=bool)
    seen[seed_face] = True
    queue: deque[int] = deque([seed_face])
    while queue:
        fi = queue.popleft()
        face = faces[fi]
        for k, a in enumerate(face):
            b = face[(k + 1) % len(face)]
            edge = (min(a, b), max(a, b))
            if edge in barrier:
                continue
            for g in edge_faces.get(edge, ()):
                if not seen[g]:
                    seen[g] = True
                    queue.append(g)
    return seen


def loop_edges(loop: list[int]) -> set[tuple[int, int]]:
    """The edges (sorted pairs) of a closed vertex loop."""
    return {(min(a, b), max(a, b)) for a, b in zip(loop, loop[1:] + loop[:1], strict=True)}


def split_ring(verts: np.ndarray, ring: list[int], upper_hint: int) -> tuple[list[int], list[int], int, int]:
    """Split a closed ring at its min-x and max-x vertices into the arc holding ``upper_hint`` and the other.

    Returns: (upper arc, lower arc, min-x corner, max-x corner); both arcs run from the min-x corner to the
    max-x corner, corners included, so they share their end points.
    """
    xs = verts[ring, 0]
    i_min, i_max = int(np.argmin(xs)), int(np.argmax(xs))
    n = len(ring)
    arc1 = [ring[(i_min + k) % n] for k in range((i_max - i_min) % n + 1)]
    arc2 = [ring[(i_min - k) % n] for k in range((i_min - i_max) % n + 1)]
    upper, lower = (arc1, arc2) if upper_hint in arc1 else (arc2, arc1)
    return upper, lower, ring[i_min], ring[i_max]
