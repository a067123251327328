"""Fit the splat twin's colours to reference renders of its mesh (pure: numpy + scipy; build time only).

With the Gaussians' geometry and opacities fixed, a rendered pixel is linear in their colours (the rules
of ``blender_addon.splat.rules``): ``C(p) = Σᵢ wᵢ(p) cᵢ + T(p)·background`` with ``wᵢ = αᵢ Tᵢ``. So a
3DGS-style colour optimisation over many views and expressions is a sparse linear least-squares problem:
:func:`pixel_weights` lists the weights of one view exactly as the numpy rasterizer composites them (a test
checks ``W c + T·bg`` against ``raster_numpy.rasterize``), :func:`fit_colours` stacks the views and solves
``min ‖W c - (target - T·bg)‖² + λ‖c - prior‖²`` per channel with LSQR (damped towards the prior colours,
so Gaussians no view sees keep theirs), then a few projected-gradient steps keep colours in [0, 1].
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from blender_addon.splat.camera import Camera
from blender_addon.splat.project import project
from blender_addon.splat.raster_numpy import bin_tiles, extents, gaussian_terms
from blender_addon.splat.rules import ALPHA_MAX, ALPHA_MIN, T_MIN

log = logging.getLogger(__name__)

#: Weights below this are dropped from the system (they change a pixel by under 1/500 of a colour).
MIN_WEIGHT = 2e-3
TILE = 16


@dataclass
class ViewWeights:
    """The linear map from Gaussian colours to one view's pixels.

    Attributes:
        rows: ``[P]`` int64 pixel index (row-major, row 0 at the top).
        cols: ``[P]`` int64 Gaussian index.
        weights: ``[P]`` float32 ``αᵢ Tᵢ`` of that Gaussian in that pixel.
        trans: ``[H, W]`` float32 final transmittance (the background's weight).
    """

    rows: np.ndarray
    cols: np.ndarray
    weights: np.ndarray
    trans: np.ndarray


def pixel_weights(means: np.ndarray, covs: np.ndarray, opacities: np.ndarray, camera: Camera,
                  min_weight: float = 0.0) -> ViewWeights:
    """Every Gaussian's compositing weight in every pixel of ``camera`` (world ``means`` ``[N, 3]``,
    ``covs`` ``[N, 3, 3]``, ``opacities`` ``[N]``); weights below ``min_weight`` are left out."""
    width, height = camera.width, camera.height
    proj = project(means, covs, camera)
    opac = np.asarray(opacities, np.float64)
    keep = proj.valid & (proj.radii > 0) & (opac >= ALPHA_MIN)
    rx, ry = extents(proj.conics, opac, proj.radii)
    pair_gauss, tile_start, tile_count, ntx = bin_tiles(proj.xy, rx, ry, proj.depth, keep, width, height,
                                                       TILE)
    terms = gaussian_terms(proj, opac, np.zeros((len(opac), 3), np.float32))
    trans = np.ones((height, width), np.float32)
    rows, cols, vals = [], [], []
    local = np.arange(TILE, dtype=np.float32) + 0.5
    for tile in np.flatnonzero(tile_count):
        g = pair_gauss[tile_start[tile]:tile_start[tile] + tile_count[tile]]
        x0, y0 = (tile % ntx) * TILE, (tile // ntx) * TILE
        dx = local[None, :] - (terms.u[g] - x0)[:, None]  # [G, TILE]
        dy = local[None, :] - (terms.v[g] - y0)[:, None]
        power = (terms.ca[g, None, None] * dx[:, None, :] ** 2 + terms.cc[g, None, None] * dy[:, :, None] ** 2
                 + terms.cb[g, None, None] * dx[:, None, :] * dy[:, :, None] + terms.log_o[g, None, None])
        power = power.reshape(len(g), -1)  # [G, TILE²] row-major in the tile
        alpha = np.where(power < terms.thresh[g, None], 0.0, np.minimum(np.exp(power), ALPHA_MAX))
        after = np.cumprod(1.0 - alpha, 0, dtype=np.float32)
        before = np.vstack([np.ones((1, alpha.shape[1]), np.float32), after[:-1]])
        w = np.where(after < T_MIN, 0.0, before - after)
        py, px = np.divmod(np.arange(TILE * TILE), TILE)
        py, px = py + y0, px + x0
        inside = (py < height) & (px < width)
        gi, pi = np.nonzero((w > max(min_weight, 0.0)) & inside[None, :])
        rows.append(py[pi] * width + px[pi])
        cols.append(g[gi])
        vals.append(w[gi, pi].astype(np.float32))
        trans[py[inside], px[inside]] = after[-1, inside]
    return ViewWeights(_cat(rows, np.int64), _cat(cols, np.int64), _cat(vals, np.float32), trans)


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def fit_colours(views: list[ViewWeights], targets: list[np.ndarray], backgrounds: list[np.ndarray],
                prior: np.ndarray, damp: float = 0.05, iterations: int = 200,
                masks: list[np.ndarray] | None = None) -> np.ndarray:
    """Colours ``[N, 3]`` in [0, 1] that best reproduce ``targets`` (display-referred ``[H, W, 3]``).

    Args:
        views: the weights of each view (:func:`pixel_weights`).
        targets: the reference image of each view.
        backgrounds: ``[3]`` display-referred background of each view.
        prior: ``[N, 3]`` starting colours (kept where no view constrains a Gaussian).
        damp: LSQR damping towards the prior.
        iterations: LSQR iterations per channel.
        masks: optional ``[H, W]`` bool per view, the pixels that count (default all).
    """
    from scipy.sparse import csr_matrix, vstack
    from scipy.sparse.linalg import lsqr

    n = len(prior)
    blocks, rhs = [], []
    for i, (view, target, bg) in enumerate(zip(views, targets, backgrounds, strict=True)):
        h, w = view.trans.shape
        mat = csr_matrix((view.weights, (view.rows, view.cols)), shape=(h * w, n))
        resid = target.reshape(-1, 3) - view.trans.reshape(-1, 1) * np.asarray(bg)[None, :3]
        if masks is not None:
            keep = np.flatnonzero(masks[i].ravel())
            mat, resid = mat[keep], resid[keep]
        blocks.append(mat)
        rhs.append(resid)
    a = vstack(blocks).tocsr()
    b = np.concatenate(rhs)
    out = np.asarray(prior, np.float64).copy()
    for ch in range(3):
        x = lsqr(a, b[:, ch] - a @ out[:, ch], damp=damp, iter_lim=iterations)[0]
        out[:, ch] = out[:, ch] + x
    out = _projected_steps(a, b, np.clip(out, 0.0, 1.0))
    rms = float(np.sqrt(np.mean((a @ out - b) ** 2)))
    log.info("fit: %d pixels, %d Gaussians, rms %.4f", a.shape[0], n, rms)
    return out.astype(np.float32)


def _projected_steps(a: object, b: np.ndarray, c: np.ndarray, steps: int = 60) -> np.ndarray:
    """Gradient steps on ``‖a c - b‖²`` with colours clipped to [0, 1] after each, scaled by
    ``diag(aᵀ a 1)``, which bounds ``aᵀ a`` for a non-negative ``a`` (so every step decreases the loss)."""
    from scipy.sparse import csr_matrix

    mat = csr_matrix(a)
    diag = np.asarray(mat.T @ (mat @ np.ones(mat.shape[1]))).ravel() + 1e-6
    for _ in range(steps):
        grad = mat.T @ (mat @ c - b)
        c = np.clip(c - grad / diag[:, None], 0.0, 1.0)
    return c
