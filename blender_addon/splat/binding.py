"""Gaussians bound to the triangles of a deforming mesh (DESIGN.md §6).

Each triangle ``(p0, p1, p2)`` gives a frame: ``x = (p1 - p0)/|p1 - p0|`` (edge direction),
``z = normalise((p1 - p0) × (p2 - p0))`` (normal), ``y = z × x``; a centre ``c = (p0 + p1 + p2)/3``
and a scale ``s = (|p1 - p0| + h)/2`` with ``h`` the triangle's height over that edge. A bound
Gaussian stores its mean ``m_l``, rotation ``R_l`` and log scales ``σ_l`` in that frame; in world
(mesh object) space ``m = c + s R m_l``, ``rotation = R R_l`` with ``R = [x y z]``, and
``log scale = σ_l + log s``. Under any motion of the triangle that is a similarity (rigid motion and
uniform scale) the Gaussian moves exactly with it.

View-dependent colour turns with the triangle too: a binding also stores, per Gaussian, the rotation
``Q`` from the frame its SH coefficients were fitted in (its "colour frame") to its triangle frame at
bind time. Posed, the colour frame maps to mesh space by ``R Q`` (``sh_frames``), and the renderer
evaluates SH for the view direction rotated back by ``(R Q)ᵀ``, so a Gaussian that turns with its
triangle shows the colours it had for views that turn with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .model import GaussianSet, SplatError, matrices_to_quats, quats_to_matrices

_EPS = 1e-12


@dataclass
class Binding:
    """Where each Gaussian sits relative to its triangle.

    Attributes:
        tri_verts: ``[N, 3]`` int32 mesh vertex indices ``(v0, v1, v2)`` of each Gaussian's triangle
            (the order defines the frame).
        local_means: ``[N, 3]`` float32 mean in the triangle frame, in units of the frame scale.
        local_quats: ``[N, 4]`` float32 rotation ``(w, x, y, z)`` relative to the frame.
        local_log_scales: ``[N, 3]`` float32 log scales minus ``log s``.
        sh_quats: ``[N, 4]`` float32 rotation ``(w, x, y, z)`` from each Gaussian's colour (SH) frame
            to its triangle frame, fixed at bind time; None: the SH stay in mesh space (bindings
            stored before this field existed).
    """

    tri_verts: np.ndarray
    local_means: np.ndarray
    local_quats: np.ndarray
    local_log_scales: np.ndarray
    sh_quats: np.ndarray | None = None
    # Rotation matrices of local_quats / sh_quats, filled by the first pose() (the binding is fixed).
    _local_rs: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _sh_mats: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.tri_verts)
        self.tri_verts = np.ascontiguousarray(self.tri_verts, np.int32).reshape(n, 3)
        self.local_means = np.ascontiguousarray(self.local_means, np.float32).reshape(n, 3)
        self.local_quats = np.ascontiguousarray(self.local_quats, np.float32).reshape(n, 4)
        self.local_log_scales = np.ascontiguousarray(self.local_log_scales, np.float32).reshape(n, 3)
        if self.sh_quats is not None:
            self.sh_quats = np.ascontiguousarray(self.sh_quats, np.float32).reshape(n, 4)

    def __len__(self) -> int:
        return len(self.tri_verts)

    def check(self, vertex_count: int) -> None:
        """Raise :class:`SplatError` when a triangle index is outside a mesh of ``vertex_count``."""
        if len(self) and (self.tri_verts.min() < 0 or self.tri_verts.max() >= vertex_count):
            raise SplatError(
                f"the splat is bound to vertex {int(self.tri_verts.max())} but the mesh has {vertex_count} "
                "vertices: the mesh topology changed since binding (a modifier that adds vertices?); "
                "bind again with au_talking_head.bind_splat")


def triangle_frames(verts: np.ndarray, tri_verts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames of triangles.

    Args:
        verts: ``[V, 3]`` vertex positions.
        tri_verts: ``[N, 3]`` vertex indices.

    Returns:
        centres ``[N, 3]``, rotations ``[N, 3, 3]`` (columns x, y, z), scales ``[N]`` (float64).
    """
    v = np.asarray(verts, np.float64)
    p0, p1, p2 = (v[tri_verts[:, i]] for i in range(3))
    e = p1 - p0
    elen = np.linalg.norm(e, axis=1)
    nraw = np.cross(e, p2 - p0)
    nlen = np.linalg.norm(nraw, axis=1)
    x = e / np.maximum(elen, _EPS)[:, None]
    z = nraw / np.maximum(nlen, _EPS)[:, None]
    y = np.cross(z, x)
    scales = 0.5 * (elen + nlen / np.maximum(elen, _EPS))
    return (p0 + p1 + p2) / 3.0, np.stack([x, y, z], -1), np.maximum(scales, _EPS)


def bind(gaussians: GaussianSet, verts: np.ndarray, tri_verts: np.ndarray,
         sh_rotation: np.ndarray | None = None) -> Binding:
    """Express world (mesh-space) Gaussians in the frames of their triangles ``[N, 3]``.

    Args:
        gaussians: the Gaussians in mesh space.
        verts: ``[V, 3]`` mesh positions at bind time.
        tri_verts: ``[N, 3]`` each Gaussian's triangle.
        sh_rotation: ``[3, 3]`` rotation from the frame the SH coefficients were fitted in to mesh
            space (the rotation part of a splat-object-to-mesh transform); identity when None.
    """
    if len(tri_verts) != len(gaussians):
        raise SplatError(f"{len(tri_verts)} triangles for {len(gaussians)} Gaussians")
    c, rot, s = triangle_frames(verts, tri_verts)
    rt = np.swapaxes(rot, 1, 2)
    local_means = np.einsum("nij,nj->ni", rt, gaussians.means - c) / s[:, None]
    local_rot = rt @ quats_to_matrices(gaussians.quats)
    sh_rot = rt if sh_rotation is None else rt @ np.asarray(sh_rotation, np.float64)
    return Binding(tri_verts, local_means, matrices_to_quats(local_rot),
                   gaussians.log_scales - np.log(s)[:, None], matrices_to_quats(sh_rot))


def bind_on_surface(verts: np.ndarray, tri_verts: np.ndarray, bary: np.ndarray, radii: np.ndarray,
                    flatness: float = 0.15, elongation: np.ndarray | None = None,
                    tangents: np.ndarray | None = None) -> Binding:
    """Binding of flat discs (or strokes) lying on triangles (used by the splat twin).

    Args:
        verts: ``[V, 3]`` rest positions.
        tri_verts: ``[N, 3]`` vertex indices of each disc's triangle.
        bary: ``[N, 3]`` barycentric coordinates of each disc centre.
        radii: ``[N]`` disc standard deviations in mesh units.
        flatness: thickness along the normal relative to the radius.
        elongation: optional ``[N]`` standard deviation along ``tangents`` relative to the radius
            (1: a round disc; > 1: a stroke ``radii`` wide).
        tangents: optional ``[N, 3]`` mesh-space direction of each stroke (projected onto the triangle's
            plane); the triangle's first edge where absent or degenerate.
    """
    v = np.asarray(verts, np.float64)
    p = np.einsum("nk,nkj->nj", bary, v[tri_verts])
    c, rot, s = triangle_frames(v, tri_verts)
    rt = np.swapaxes(rot, 1, 2)
    local_means = np.einsum("nij,nj->ni", rt, p - c) / s[:, None]
    r = np.asarray(radii, np.float64) / s
    along = r if elongation is None else r * np.asarray(elongation, np.float64)
    log_scales = np.log(np.stack([along, r, r * flatness], 1))
    angle = np.zeros(len(tri_verts))
    if tangents is not None:
        t = np.einsum("nij,nj->ni", rt, np.asarray(tangents, np.float64))
        angle = np.where(np.hypot(t[:, 0], t[:, 1]) > _EPS, np.arctan2(t[:, 1], t[:, 0]), 0.0)
    zeros = np.zeros_like(angle)
    quats = np.stack([np.cos(angle / 2), zeros, zeros, np.sin(angle / 2)], 1)  # about the normal
    return Binding(tri_verts, local_means, quats, log_scales, matrices_to_quats(rt))


@dataclass
class Posed:
    """Bound Gaussians placed on a deformed mesh (mesh space).

    Attributes:
        means: ``[N, 3]`` float64 centres.
        rotations: ``[N, 3, 3]`` float64 rotation matrices.
        log_scales: ``[N, 3]`` float64 log standard deviations.
        sh_frames: ``[N, 3, 3]`` float64 rotation from each Gaussian's colour (SH) frame to mesh space,
            or None (SH in mesh space).
    """

    means: np.ndarray
    rotations: np.ndarray
    log_scales: np.ndarray
    sh_frames: np.ndarray | None

    def covariances(self, linear: np.ndarray | None = None) -> np.ndarray:
        """Covariances ``A R diag(s)² Rᵀ Aᵀ`` ``[N, 3, 3]`` with ``A`` an optional ``[3, 3]``."""
        rs = self.rotations * np.exp(self.log_scales)[:, None, :]
        if linear is not None:
            rs = np.asarray(linear, np.float64) @ rs
        return rs @ np.swapaxes(rs, 1, 2)


def pose(binding: Binding, verts: np.ndarray) -> Posed:
    """The bound Gaussians on the deformed mesh ``verts`` ``[V, 3]``, colour frames included.

    The per-Gaussian rotation matrices of the binding are computed once and kept on it, so posing the
    same binding frame after frame costs two batched 3×3 products and the triangle frames.
    """
    binding.check(len(verts))
    c, rot, s = triangle_frames(verts, binding.tri_verts)
    if binding._local_rs is None:
        binding._local_rs = quats_to_matrices(binding.local_quats)
        if binding.sh_quats is not None:
            binding._sh_mats = quats_to_matrices(binding.sh_quats)
    means = c + s[:, None] * np.einsum("nij,nj->ni", rot, binding.local_means)
    rotations = rot @ binding._local_rs
    sh_frames = None if binding._sh_mats is None else rot @ binding._sh_mats
    return Posed(means, rotations, binding.local_log_scales + np.log(s)[:, None], sh_frames)


def apply(binding: Binding, verts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World (mesh-space) means ``[N, 3]``, rotation matrices ``[N, 3, 3]`` and log scales ``[N, 3]``.

    Args:
        binding: the bound Gaussians.
        verts: ``[V, 3]`` current (deformed) positions of the mesh the binding refers to.
    """
    posed = pose(binding, verts)
    return posed.means, posed.rotations, posed.log_scales


def apply_to_set(binding: Binding, verts: np.ndarray, template: GaussianSet) -> GaussianSet:
    """``template`` (opacities, SH) moved onto the deformed mesh ``verts``.

    The SH coefficients are copied as they are (a GaussianSet has no colour frames): render bound
    Gaussians through :func:`pose` and ``render.SplatInstance.sh_frames`` for view-dependent colour.
    """
    means, rotations, log_scales = apply(binding, verts)
    return GaussianSet(means, matrices_to_quats(rotations), log_scales, template.opacities, template.sh)


def nearest_triangles(points: np.ndarray, verts: np.ndarray, tris: np.ndarray,
                      candidates: int = 16) -> np.ndarray:
    """Index of the nearest triangle ``[N]`` of each point ``[N, 3]`` (pure numpy, approximate search).

    Triangles are pre-selected by centroid distance (``candidates`` nearest centroids, chunked), then the
    exact point-triangle distance picks among them. Inside Blender, the add-on uses a BVH tree instead.
    """
    pts = np.asarray(points, np.float64)
    v = np.asarray(verts, np.float64)
    cent = v[tris].mean(1)
    k = min(candidates, len(tris))
    out = np.empty(len(pts), np.int64)
    for start in range(0, len(pts), 256):
        chunk = pts[start:start + 256]
        d2 = ((chunk[:, None, :] - cent[None]) ** 2).sum(-1)
        cand = np.argpartition(d2, k - 1, axis=1)[:, :k]
        tri = v[tris[cand]]  # [n, k, 3, 3]
        dist = _point_triangle_distance2(np.repeat(chunk[:, None], k, 1), tri)
        out[start:start + 256] = cand[np.arange(len(chunk)), dist.argmin(1)]
    return out


def _point_triangle_distance2(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Squared distance of points ``[..., 3]`` to triangles ``[..., 3, 3]``."""
    a, b, c = tri[..., 0, :], tri[..., 1, :], tri[..., 2, :]
    n = np.cross(b - a, c - a)
    nn = np.maximum((n * n).sum(-1), _EPS)
    t = ((p - a) * n).sum(-1) / nn
    q = p - t[..., None] * n
    inside = np.ones(q.shape[:-1], bool)
    for u, w in ((a, b), (b, c), (c, a)):
        inside &= (np.cross(w - u, q - u) * n).sum(-1) >= 0
    best = np.where(inside, ((p - q) ** 2).sum(-1), np.inf)
    for u, w in ((a, b), (b, c), (c, a)):
        e = w - u
        s = np.clip(((p - u) * e).sum(-1) / np.maximum((e * e).sum(-1), _EPS), 0, 1)
        best = np.minimum(best, ((p - u - s[..., None] * e) ** 2).sum(-1))
    return best
