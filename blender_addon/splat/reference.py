"""The slow, obviously correct twin of the rasterizers: one Gaussian and one pixel at a time.

No tiles, no sorting tricks, no vectorisation: for each pixel centre, walk all Gaussians in depth
order and apply the rules of ``rules.py`` literally. Only for small test scenes (a 40×30 image with a
few dozen Gaussians takes about a second).
"""

from __future__ import annotations

import math

import numpy as np

from .camera import Camera
from .project import BLUR, CLAMP_MARGIN
from .rules import ALPHA_MAX, ALPHA_MIN, CUTOFF_POWER, T_MIN, RenderOutput, finish


def project_one(mean: np.ndarray, cov: np.ndarray, camera: Camera
                ) -> tuple[float, float, float, np.ndarray] | None:
    """Project one Gaussian: ``(u, v, depth, inverse 2D covariance [2, 2])``, or None when culled."""
    w2c = np.asarray(camera.world_to_camera, float)
    t = w2c[:3, :3] @ np.asarray(mean, float) + w2c[:3, 3]
    if not camera.near < t[2] < camera.far:
        return None
    if camera.ortho:
        u, v = camera.fx * t[0] + camera.cx, camera.fy * t[1] + camera.cy
        jac = np.array([[camera.fx, 0.0, 0.0], [0.0, camera.fy, 0.0]])
    else:
        u, v = camera.fx * t[0] / t[2] + camera.cx, camera.fy * t[1] / t[2] + camera.cy
        mx, my = CLAMP_MARGIN * camera.width / camera.fx, CLAMP_MARGIN * camera.height / camera.fy
        x = min(max(t[0] / t[2], -camera.cx / camera.fx - mx), (camera.width - camera.cx) / camera.fx + mx)
        y = min(max(t[1] / t[2], -camera.cy / camera.fy - my), (camera.height - camera.cy) / camera.fy + my)
        jac = np.array([[camera.fx / t[2], 0.0, -camera.fx * x / t[2]],
                        [0.0, camera.fy / t[2], -camera.fy * y / t[2]]])
    cov2 = jac @ w2c[:3, :3] @ np.asarray(cov, float) @ w2c[:3, :3].T @ jac.T + BLUR * np.eye(2)
    if np.linalg.det(cov2) <= 0:
        return None
    return u, v, float(t[2]), np.linalg.inv(cov2)


def rasterize(means: np.ndarray, covs: np.ndarray, colours: np.ndarray, opacities: np.ndarray,
              camera: Camera, background: np.ndarray | tuple = (0.0, 0.0, 0.0)) -> RenderOutput:
    """Same contract as ``raster_numpy.rasterize``."""
    splats = []
    for i in range(len(means)):
        p = project_one(means[i], covs[i], camera)
        if p is not None:
            splats.append((p[2], i, p))
    splats.sort(key=lambda s: (s[0], s[1]))
    acc = np.zeros((camera.height, camera.width, 4))
    trans = np.ones((camera.height, camera.width))
    for row in range(camera.height):
        for col in range(camera.width):
            px, py, t = col + 0.5, row + 0.5, 1.0
            for depth, i, (u, v, _, conic) in splats:
                d = np.array([px - u, py - v])
                power = -0.5 * float(d @ conic @ d)
                if power < CUTOFF_POWER:
                    continue
                alpha = min(ALPHA_MAX, float(opacities[i]) * math.exp(power))
                if alpha < ALPHA_MIN:
                    continue
                if t * (1.0 - alpha) < T_MIN:
                    break
                acc[row, col, :3] += np.asarray(colours[i], float) * alpha * t
                acc[row, col, 3] += depth * alpha * t
                t *= 1.0 - alpha
            trans[row, col] = t
    return finish(acc, trans, np.asarray(background, float))
