"""The Gaussians themselves: a dataclass of arrays, quaternion maths, covariances and SH colour.

Conventions (standard 3DGS): quaternions are ``(w, x, y, z)``; scales are stored as logs, opacities
activated (0..1) in memory (the PLY holds logits); spherical-harmonics coefficients ``sh`` have shape
``[N, K, 3]`` with ``K = (degree + 1)**2`` and ``sh[:, 0]`` the DC term. The colour is
``rgb = max(0, 0.5 + sum_k basis_k(dir) * sh_k)`` and is display-referred (sRGB-encoded).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import AddonError

C0 = 0.28209479177387814
C1 = 0.4886025119029199
C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792,
      0.5462742152960396)
C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
      -0.4570457994644658, 1.445305721320277, -0.5900435899266435)


class SplatError(AddonError, ValueError):
    """Bad Gaussian-splat input (file, arrays, binding); the message says what to fix."""


def sh_count(degree: int) -> int:
    """Number of SH coefficients per colour channel for ``degree`` (0..3)."""
    if degree not in (0, 1, 2, 3):
        raise SplatError(f"SH degree must be 0..3, got {degree}")
    return (degree + 1) ** 2


def sh_degree_of(count: int) -> int:
    """Inverse of :func:`sh_count`."""
    for degree in range(4):
        if (degree + 1) ** 2 == count:
            return degree
    raise SplatError(f"{count} SH coefficients per channel is not (degree+1)^2 for a degree 0..3")


@dataclass
class GaussianSet:
    """A set of 3D Gaussians.

    Attributes:
        means: ``[N, 3]`` float32 centres (object or world units).
        quats: ``[N, 4]`` float32 rotations ``(w, x, y, z)``, unit length.
        log_scales: ``[N, 3]`` float32 natural logs of the standard deviations along the local axes.
        opacities: ``[N]`` float32 in [0, 1].
        sh: ``[N, K, 3]`` float32 SH coefficients, ``K = (degree+1)**2``, ``sh[:, 0]`` = DC.
    """

    means: np.ndarray
    quats: np.ndarray
    log_scales: np.ndarray
    opacities: np.ndarray
    sh: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 3), np.float32))

    def __post_init__(self) -> None:
        n = len(self.means)
        self.means = np.ascontiguousarray(self.means, np.float32).reshape(n, 3)
        self.quats = np.ascontiguousarray(self.quats, np.float32).reshape(n, 4)
        self.log_scales = np.ascontiguousarray(self.log_scales, np.float32).reshape(n, 3)
        self.opacities = np.ascontiguousarray(self.opacities, np.float32).reshape(n)
        self.sh = np.ascontiguousarray(self.sh, np.float32)
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise SplatError(f"sh must have shape [N, K, 3] with N={n}, got {self.sh.shape}")
        sh_degree_of(self.sh.shape[1])

    def __len__(self) -> int:
        return len(self.means)

    @property
    def sh_degree(self) -> int:
        """SH degree 0..3."""
        return sh_degree_of(self.sh.shape[1])

    @classmethod
    def from_rgb(cls, means: np.ndarray, quats: np.ndarray, log_scales: np.ndarray,
                 opacities: np.ndarray, rgb: np.ndarray) -> GaussianSet:
        """Build a degree-0 set whose constant colour is ``rgb`` ``[N, 3]`` (display-referred)."""
        dc = (np.asarray(rgb, np.float32) - 0.5) / C0
        return cls(means, quats, log_scales, opacities, dc[:, None, :])

    def subset(self, index: np.ndarray) -> GaussianSet:
        """The Gaussians selected by a boolean mask or index array."""
        return GaussianSet(self.means[index], self.quats[index], self.log_scales[index],
                           self.opacities[index], self.sh[index])


def normalise_quats(quats: np.ndarray) -> np.ndarray:
    """Unit quaternions ``[N, 4]``; zero quaternions become the identity."""
    q = np.asarray(quats, np.float64)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    out = np.where(norm > 1e-12, q / np.maximum(norm, 1e-12), np.array([1.0, 0, 0, 0]))
    return out


def quats_to_matrices(quats: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[N, 3, 3]`` (float64) of quaternions ``[N, 4]`` ``(w, x, y, z)``."""
    w, x, y, z = np.moveaxis(normalise_quats(quats), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrices_to_quats(mats: np.ndarray) -> np.ndarray:
    """Unit quaternions ``[N, 4]`` ``(w, x, y, z)`` with w >= 0 of rotation matrices ``[N, 3, 3]``.

    Uses the largest-diagonal branch per matrix (Shepperd's method), so it is stable everywhere.
    """
    m = np.asarray(mats, np.float64).reshape(-1, 3, 3)
    trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    cands = np.stack([trace, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], -1)
    branch = np.argmax(cands, -1)
    q = np.empty((len(m), 4))
    for b in range(4):
        sel = branch == b
        if not sel.any():
            continue
        mm = m[sel]
        if b == 0:
            s = np.sqrt(np.maximum(trace[sel] + 1.0, 1e-12)) * 2
            q[sel] = np.stack([0.25 * s, (mm[:, 2, 1] - mm[:, 1, 2]) / s,
                               (mm[:, 0, 2] - mm[:, 2, 0]) / s, (mm[:, 1, 0] - mm[:, 0, 1]) / s], -1)
        else:
            i, j, k = (b - 1), b % 3, (b + 1) % 3
            s = np.sqrt(np.maximum(1.0 + mm[:, i, i] - mm[:, j, j] - mm[:, k, k], 1e-12)) * 2
            qq = np.empty((len(mm), 4))
            qq[:, 0] = (mm[:, k, j] - mm[:, j, k]) / s
            qq[:, 1 + i] = 0.25 * s
            qq[:, 1 + j] = (mm[:, j, i] + mm[:, i, j]) / s
            qq[:, 1 + k] = (mm[:, k, i] + mm[:, i, k]) / s
            q[sel] = qq
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def covariances(quats: np.ndarray, log_scales: np.ndarray, linear: np.ndarray | None = None) -> np.ndarray:
    """3D covariances ``Σ = A R diag(s)² Rᵀ Aᵀ`` ``[N, 3, 3]`` (float64).

    Args:
        quats: ``[N, 4]`` rotations.
        log_scales: ``[N, 3]`` log standard deviations.
        linear: optional ``[3, 3]`` linear part ``A`` of an object-to-world transform (any affine,
            non-uniform scale included), or ``[N, 3, 3]`` per Gaussian.
    """
    rs = quats_to_matrices(quats) * np.exp(np.asarray(log_scales, np.float64))[:, None, :]
    if linear is not None:
        rs = np.asarray(linear, np.float64) @ rs
    return rs @ np.swapaxes(rs, -1, -2)


def sh_basis(dirs: np.ndarray, degree: int) -> np.ndarray:
    """Real SH basis values ``[N, K]`` for unit view directions ``[N, 3]`` (standard 3DGS ordering)."""
    d = np.asarray(dirs, np.float64)
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    cols = [np.full_like(x, C0)]
    if degree >= 1:
        cols += [-C1 * y, C1 * z, -C1 * x]
    if degree >= 2:
        xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
        cols += [C2[0] * xy, C2[1] * yz, C2[2] * (2 * zz - xx - yy), C2[3] * xz, C2[4] * (xx - yy)]
    if degree >= 3:
        cols += [C3[0] * y * (3 * xx - yy), C3[1] * xy * z, C3[2] * y * (4 * zz - xx - yy),
                 C3[3] * z * (2 * zz - 3 * xx - 3 * yy), C3[4] * x * (4 * zz - xx - yy),
                 C3[5] * z * (xx - yy), C3[6] * x * (xx - 3 * yy)]
    return np.stack(cols, -1)


def sh_colours(sh: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Display-referred colours ``[N, 3]`` (float32, >= 0) of SH ``[N, K, 3]`` seen along ``dirs``.

    Args:
        sh: ``[N, K, 3]`` coefficients.
        dirs: ``[N, 3]`` directions from the camera to each Gaussian, in the Gaussians' own frame
            (need not be normalised).
    """
    d = np.asarray(dirs, np.float64)
    d = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-12)
    basis = sh_basis(d, sh_degree_of(sh.shape[1]))
    rgb = np.einsum("nk,nkc->nc", basis, sh.astype(np.float64)) + 0.5
    return np.maximum(rgb, 0.0).astype(np.float32)


def transform_gaussians(gaussians: GaussianSet, matrix: np.ndarray) -> GaussianSet:
    """``gaussians`` mapped through an affine ``[4, 4]`` (non-uniform scale and shear included).

    Means are transformed; each covariance ``A Σ Aᵀ`` is re-factored into a rotation and scales by an
    eigen-decomposition (rotations kept proper). SH coefficients are kept as they are.
    """
    m = np.asarray(matrix, np.float64)
    means = gaussians.means.astype(np.float64) @ m[:3, :3].T + m[:3, 3]
    cov = covariances(gaussians.quats, gaussians.log_scales, m[:3, :3])
    evals, evecs = np.linalg.eigh(cov)
    flip = np.linalg.det(evecs) < 0
    evecs[flip, :, 2] *= -1
    log_scales = 0.5 * np.log(np.maximum(evals, 1e-30))
    return GaussianSet(means, matrices_to_quats(evecs), log_scales, gaussians.opacities, gaussians.sh)
