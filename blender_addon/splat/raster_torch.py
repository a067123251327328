"""The tile rasterizer in torch: the same maths and rules as ``raster_numpy`` (its twin), on CUDA when
present, else on the CPU. Optional: torch is imported only when this module is used, and
``render.resolve_backend`` falls back to numpy when it is not importable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .camera import Camera
from .project import BLUR, CLAMP_MARGIN
from .rules import ALPHA_MAX, ALPHA_MIN, CUTOFF_POWER, T_MIN, TILE, RenderOutput, finish

#: Upper bound on ``tiles × chunk`` per round (CPU); the GPU takes 16x more per round.
WORK_PER_ROUND = 8192


def default_device() -> str:
    """``"cuda"`` when a CUDA device is visible, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def project(means: Any, covs: Any, camera: Camera) -> tuple[Any, ...]:
    """Torch twin of ``project.project``: xy [N, 2], depth [N], conics [N, 3], radii [N], valid [N].

    Written without in-place writes, so autograd can differentiate it (the build-time splat fit,
    ``rigs.head_build.splat_diffraster``, uses it for its projection).
    """
    import torch

    w2c = torch.as_tensor(np.asarray(camera.world_to_camera), dtype=means.dtype, device=means.device)
    rot = w2c[:3, :3]
    t = means @ rot.T + w2c[:3, 3]
    tz = t[:, 2]
    valid = (tz > camera.near) & (tz < camera.far)
    zero = torch.zeros_like(tz)
    if camera.ortho:
        xy = torch.stack([camera.fx * t[:, 0] + camera.cx, camera.fy * t[:, 1] + camera.cy], 1)
        row0 = torch.stack([zero + camera.fx, zero, zero], 1)
        row1 = torch.stack([zero, zero + camera.fy, zero], 1)
    else:
        z = torch.where(valid, tz, torch.ones_like(tz))
        xy = torch.stack([camera.fx * t[:, 0] / z + camera.cx, camera.fy * t[:, 1] / z + camera.cy], 1)
        mx, my = CLAMP_MARGIN * camera.width / camera.fx, CLAMP_MARGIN * camera.height / camera.fy
        txz = (t[:, 0] / z).clamp(-camera.cx / camera.fx - mx, (camera.width - camera.cx) / camera.fx + mx)
        tyz = (t[:, 1] / z).clamp(-camera.cy / camera.fy - my, (camera.height - camera.cy) / camera.fy + my)
        row0 = torch.stack([camera.fx / z, zero, -camera.fx * txz / z], 1)
        row1 = torch.stack([zero, camera.fy / z, -camera.fy * tyz / z], 1)
    jw = torch.stack([row0, row1], 1) @ rot  # [N, 2, 3]
    cov2 = jw @ covs @ jw.transpose(1, 2)
    a, b, c = cov2[:, 0, 0] + BLUR, cov2[:, 0, 1], cov2[:, 1, 1] + BLUR
    det = a * c - b * b
    valid = valid & (det > 0)
    det = torch.where(valid, det, torch.ones_like(det))
    conics = torch.stack([c / det, -b / det, a / det], 1)
    mid = 0.5 * (a + c)
    lam = mid + torch.sqrt((mid * mid - det).clamp(min=0))
    radii = torch.where(valid, torch.ceil(3.0 * torch.sqrt(lam.clamp(min=0))), torch.zeros_like(lam))
    return xy, tz, conics, radii, valid


def rasterize(means: np.ndarray, covs: np.ndarray, colours: np.ndarray, opacities: np.ndarray,
              camera: Camera, background: np.ndarray | tuple = (0.0, 0.0, 0.0),
              device: str | None = None) -> RenderOutput:
    """Same contract as ``raster_numpy.rasterize``; ``device`` defaults to :func:`default_device`.

    Stages: project (:func:`_project`), bin and sort (:func:`_bin`), composite (:func:`_composite`).
    """
    import torch

    dev = torch.device(device or default_device())
    with torch.no_grad():
        # Projection in float64 on the CPU (exact twin of numpy), float32 on a GPU.
        pdtype = torch.float64 if dev.type == "cpu" else torch.float32
        mt = torch.as_tensor(np.asarray(means), dtype=pdtype, device=dev)
        ct = torch.as_tensor(np.asarray(covs), dtype=pdtype, device=dev)
        xy, depth, conics, radii, valid = project(mt, ct, camera)
        opac = torch.as_tensor(np.asarray(opacities), dtype=pdtype, device=dev)
        keep = valid & (radii > 0) & (opac >= ALPHA_MIN)
        pair_gauss, tile_start, tile_count, ntx = _bin(xy, radii, depth, keep, camera.width, camera.height,
                                                      torch)
        params, feats = _terms(xy, depth, conics, opac, colours, torch)
        acc_np = _composite(params, feats, pair_gauss, tile_start, tile_count, ntx, torch).cpu().numpy()
    nty = len(acc_np) // ntx
    img = acc_np.reshape(nty, ntx, TILE, TILE, 5).transpose(0, 2, 1, 3, 4).reshape(nty * TILE, ntx * TILE, 5)
    img = img[:camera.height, :camera.width]
    return finish(img[..., :4], 1.0 - img[..., 4], np.asarray(background, np.float32))


def _terms(xy: Any, depth: Any, conics: Any, opac: Any, colours: np.ndarray, torch: Any) -> tuple[Any, Any]:
    """Torch twin of ``raster_numpy.gaussian_terms``, packed for one gather per round.

    Returns:
        params ``[N + 1, 7]`` float32: u, v, -a/2, -b, -c/2, log o, threshold of each Gaussian; feats
        ``[N + 1, 5]`` float32: colour, depth, 1. Row N is padding that never contributes.
    """
    f32, dev, pdtype = torch.float32, xy.device, xy.dtype
    n = len(xy)
    pad = torch.zeros(1, dtype=pdtype, device=dev)
    u = torch.cat([xy[:, 0], pad]).to(f32)
    v = torch.cat([xy[:, 1], pad]).to(f32)
    ca = torch.cat([-0.5 * conics[:, 0], pad]).to(f32)
    cb = torch.cat([-conics[:, 1], pad]).to(f32)
    cc = torch.cat([-0.5 * conics[:, 2], pad]).to(f32)
    log_o = torch.log(opac.clamp(min=1e-30))
    thresh = torch.cat([torch.clamp(CUTOFF_POWER + log_o, min=float(np.log(ALPHA_MIN))),
                        torch.full((1,), float("inf"), dtype=pdtype, device=dev)])
    params = torch.stack([u, v, ca, cb, cc, torch.cat([log_o, pad]).to(f32), thresh.to(f32)], 1)
    feats = torch.zeros((n + 1, 5), dtype=f32, device=dev)
    feats[:n, :3] = torch.as_tensor(np.asarray(colours), dtype=f32, device=dev)
    feats[:n, 3] = depth.to(f32)
    feats[:n, 4] = 1.0
    return params, feats


def _composite(params: Any, feats: Any, pair_gauss: Any, tile_start: Any, tile_count: Any, ntx: int,
               torch: Any) -> Any:
    """Torch twin of ``raster_numpy.composite``: ``[T, TILE², 5]`` colour, depth, coverage per tile pixel."""
    f32, dev = torch.float32, params.device
    n = len(params) - 1
    ntiles = len(tile_count)
    npx = TILE * TILE
    acc = torch.zeros((ntiles, npx, 5), dtype=f32, device=dev)
    t_cum = torch.ones((ntiles, npx), dtype=f32, device=dev)
    local = torch.arange(TILE, dtype=f32, device=dev) + 0.5
    active = torch.nonzero(tile_count).flatten()
    done = torch.zeros(ntiles, dtype=torch.long, device=dev)
    last = max(len(pair_gauss) - 1, 0)
    pair_gauss = torch.cat([pair_gauss, torch.full((1,), n, dtype=torch.long, device=dev)])
    work = WORK_PER_ROUND * (16 if dev.type == "cuda" else 1)
    while len(active):
        left = tile_count[active] - done[active]
        chunk = int(min(max(8, min(256, work // len(active))), int(left.max())))
        k = torch.arange(chunk, device=dev)[:, None]
        pos = (tile_start[active] + done[active] + k).clamp(max=last)
        g = torch.where(k < left, pair_gauss[pos], torch.full_like(pos, n))  # [C, A]
        p = params[g]  # [C, A, 7]
        ox = ((active % ntx) * TILE).to(f32)
        oy = ((active // ntx) * TILE).to(f32)
        dx = local - (p[..., 0] - ox)[..., None]  # [C, A, TILE]
        dy = local - (p[..., 1] - oy)[..., None]
        px = p[..., 2:3] * dx * dx + p[..., 5:6]
        py = p[..., 4:5] * dy * dy
        power = (p[..., 3:4] * dx)[:, :, None, :] * dy[:, :, :, None]  # [C, A, TILE, TILE]
        power += px[:, :, None, :]
        power += py[:, :, :, None]
        power = power.reshape(chunk, len(active), npx)
        power.masked_fill_(power < p[..., 6:7], float("-inf"))
        alpha = power.exp_().clamp_(max=ALPHA_MAX)
        tc = torch.empty((chunk + 1, len(active), npx), dtype=f32, device=dev)  # T before / after each
        tc[0] = t_cum[active]
        if dev.type == "cpu":
            one_minus = alpha.neg_().add_(1.0)
            for i in range(chunk):
                torch.mul(tc[i], one_minus[i], out=tc[i + 1])
        else:
            tc[1:] = torch.cumprod(1.0 - alpha, 0) * tc[0]
        weights = (tc[:-1] - tc[1:]).masked_fill_(tc[1:] < T_MIN, 0.0)  # alpha_i * T_i where counted
        acc[active] += torch.bmm(weights.permute(1, 2, 0), feats[g].permute(1, 0, 2))
        t_cum[active] = tc[-1]
        done[active] += chunk
        alive = (done[active] < tile_count[active]) & (tc[-1].amax(1) >= T_MIN)
        active = active[alive]
    return acc


def _bin(xy: Any, radii: Any, depth: Any, keep: Any, width: int, height: int, torch: Any
         ) -> tuple[Any, Any, Any, int]:
    """Torch twin of ``raster_numpy.bin_tiles``."""
    ntx, nty = -(-width // TILE), -(-height // TILE)
    idx = torch.nonzero(keep).flatten()
    idx = idx[torch.sort(depth[idx], stable=True).indices]
    u, v, r = xy[idx, 0], xy[idx, 1], radii[idx]
    tx0 = torch.floor((u - r - 0.5) / TILE).clamp(0, ntx - 1).long()
    tx1 = torch.floor((u + r - 0.5) / TILE).clamp(-1, ntx - 1).long()
    ty0 = torch.floor((v - r - 0.5) / TILE).clamp(0, nty - 1).long()
    ty1 = torch.floor((v + r - 0.5) / TILE).clamp(-1, nty - 1).long()
    wx = (tx1 - tx0 + 1).clamp(min=0)
    wy = (ty1 - ty0 + 1).clamp(min=0)
    on = (wx > 0) & (wy > 0) & (u + r >= 0) & (v + r >= 0)
    idx, tx0, ty0, wx, wy = idx[on], tx0[on], ty0[on], wx[on], wy[on]
    counts = wx * wy
    owner = torch.repeat_interleave(torch.arange(len(idx), device=xy.device), counts)
    firsts = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    offset = torch.arange(len(owner), device=xy.device) - firsts
    tiles = (ty0[owner] + offset // wx[owner]) * ntx + tx0[owner] + offset % wx[owner]
    order = torch.sort(tiles, stable=True).indices
    tile_count = torch.bincount(tiles, minlength=ntx * nty)
    tile_start = torch.cumsum(tile_count, 0) - tile_count
    return idx[owner[order]], tile_start, tile_count, ntx
