"""A differentiable Gaussian-splat rasterizer for fitting (torch autograd; build time only, never shipped).

It re-implements the published 3DGS image formation (EWA splatting, then front-to-back alpha compositing)
with the rules of ``blender_addon.splat.rules`` so that its forward pass agrees with
``blender_addon.splat.raster_numpy`` (a test compares them), while every step is a torch operation that
autograd can differentiate with respect to means, covariances, opacities and colours:

- :func:`project`: camera-space mean ``t = W m + w``, perspective Jacobian ``J`` (with the same
  off-screen clamp of ``tx/tz``, ``ty/tz`` as ``project.py``), 2D covariance ``J W Σ Wᵀ Jᵀ + 0.3 I`` and its
  inverse, the conic.
- :func:`build_pairs` (no gradient): the (pixel, Gaussian) pairs that can matter, sorted by pixel and then
  camera depth, i.e. each pixel's depth-ordered list. A pair is kept when the pixel lies inside the
  Gaussian's cut-off ellipse grown by ``grow`` (so the list stays valid while the fit changes scales a
  little) and the transmittance in front of it, under the current parameters, is above ``t_keep``. The
  list is rebuilt from time to time as the parameters move (sorting is not differentiable).
- :func:`composite`: per pair ``power = -½ dᵀ Σ⁻¹ d``, ``α = min(0.99, o·exp(power))`` where the rules let
  the Gaussian count, else 0; per pixel ``Tᵢ = Π_{j<i} (1 - αⱼ)`` as a segmented cumulative sum of
  ``log(1 - α)`` (float64), weight ``αᵢ Tᵢ`` (the pixel ends where ``T`` would drop below ``T_MIN``),
  colour ``Σ cᵢ αᵢ Tᵢ + T·background``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from blender_addon.splat import raster_torch
from blender_addon.splat.camera import Camera
from blender_addon.splat.raster_numpy import bin_tiles, extents
from blender_addon.splat.rules import ALPHA_MAX, ALPHA_MIN, CUTOFF_POWER, T_MIN

#: Tile side of the pair builder in pixels.
PAIR_TILE = 16
#: Gaussians per step of a tile's list in the pair builder (a tile stops once nothing shows through).
_CHUNK = 128


@dataclass
class Pairs:
    """Each pixel's depth-ordered list of Gaussians, flattened.

    Attributes:
        pix: ``[P]`` int64 pixel index (row-major, row 0 at the top), non-decreasing.
        gauss: ``[P]`` int64 Gaussian index; within a pixel, front to back.
        first: ``[P]`` int64 index of the first pair of the same pixel.
    """

    pix: Any
    gauss: Any
    first: Any

    def __len__(self) -> int:
        return len(self.pix)


def project(means: Any, covs: Any, camera: Camera) -> tuple[Any, Any, Any, Any]:
    """EWA projection (torch, differentiable) of world ``means`` ``[N, 3]`` and ``covs`` ``[N, 3, 3]``:
    the runtime's torch projection (``raster_torch.project``, written for autograd), without the radii.

    Returns:
        xy ``[N, 2]`` pixels, depth ``[N]`` camera z, conics ``[N, 3]`` ``(a, b, c)`` of the inverse 2D
        covariance, valid ``[N]`` bool (in the clip range with a positive-definite 2D covariance).
    """
    xy, depth, conics, _, valid = raster_torch.project(means, covs, camera)
    return xy, depth, conics, valid


def _radii(conics: np.ndarray) -> np.ndarray:
    """3σ screen radii ``[N]`` (pixels, rounded up) from conics ``[N, 3]``, as ``project.py``."""
    a, b, c = conics[:, 0], conics[:, 1], conics[:, 2]
    det = np.maximum(a * c - b * b, 1e-30)
    sa, sb, sc = c / det, -b / det, a / det  # the 2D covariance
    mid = 0.5 * (sa + sc)
    lam = mid + np.sqrt(np.maximum(mid * mid - (sa * sc - sb * sb), 0.0))
    return np.ceil(3.0 * np.sqrt(np.maximum(lam, 0.0)))


def _tile_power(offsets: np.ndarray, conics: np.ndarray) -> np.ndarray:
    """``-½ dᵀ Σ⁻¹ d`` ``[G, TILE²]`` (float32) at a tile's pixel centres for Gaussians at ``offsets``
    ``[G, 2]`` (pixels, relative to the tile's corner) with ``conics`` ``[G, 3]``."""
    local = np.arange(PAIR_TILE, dtype=np.float32) + 0.5
    dx = (local[None, :] - offsets[:, 0, None].astype(np.float32))[:, None, :]  # [G, 1, TILE]
    dy = (local[None, :] - offsets[:, 1, None].astype(np.float32))[:, :, None]  # [G, TILE, 1]
    c = conics.astype(np.float32)[:, :, None, None]
    quad = c[:, 0] * dx * dx + c[:, 2] * dy * dy + 2 * c[:, 1] * dx * dy
    return (-0.5 * quad).reshape(len(offsets), -1)


def build_pairs(xy: Any, depth: Any, conics: Any, valid: Any, opacities: Any, camera: Camera,
                grow: float = 1.0, t_keep: float = 1e-5) -> Pairs:
    """The (pixel, Gaussian) pairs of one view (no gradient; torch tensors in, int64 tensors out).

    Args:
        xy, depth, conics, valid: the outputs of :func:`project` for ``N`` Gaussians.
        opacities: ``[N]`` in [0, 1].
        camera: the view.
        grow: cut-off ellipses are enlarged by this factor (>= 1) when listing candidate pixels.
        t_keep: pairs behind which less transmittance than this is left (now) are dropped.
    """
    import torch

    xy_n, z_n = xy.detach().double().numpy(), depth.detach().double().numpy()
    con = conics.detach().double().numpy()
    opac = opacities.detach().double().numpy()
    width, height = camera.width, camera.height
    loose = con / (grow * grow)
    keep = valid.detach().numpy() & (opac >= ALPHA_MIN)
    rx, ry = extents(loose, opac, _radii(loose))
    pair_gauss, tile_start, tile_count, ntx = bin_tiles(xy_n, rx, ry, z_n, keep, width, height, PAIR_TILE)
    rank = np.empty(len(opac), np.int64)
    order = np.flatnonzero(keep)
    rank[order[np.argsort(z_n[order], kind="stable")]] = np.arange(len(order))
    log_o = np.log(np.maximum(opac, 1e-30))
    thresh = np.maximum(CUTOFF_POWER + log_o, math.log(ALPHA_MIN))
    py, px = np.divmod(np.arange(PAIR_TILE * PAIR_TILE), PAIR_TILE)
    pix_all, gauss_all = [], []
    for tile in np.flatnonzero(tile_count):
        x0, y0 = (tile % ntx) * PAIR_TILE, (tile // ntx) * PAIR_TILE
        inside = (py + y0 < height) & (px + x0 < width)
        trans = np.ones(PAIR_TILE * PAIR_TILE, np.float32)
        for lo in range(tile_start[tile], tile_start[tile] + tile_count[tile], _CHUNK):
            g = pair_gauss[lo:min(lo + _CHUNK, tile_start[tile] + tile_count[tile])]
            power = _tile_power(xy_n[g] - (x0, y0), con[g])  # [G, TILE²]
            counts = power + log_o[g, None] >= thresh[g, None]
            alpha = np.where(counts, np.minimum(opac[g, None] * np.exp(power), ALPHA_MAX), 0.0)
            after = trans * np.cumprod(1.0 - alpha, 0, dtype=np.float32)
            before = np.vstack([trans[None], after[:-1]])
            near = power * (1.0 / (grow * grow)) + log_o[g, None] >= thresh[g, None]
            gi, pi = np.nonzero(near & (before >= t_keep) & inside[None, :])
            pix_all.append((py[pi] + y0) * width + px[pi] + x0)
            gauss_all.append(g[gi])
            trans = after[-1]
            if trans.max() < t_keep:
                break
    pix = np.concatenate(pix_all) if pix_all else np.zeros(0, np.int64)
    gauss = np.concatenate(gauss_all) if gauss_all else np.zeros(0, np.int64)
    srt = np.lexsort((rank[gauss], pix))
    pix, gauss = pix[srt], gauss[srt]
    starts = np.flatnonzero(np.r_[True, pix[1:] != pix[:-1]]) if len(pix) else np.zeros(0, np.int64)
    first = np.repeat(starts, np.diff(np.r_[starts, len(pix)]))
    return Pairs(torch.as_tensor(pix), torch.as_tensor(gauss), torch.as_tensor(first))


def composite(pairs: Pairs, xy: Any, conics: Any, opacities: Any, colours: Any, camera: Camera,
              background: Any) -> tuple[Any, Any]:
    """Front-to-back alpha compositing along each pixel's list (torch, differentiable).

    Args:
        pairs: the lists (:func:`build_pairs`).
        xy: ``[N, 2]``, conics: ``[N, 3]`` (:func:`project`).
        opacities: ``[N]`` in [0, 1].
        colours: ``[N, 3]`` display-referred colours.
        camera: the view (image size).
        background: ``[3]`` display-referred background.

    Returns:
        rgb ``[H, W, 3]`` and coverage ``1 - T`` ``[H, W]``.
    """
    import torch

    width, height = camera.width, camera.height
    g, pix = pairs.gauss, pairs.pix
    dx = (pix % width).to(xy.dtype) + 0.5 - xy[g, 0]
    dy = torch.div(pix, width, rounding_mode="floor").to(xy.dtype) + 0.5 - xy[g, 1]
    con = conics[g]
    power = -0.5 * (con[:, 0] * dx * dx + con[:, 2] * dy * dy) - con[:, 1] * dx * dy
    opac = opacities[g]
    log_o = torch.log(opac.clamp(min=1e-30))
    counts = (power >= CUTOFF_POWER) & (power + log_o >= math.log(ALPHA_MIN))
    alpha = torch.where(counts, (opac * torch.exp(power.clamp(max=0.0))).clamp(max=ALPHA_MAX),
                        torch.zeros_like(power))
    logt = torch.log1p(-alpha.double())
    incl = torch.cumsum(logt, 0)
    excl = incl - logt
    base = excl[pairs.first]
    t_before, t_after = torch.exp(excl - base), torch.exp(incl - base)
    added = t_after >= T_MIN  # a Gaussian that would take T below T_MIN ends the pixel
    weights = torch.where(added, t_before - t_after, torch.zeros_like(t_after)).to(colours.dtype)
    npx = width * height
    rgb = torch.zeros((npx, 3), dtype=colours.dtype).index_add(0, pix, weights[:, None] * colours[g])
    kept = torch.where(added, logt, torch.zeros_like(logt))
    trans = torch.exp(torch.zeros(npx, dtype=torch.float64).index_add(0, pix, kept)).to(colours.dtype)
    bg = torch.as_tensor(np.asarray(background, np.float64)[:3], dtype=colours.dtype)
    rgb = rgb + trans[:, None] * bg
    return rgb.reshape(height, width, 3), (1.0 - trans).reshape(height, width)


def render(means: Any, covs: Any, opacities: Any, colours: Any, camera: Camera, background: Any,
           grow: float = 1.0, t_keep: float = 1e-5) -> tuple[Any, Any]:
    """Project, list pairs and composite in one call (``[H, W, 3]`` rgb, ``[H, W]`` coverage)."""
    xy, depth, conics, valid = project(means, covs, camera)
    pairs = build_pairs(xy, depth, conics, valid, opacities, camera, grow, t_keep)
    return composite(pairs, xy, conics, opacities, colours, camera, background)
