"""Projection of 3D Gaussians to screen-space ellipses (EWA splatting, as in 3DGS), numpy.

For a camera-space mean ``t`` the perspective Jacobian is
``J = [[fx/tz, 0, -fx·tx/tz²], [0, fy/tz, -fy·ty/tz²]]`` with ``tx/tz``, ``ty/tz`` clamped to 15% of
the image beyond its edges (keeps off-screen Gaussians near the camera from exploding); the 2D
covariance is ``J W Σ Wᵀ Jᵀ + 0.3·I`` (W the camera rotation), its inverse is the conic, and the
screen radius is ``ceil(3·sqrt(λ_max))``. Orthographic cameras use ``J = [[fx, 0, 0], [0, fy, 0]]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import Camera

BLUR = 0.3
CLAMP_MARGIN = 0.15


@dataclass
class Projected:
    """Screen-space Gaussians, one row per input Gaussian.

    Attributes:
        xy: ``[N, 2]`` float64 centre in pixels (continuous coordinates).
        depth: ``[N]`` float64 camera-space z.
        conics: ``[N, 3]`` float64 ``(a, b, c)`` of the inverse 2D covariance ``[[a, b], [b, c]]``.
        radii: ``[N]`` int64 screen radius in pixels (0 for culled Gaussians).
        valid: ``[N]`` bool, in front of the near plane with a proper 2D covariance.
    """

    xy: np.ndarray
    depth: np.ndarray
    conics: np.ndarray
    radii: np.ndarray
    valid: np.ndarray


def project(means: np.ndarray, covs: np.ndarray, camera: Camera) -> Projected:
    """Project world means ``[N, 3]`` and covariances ``[N, 3, 3]`` through ``camera``."""
    w2c = np.asarray(camera.world_to_camera, np.float64)
    rot = w2c[:3, :3]
    t = np.asarray(means, np.float64) @ rot.T + w2c[:3, 3]
    tz = t[:, 2]
    valid = (tz > camera.near) & (tz < camera.far)
    n = len(t)
    jac = np.zeros((n, 2, 3))
    if camera.ortho:
        xy = np.stack([camera.fx * t[:, 0] + camera.cx, camera.fy * t[:, 1] + camera.cy], 1)
        jac[:, 0, 0], jac[:, 1, 1] = camera.fx, camera.fy
    else:
        z = np.where(valid, tz, 1.0)
        xy = np.stack([camera.fx * t[:, 0] / z + camera.cx, camera.fy * t[:, 1] / z + camera.cy], 1)
        mx, my = CLAMP_MARGIN * camera.width / camera.fx, CLAMP_MARGIN * camera.height / camera.fy
        lox, hix = -camera.cx / camera.fx - mx, (camera.width - camera.cx) / camera.fx + mx
        loy, hiy = -camera.cy / camera.fy - my, (camera.height - camera.cy) / camera.fy + my
        txz = np.clip(t[:, 0] / z, lox, hix)
        tyz = np.clip(t[:, 1] / z, loy, hiy)
        jac[:, 0, 0] = camera.fx / z
        jac[:, 0, 2] = -camera.fx * txz / z
        jac[:, 1, 1] = camera.fy / z
        jac[:, 1, 2] = -camera.fy * tyz / z
    jw = jac @ rot
    cov2 = jw @ np.asarray(covs, np.float64) @ np.swapaxes(jw, 1, 2)
    a = cov2[:, 0, 0] + BLUR
    b = cov2[:, 0, 1]
    c = cov2[:, 1, 1] + BLUR
    det = a * c - b * b
    valid &= det > 0
    det = np.where(valid, det, 1.0)
    conics = np.stack([c / det, -b / det, a / det], 1)
    mid = 0.5 * (a + c)
    lam = mid + np.sqrt(np.maximum(mid * mid - det, 0.0))
    radii = np.where(valid, np.ceil(3.0 * np.sqrt(np.maximum(lam, 0.0))), 0).astype(np.int64)
    return Projected(xy, tz, conics, radii, valid)
