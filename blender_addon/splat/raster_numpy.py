"""Tile rasterizer in numpy (no bpy, no torch): the path that always works inside Blender.

Stages, as in gsplat: project (``project.py``), bin and sort (each Gaussian is listed in every 16×16
tile its 3σ square touches; pairs are sorted by tile, then by depth), composite. Compositing is
vectorised over many tiles at once: in each round every still-active tile takes its next chunk of
Gaussians, evaluates ``α`` on its 256 pixels (``[tiles, chunk, 16, 16]``), and turns the chunk into
weights with a cumulative product of ``1 - α``; a tile leaves the active set when every pixel's
transmittance fell below ``T_MIN`` (early termination) or its list is exhausted.
"""

from __future__ import annotations

import numpy as np

from .camera import Camera
from .project import project
from .rules import ALPHA_MAX, ALPHA_MIN, CUTOFF_POWER, T_MIN, TILE, RenderOutput, finish

#: Upper bound on ``tiles × chunk`` per round (memory: about 40 bytes × 256 × this).
WORK_PER_ROUND = 8192


def bin_tiles(xy: np.ndarray, radii: np.ndarray, depth: np.ndarray, keep: np.ndarray, width: int,
              height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """List (tile, Gaussian) pairs sorted by tile then depth.

    Returns:
        pair_gauss ``[P]`` Gaussian index of each pair, tile_start ``[T]`` and tile_count ``[T]`` into
        it, and the number of tiles per row.
    """
    ntx, nty = -(-width // TILE), -(-height // TILE)
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(depth[idx], kind="stable")]
    u, v, r = xy[idx, 0], xy[idx, 1], radii[idx].astype(np.float64)
    tx0 = np.clip(np.floor((u - r - 0.5) / TILE), 0, ntx - 1).astype(np.int64)
    tx1 = np.clip(np.floor((u + r - 0.5) / TILE), -1, ntx - 1).astype(np.int64)
    ty0 = np.clip(np.floor((v - r - 0.5) / TILE), 0, nty - 1).astype(np.int64)
    ty1 = np.clip(np.floor((v + r - 0.5) / TILE), -1, nty - 1).astype(np.int64)
    wx = np.maximum(tx1 - tx0 + 1, 0)
    wy = np.maximum(ty1 - ty0 + 1, 0)
    on = (wx > 0) & (wy > 0) & (u + r >= 0) & (v + r >= 0)
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


def rasterize(means: np.ndarray, covs: np.ndarray, colours: np.ndarray, opacities: np.ndarray,
              camera: Camera, background: np.ndarray | tuple = (0.0, 0.0, 0.0)) -> RenderOutput:
    """Render world-space Gaussians with the rules of ``rules.py``.

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
    pair_gauss, tile_start, tile_count, ntx = bin_tiles(proj.xy, proj.radii, proj.depth, keep, width, height)
    # Per-Gaussian terms, float32, with a padding row (index n) that never contributes.
    n = len(means)
    u = np.append(proj.xy[:, 0], 0).astype(np.float32)
    v = np.append(proj.xy[:, 1], 0).astype(np.float32)
    ca = np.append(-0.5 * proj.conics[:, 0], 0).astype(np.float32)
    cb = np.append(-proj.conics[:, 1], 0).astype(np.float32)
    cc = np.append(-0.5 * proj.conics[:, 2], 0).astype(np.float32)
    with np.errstate(divide="ignore"):
        log_o = np.log(np.maximum(opac, 1e-30))
    # power + log(o) >= thresh  <=>  inside the 3σ ellipse and o·exp(power) >= ALPHA_MIN
    thresh = np.append(np.maximum(CUTOFF_POWER + log_o, np.log(ALPHA_MIN)), np.inf).astype(np.float32)
    log_o = np.append(log_o, 0).astype(np.float32)
    feats = np.zeros((n + 1, 5), np.float32)  # colour, depth, 1 (the weights sum to the coverage)
    feats[:n, :3] = colours
    feats[:n, 3] = proj.depth
    feats[:n, 4] = 1.0

    ntiles = len(tile_count)
    acc = np.zeros((ntiles, TILE * TILE, 5), np.float32)
    t_cum = np.ones((ntiles, TILE * TILE), np.float32)
    local = np.arange(TILE, dtype=np.float32) + 0.5
    active = np.flatnonzero(tile_count)
    done = np.zeros(ntiles, np.int64)
    last = max(len(pair_gauss) - 1, 0)
    pair_gauss = np.append(pair_gauss, n)
    while len(active):
        left = tile_count[active] - done[active]
        chunk = int(min(np.clip(WORK_PER_ROUND // len(active), 8, 256), left.max()))
        k = np.arange(chunk)[:, None]
        pos = np.minimum(tile_start[active] + done[active] + k, last)
        g = np.where(k < left, pair_gauss[pos], n)  # [C, A]
        ox = ((active % ntx) * TILE).astype(np.float32)
        oy = ((active // ntx) * TILE).astype(np.float32)
        dx = local - (u[g] - ox)[..., None]  # [C, A, 16]
        dy = local - (v[g] - oy)[..., None]  # [C, A, 16]
        px = ca[g][..., None] * dx * dx + log_o[g][..., None]
        py = cc[g][..., None] * dy * dy
        power = px[:, :, None, :] + py[:, :, :, None]
        power += (cb[g][..., None] * dx)[:, :, None, :] * dy[:, :, :, None]  # [C, A, 16, 16]
        power = power.reshape(chunk, len(active), TILE * TILE)
        alpha = np.where(power >= thresh[g][..., None], np.exp(power), 0.0)
        np.minimum(alpha, ALPHA_MAX, out=alpha)
        np.subtract(1.0, alpha, out=alpha)  # now 1 - alpha
        tc = np.empty((chunk + 1, len(active), TILE * TILE), np.float32)  # T before / after each
        tc[0] = t_cum[active]
        for i in range(chunk):
            np.multiply(tc[i], alpha[i], out=tc[i + 1])
        weights = np.where(tc[1:] >= T_MIN, tc[:-1] - tc[1:], 0.0)  # alpha_i * T_i where counted
        acc[active] += np.matmul(weights.transpose(1, 2, 0), feats[g].transpose(1, 0, 2))
        t_cum[active] = tc[-1]
        done[active] += chunk
        alive = (done[active] < tile_count[active]) & (tc[-1].max(1) >= T_MIN)
        active = active[alive]
    trans = 1.0 - acc[..., 4]
    img, t_img = _untile(acc[..., :4], trans, ntx, width, height)
    return finish(img, t_img, np.asarray(background, np.float32))


def _untile(acc: np.ndarray, trans: np.ndarray, ntx: int, width: int, height: int
            ) -> tuple[np.ndarray, np.ndarray]:
    nty = len(acc) // ntx
    img = acc.reshape(nty, ntx, TILE, TILE, 4).transpose(0, 2, 1, 3, 4).reshape(nty * TILE, ntx * TILE, 4)
    t = trans.reshape(nty, ntx, TILE, TILE).transpose(0, 2, 1, 3).reshape(nty * TILE, ntx * TILE)
    return img[:height, :width], t[:height, :width]
