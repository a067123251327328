"""Tile rasterizer in numpy (no bpy, no torch): the path that always works inside Blender.

Stages, as in gsplat: project (``project.py``), bin and sort (each Gaussian is listed in every tile
that the bounding box of its cut-off ellipse touches; pairs are sorted by tile, then by depth),
composite. Compositing is vectorised over many tiles at once: in each round every still-active tile
takes its next chunk of Gaussians, evaluates ``α`` on its pixels (``[chunk, tiles, TILE²]``), and
turns the chunk into weights with a cumulative product of ``1 - α``; a tile leaves the active set when
every pixel's transmittance fell below ``T_MIN`` (early termination) or its list is exhausted.

The results do not depend on the tile size (``rules.py``): this CPU path uses 8×8 tiles, which wastes
far fewer pixel evaluations on the small Gaussians of a dense head than 16×16 ones, and bins each
Gaussian by the axis-aligned box of the ellipse where it can count (``power >= -4.5`` and
``o·exp(power) >= 1/255``), tighter than the square of its 3σ radius. All large per-round arrays live in
buffers allocated once per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import Camera
from .project import Projected, project
from .rules import ALPHA_MAX, ALPHA_MIN, CUTOFF_POWER, T_MIN, RenderOutput, finish

#: Tile side of the numpy path in pixels.
TILE = 8
#: Upper bound on ``pixels × chunk × tiles`` evaluated per round (memory: about 14 bytes × this).
PIXELS_PER_ROUND = 1 << 20
#: Relative and absolute slack on the binning extents (float32 evaluation near the cut-off).
_SLACK_REL, _SLACK_ABS = 1e-3, 1e-2


def extents(conics: np.ndarray, opacities: np.ndarray, radii: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half sizes in pixels ``[N]``, ``[N]`` of the box holding every pixel a Gaussian can count in.

    A Gaussian counts where ``-½ dᵀ Σ⁻¹ d >= max(-4.5, log(1 / (255 o)))``: an ellipse of "radius"
    ``k = sqrt(2 min(4.5, log(255 o)))`` whose box has half sizes ``k·sqrt(Σxx)`` and ``k·sqrt(Σyy)``
    (``Σ`` the blurred 2D covariance, recovered from the conic). Capped by the 3σ ``radii``.
    """
    a, b, c = conics[:, 0], conics[:, 1], conics[:, 2]
    det = np.maximum(a * c - b * b, 1e-30)
    with np.errstate(divide="ignore"):
        k2 = 2.0 * np.minimum(-CUTOFF_POWER, np.log(np.maximum(255.0 * opacities, 1e-30)))
    k2 = np.maximum(k2, 0.0) * (1.0 + _SLACK_REL)
    r = radii.astype(np.float64)
    rx = np.minimum(np.sqrt(k2 * c / det) + _SLACK_ABS, r)
    ry = np.minimum(np.sqrt(k2 * a / det) + _SLACK_ABS, r)
    return rx, ry


def bin_tiles(xy: np.ndarray, rx: np.ndarray, ry: np.ndarray, depth: np.ndarray, keep: np.ndarray,
              width: int, height: int, tile: int = TILE) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """List (tile, Gaussian) pairs sorted by tile then depth.

    Args:
        xy: ``[N, 2]`` centres in pixels.
        rx: ``[N]`` half width in pixels of the box each Gaussian touches.
        ry: ``[N]`` half height in pixels.
        depth: ``[N]`` camera z (sort key; ties keep the input order).
        keep: ``[N]`` bool, the Gaussians to list.
        width: image width in pixels.
        height: image height in pixels.
        tile: tile side in pixels.

    Returns:
        pair_gauss ``[P]`` Gaussian index of each pair, tile_start ``[T]`` and tile_count ``[T]`` into
        it, and the number of tiles per row.
    """
    ntx, nty = -(-width // tile), -(-height // tile)
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(depth[idx], kind="stable")]
    u, v, hx, hy = xy[idx, 0], xy[idx, 1], rx[idx], ry[idx]
    tx0 = np.clip(np.floor((u - hx - 0.5) / tile), 0, ntx - 1).astype(np.int64)
    tx1 = np.clip(np.floor((u + hx - 0.5) / tile), -1, ntx - 1).astype(np.int64)
    ty0 = np.clip(np.floor((v - hy - 0.5) / tile), 0, nty - 1).astype(np.int64)
    ty1 = np.clip(np.floor((v + hy - 0.5) / tile), -1, nty - 1).astype(np.int64)
    wx = np.maximum(tx1 - tx0 + 1, 0)
    wy = np.maximum(ty1 - ty0 + 1, 0)
    on = (wx > 0) & (wy > 0) & (u + hx >= 0) & (v + hy >= 0)
    idx, tx0, ty0, wx, wy = idx[on], tx0[on], ty0[on], wx[on], wy[on]
    counts = wx * wy
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(idx)), counts)
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    tiles = (ty0[owner] + offset // wx[owner]) * ntx + tx0[owner] + offset % wx[owner]
    order = np.argsort(tiles, kind="stable")
    tile_count = np.bincount(tiles, minlength=ntx * nty)
    tile_start = np.cumsum(tile_count) - tile_count
    return idx[owner[order]], tile_start, tile_count, ntx


@dataclass
class GaussianTerms:
    """Per-Gaussian float32 terms of the compositing stage, each with a padding row (index N) that never
    contributes (its threshold is +inf)."""

    u: np.ndarray  # [N + 1] centre x in pixels
    v: np.ndarray  # [N + 1] centre y in pixels
    ca: np.ndarray  # [N + 1] -a/2 of the conic (a, b, c)
    cb: np.ndarray  # [N + 1] -b
    cc: np.ndarray  # [N + 1] -c/2
    log_o: np.ndarray  # [N + 1] log opacity
    thresh: np.ndarray  # [N + 1] a pixel counts where power + log o >= thresh
    feats: np.ndarray  # [N + 1, 5] colour, depth, 1 (the weights then sum to the coverage)


def gaussian_terms(proj: Projected, opacities: np.ndarray, colours: np.ndarray) -> GaussianTerms:
    """The compositing terms of projected Gaussians.

    Args:
        proj: the projection of ``N`` Gaussians.
        opacities: ``[N]`` float64 in [0, 1].
        colours: ``[N, 3]`` display-referred colours.
    """
    n = len(opacities)
    with np.errstate(divide="ignore"):
        log_o = np.log(np.maximum(opacities, 1e-30))
    # power + log(o) >= thresh  <=>  inside the 3σ ellipse and o·exp(power) >= ALPHA_MIN
    thresh = np.append(np.maximum(CUTOFF_POWER + log_o, np.log(ALPHA_MIN)), np.inf).astype(np.float32)
    feats = np.zeros((n + 1, 5), np.float32)
    feats[:n, :3] = colours
    feats[:n, 3] = proj.depth
    feats[:n, 4] = 1.0
    return GaussianTerms(
        u=np.append(proj.xy[:, 0], 0).astype(np.float32),
        v=np.append(proj.xy[:, 1], 0).astype(np.float32),
        ca=np.append(-0.5 * proj.conics[:, 0], 0).astype(np.float32),
        cb=np.append(-proj.conics[:, 1], 0).astype(np.float32),
        cc=np.append(-0.5 * proj.conics[:, 2], 0).astype(np.float32),
        log_o=np.append(log_o, 0).astype(np.float32), thresh=thresh, feats=feats)


def rasterize(means: np.ndarray, covs: np.ndarray, colours: np.ndarray, opacities: np.ndarray,
              camera: Camera, background: np.ndarray | tuple = (0.0, 0.0, 0.0)) -> RenderOutput:
    """Render world-space Gaussians with the rules of ``rules.py``: project, bin and sort, composite.

    Args:
        means: ``[N, 3]`` world centres.
        covs: ``[N, 3, 3]`` world covariances.
        colours: ``[N, 3]`` display-referred colours (already evaluated from SH).
        opacities: ``[N]`` in [0, 1].
        camera: the camera (image size included).
        background: ``[3]`` display-referred background colour.
    """
    width, height = camera.width, camera.height
    proj = project(means, covs, camera)
    opac = np.asarray(opacities, np.float64)
    keep = proj.valid & (proj.radii > 0) & (opac >= ALPHA_MIN)
    rx, ry = extents(proj.conics, opac, proj.radii)
    pair_gauss, tile_start, tile_count, ntx = bin_tiles(proj.xy, rx, ry, proj.depth, keep, width, height)
    acc = composite(gaussian_terms(proj, opac, colours), pair_gauss, tile_start, tile_count, ntx)
    img, t_img = _untile(acc[..., :4], 1.0 - acc[..., 4], ntx, width, height)
    return finish(img, t_img, np.asarray(background, np.float32))


def composite(terms: GaussianTerms, pair_gauss: np.ndarray, tile_start: np.ndarray, tile_count: np.ndarray,
              ntx: int) -> np.ndarray:
    """Front-to-back alpha compositing of every tile's depth-sorted list, many tiles per round.

    Args:
        terms: the per-Gaussian terms (:func:`gaussian_terms`).
        pair_gauss: ``[P]`` Gaussian index of each (tile, Gaussian) pair, sorted by tile then depth.
        tile_start: ``[T]`` first pair of each tile.
        tile_count: ``[T]`` number of pairs of each tile.
        ntx: tiles per row.

    Returns:
        ``[T, TILE², 5]`` accumulated colour, depth and coverage per tile pixel (row-major in the tile).
    """
    n = len(terms.u) - 1
    npx = TILE * TILE
    ntiles = len(tile_count)
    acc = np.zeros((ntiles, npx, 5), np.float32)
    t_cum = np.ones((ntiles, npx), np.float32)
    local = np.arange(TILE, dtype=np.float32) + 0.5
    active = np.flatnonzero(tile_count)
    done = np.zeros(ntiles, np.int64)
    last = max(len(pair_gauss) - 1, 0)
    pair_gauss = np.append(pair_gauss, n)
    budget = PIXELS_PER_ROUND // npx  # chunk × tiles per round
    room = max(budget, 8 * ntiles) * npx
    buf_alpha = np.empty(room, np.float32)  # power, then 1 - α, then the weights
    buf_mask = np.empty(room, bool)
    buf_t = np.empty(room + ntiles * npx, np.float32)  # T before / after each Gaussian
    while len(active):
        na = len(active)
        left = tile_count[active] - done[active]
        chunk = int(min(np.clip(budget // na, 8, 256), left.max()))
        k = np.arange(chunk)[:, None]
        pos = np.minimum(tile_start[active] + done[active] + k, last)
        g = np.where(k < left, pair_gauss[pos], n)  # [C, A]
        ox = ((active % ntx) * TILE).astype(np.float32)
        oy = ((active // ntx) * TILE).astype(np.float32)
        dx = local - (terms.u[g] - ox)[..., None]  # [C, A, TILE]
        dy = local - (terms.v[g] - oy)[..., None]  # [C, A, TILE]
        px = terms.ca[g][..., None] * dx * dx + terms.log_o[g][..., None]
        py = terms.cc[g][..., None] * dy * dy
        size = chunk * na * npx
        power = buf_alpha[:size].reshape(chunk, na, TILE, TILE)
        np.add(px[:, :, None, :], py[:, :, :, None], out=power)
        power += (terms.cb[g][..., None] * dx)[:, :, None, :] * dy[:, :, :, None]
        power = power.reshape(chunk, na, npx)
        outside = np.less(power, terms.thresh[g][..., None], out=buf_mask[:size].reshape(chunk, na, npx))
        alpha = np.exp(power, out=power)
        np.minimum(alpha, ALPHA_MAX, out=alpha)
        one_minus = np.subtract(1.0, alpha, out=alpha)
        np.copyto(one_minus, 1.0, where=outside)
        tc = buf_t[:size + na * npx].reshape(chunk + 1, na, npx)
        tc[0] = t_cum[active]
        for i in range(chunk):
            np.multiply(tc[i], one_minus[i], out=tc[i + 1])
        weights = np.subtract(tc[:-1], tc[1:], out=one_minus)  # alpha_i * T_i
        if tc[-1].min() < T_MIN:  # a Gaussian that would take T below T_MIN is not added
            np.copyto(weights, 0.0, where=np.less(tc[1:], T_MIN, out=outside))
        acc[active] += np.matmul(weights.transpose(1, 2, 0), terms.feats[g].transpose(1, 0, 2))
        t_cum[active] = tc[-1]
        done[active] += chunk
        alive = (done[active] < tile_count[active]) & (tc[-1].max(1) >= T_MIN)
        active = active[alive]
    return acc


def _untile(acc: np.ndarray, trans: np.ndarray, ntx: int, width: int, height: int
            ) -> tuple[np.ndarray, np.ndarray]:
    nty = len(acc) // ntx
    img = acc.reshape(nty, ntx, TILE, TILE, 4).transpose(0, 2, 1, 3, 4).reshape(nty * TILE, ntx * TILE, 4)
    t = trans.reshape(nty, ntx, TILE, TILE).transpose(0, 2, 1, 3).reshape(nty * TILE, ntx * TILE)
    return img[:height, :width], t[:height, :width]
