"""Every Gaussian's exact compositing weight in every pixel of a view (pure: numpy; build time only).

With the Gaussians' geometry and opacities fixed, a rendered pixel is linear in their colours (the rules
of ``blender_addon.splat.rules``): ``C(p) = Σᵢ wᵢ(p) cᵢ + T(p)·background`` with ``wᵢ = αᵢ Tᵢ``.
:func:`pixel_weights` lists the weights of one view exactly as the numpy rasterizer composites them (a test
checks ``W c + T·bg`` against ``raster_numpy.rasterize``). The fit itself is ``splat_refine`` (gradient
descent over colour, opacity, scales and offsets); these weights answer questions such as "how much of
the iris shows through a closed lid" (``tests/pure/test_splat_refine.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blender_addon.splat.camera import Camera
from blender_addon.splat.project import project
from blender_addon.splat.raster_numpy import bin_tiles, extents, gaussian_terms
from blender_addon.splat.rules import ALPHA_MAX, ALPHA_MIN, T_MIN

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
