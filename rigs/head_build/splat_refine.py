"""Fit the splat twin to reference renders by gradient descent (torch autograd; build time only).

The 3DGS optimisation, with the twin's geometry bound to its mesh: for every Gaussian it fits the colour
(the SH DC term, and grey SH of degree 1 or 2 for the view-dependent sheen of the studio light), the
opacity (through a logit), a change of its three log scales, and an offset of its mean in its triangle's
frame (units of the frame's scale; the fit may move eyeball Gaussians inwards only). Each step renders
one training view (``splat_views.FitView``: a Cycles image of the mesh and the twin posed for its
expression) with the differentiable rasterizer (``splat_diffraster``) and takes an Adam step on the
squared error of the whole image (background included, so coverage at the silhouette is fitted too); the
learning rates fall on a cosine to a tenth. Pair lists are rebuilt every ``rebuild_every`` epochs, since
depth order and which pixels a Gaussian reaches change as the parameters move. Values are kept to the
ranges the file stores (``rigs.splat_twin``).

Eyeball Gaussians (eye white, iris) get a fixed offset ``EYE_RECESS`` into the eye before the fit:
Gaussians are sorted by their centres' depth, so a disc on the cornea could otherwise sort in front of a
disc of the closed lid that covers the same pixels, and the iris would show through a blink.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blender_addon.splat import model
from rigs import regions as rg
from rigs import splat_twin

from . import splat_diffraster as dr
from .splat_views import FitSet, FitView, views_of

log = logging.getLogger(__name__)

#: Fixed offset of eyeball Gaussians along their triangle's normal (triangle-frame units; negative: inwards).
EYE_RECESS = -0.9
C1 = model.C1


@dataclass
class RefineOptions:
    """Settings of :func:`refine`: learning rates (Adam's, per parameter group), pair-list rebuilds and
    their margins (``grow``, ``t_keep``: see ``splat_diffraster.build_pairs``), the ranges parameters are
    kept in, the torch CPU threads; ``history`` collects each epoch's mean squared error."""

    epochs: int = 20
    sh_degree: int = 2
    lr_rgb: float = 0.02
    lr_sh: float = 0.01
    lr_opacity: float = 0.05
    lr_scale: float = 0.02
    lr_offset: float = 0.01
    rebuild_every: int = 1
    grow: float = 1.2
    t_keep: float = 1e-4
    max_log_scale: float = 0.8
    min_log_scale: float = -2.0
    max_offset: float = 0.4
    seed: int = 0
    threads: int = 1
    log_every: int = 1
    history: list[float] = field(default_factory=list)


@dataclass
class TwinParams:
    """The fitted values (torch leaf tensors).

    Attributes:
        rgb: ``[N, 3]`` display-referred colour (DC).
        sh_rest: ``[N, K - 1]`` SH coefficients beyond DC (``K = (degree + 1)²``) shared by the three
            channels (a grey, view-dependent term: the specular sheen of the studio light is white), or None.
        opacity_logits: ``[N]``.
        log_scale_deltas: ``[N, 3]``.
        offsets: ``[N, 3]`` fitted change of the triangle-frame offsets (units of the frame scale).
        base_offsets: ``[N, 3]`` fixed offsets the fit starts from (the eyeball recess; no gradient).
        forward_limit: ``[N]`` how far (triangle-frame units) the fit may move each Gaussian out along its
            normal: 0 for the recessed eyeballs, which must stay behind the lids.
    """

    rgb: Any
    sh_rest: Any
    opacity_logits: Any
    log_scale_deltas: Any
    offsets: Any
    base_offsets: Any
    forward_limit: Any


def initial_params(fit_set: FitSet, sh_degree: int = 0) -> TwinParams:
    """Starting values: the set's colours and opacities, no scale change, eyeball Gaussians recessed."""
    import torch

    n = len(fit_set.rgb)
    opac = np.clip(fit_set.opacities.astype(np.float64), 1e-3, 1 - 1e-3)
    offsets = np.zeros((n, 3), np.float32)
    eye = np.isin(fit_set.codes, (rg.EYE_WHITE, rg.IRIS))
    offsets[eye, 2] = EYE_RECESS

    def leaf(a: np.ndarray) -> Any:
        return torch.tensor(np.asarray(a, np.float32), requires_grad=True)

    sh_rest = leaf(np.zeros((n, (sh_degree + 1) ** 2 - 1))) if sh_degree >= 1 else None
    return TwinParams(leaf(fit_set.rgb), sh_rest,
                      leaf(np.log(opac / (1 - opac))), leaf(np.zeros((n, 3))), leaf(np.zeros((n, 3))),
                      torch.tensor(offsets), torch.tensor(np.where(eye, 0.0, np.inf), dtype=torch.float32))


def view_tensors(view: FitView) -> dict[str, Any]:
    """The arrays of ``view`` as float32 torch tensors."""
    import torch

    names = ("target", "means", "offset_axes", "axes", "log_scales", "sh_rot")
    out = {k: torch.as_tensor(np.ascontiguousarray(getattr(view, k), np.float32)) for k in names}
    cam = view.camera
    eye = cam.world_to_camera[2, :3] if cam.ortho else cam.position  # ortho: the viewing axis
    out["eye"] = torch.as_tensor(eye, dtype=torch.float32)
    return out


def gaussians(params: TwinParams, vt: dict[str, Any], view_is_ortho: bool = False
              ) -> tuple[Any, Any, Any, Any]:
    """World means ``[N, 3]``, covariances ``[N, 3, 3]``, opacities ``[N]`` and colours ``[N, 3]`` of the
    twin in one view (``vt`` from :func:`view_tensors`), differentiable in ``params``."""
    import torch

    means = vt["means"] + torch.einsum("nij,nj->ni", vt["offset_axes"],
                                          params.base_offsets + params.offsets)
    scaled = vt["axes"] * torch.exp(vt["log_scales"] + params.log_scale_deltas)[:, None, :]
    covs = scaled @ scaled.transpose(1, 2)
    colours = params.rgb
    if params.sh_rest is not None:
        to_eye = vt["eye"].expand_as(means) if view_is_ortho else means - vt["eye"]  # camera.view_directions
        d = torch.einsum("nij,nj->ni", vt["sh_rot"], to_eye)
        d = d / d.norm(dim=1, keepdim=True).clamp(min=1e-12)
        basis = sh_basis(d, params.sh_rest.shape[1])  # [N, K - 1]
        colours = colours + (basis * params.sh_rest).sum(1, keepdim=True)
    return means, covs, torch.sigmoid(params.opacity_logits), colours.clamp(min=0.0)


def sh_basis(dirs: Any, count: int) -> Any:
    """The first ``count`` (3 or 8) real SH basis functions after DC ``[N, count]`` of unit ``dirs``
    (torch; the ordering and constants of ``blender_addon.splat.model.sh_basis``)."""
    import torch

    x, y, z = dirs[:, 0], dirs[:, 1], dirs[:, 2]
    cols = [-C1 * y, C1 * z, -C1 * x]
    if count > 3:
        c2 = model.C2
        cols += [c2[0] * x * y, c2[1] * y * z, c2[2] * (2 * z * z - x * x - y * y), c2[3] * x * z,
                 c2[4] * (x * x - y * y)]
    return torch.stack(cols[:count], 1)


def render_view(params: TwinParams, view: FitView, vt: dict[str, Any], pairs: dr.Pairs | None,
                options: RefineOptions) -> tuple[Any, Any, dr.Pairs]:
    """Rendered ``[H, W, 3]`` image and coverage ``[H, W]`` of one view, and the pairs used (built when
    ``pairs`` is None)."""
    means, covs, opac, colours = gaussians(params, vt, view.camera.ortho)
    xy, depth, conics, valid = dr.project(means, covs, view.camera)
    if pairs is None:
        pairs = dr.build_pairs(xy, depth, conics, valid, opac, view.camera, options.grow, options.t_keep)
    rgb, alpha = dr.composite(pairs, xy, conics, opac, colours, view.camera, view.background)
    return rgb, alpha, pairs


def _clamp(params: TwinParams, options: RefineOptions) -> None:
    import torch

    with torch.no_grad():
        params.rgb.clamp_(0.0, 1.0)
        params.log_scale_deltas.clamp_(options.min_log_scale, options.max_log_scale)
        params.offsets.clamp_(-options.max_offset, options.max_offset)
        params.offsets[:, 2] = torch.minimum(params.offsets[:, 2], params.forward_limit)
        params.opacity_logits.clamp_(-8.0, 8.0)
        if params.sh_rest is not None:
            params.sh_rest.clamp_(-0.9, 0.9)


def refine(views: list[FitView], params: TwinParams, options: RefineOptions) -> TwinParams:
    """Adam over ``options.epochs`` passes through ``views`` (shuffled each epoch), one view per step."""
    import torch

    torch.set_num_threads(options.threads)
    groups = [{"params": [params.rgb], "lr": options.lr_rgb},
              {"params": [params.opacity_logits], "lr": options.lr_opacity},
              {"params": [params.log_scale_deltas], "lr": options.lr_scale},
              {"params": [params.offsets], "lr": options.lr_offset}]
    if params.sh_rest is not None:
        groups.append({"params": [params.sh_rest], "lr": options.lr_sh})
    opt = torch.optim.Adam(groups, eps=1e-12)
    base_lrs = [g["lr"] for g in opt.param_groups]
    vts = [view_tensors(v) for v in views]
    pairs: list[dr.Pairs | None] = [None] * len(views)
    rng = np.random.default_rng(options.seed)
    total = options.epochs * len(views)
    step = 0
    for epoch in range(options.epochs):
        t0, losses = time.perf_counter(), []
        if epoch % options.rebuild_every == 0:
            pairs = [None] * len(views)
        for i in rng.permutation(len(views)):
            decay = 0.5 * (1 + math.cos(math.pi * step / total)) * 0.9 + 0.1  # cosine to 10%
            for g, lr in zip(opt.param_groups, base_lrs, strict=True):
                g["lr"] = lr * decay
            rgb, _, pairs[i] = render_view(params, views[i], vts[i], pairs[i], options)
            loss = torch.mean((rgb - vts[i]["target"]) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            _clamp(params, options)
            losses.append(loss.item())
            step += 1
        mse = float(np.mean(losses))
        options.history.append(mse)
        if epoch % options.log_every == 0 or epoch == options.epochs - 1:
            log.info("epoch %d/%d: image mse %.6f (%.2f dB over the whole frame), %.0f s", epoch + 1,
                     options.epochs, mse, -10 * math.log10(max(mse, 1e-12)), time.perf_counter() - t0)
    return params


def to_fitted(params: TwinParams) -> splat_twin.FittedTwin:
    """The values to store (``rigs.splat_twin.save_fitted``)."""
    import torch

    def arr(t: Any) -> np.ndarray | None:
        return None if t is None else t.detach().numpy().astype(np.float32)

    opac = torch.sigmoid(params.opacity_logits).detach().numpy().astype(np.float32)
    offsets = (params.offsets + params.base_offsets).detach().numpy().astype(np.float32)
    sh = arr(params.sh_rest)
    rgb = params.rgb.detach().numpy().astype(np.float32)
    return splat_twin.FittedTwin(rgb, opac, arr(params.log_scale_deltas), offsets,
                                 None if sh is None else np.repeat(sh[:, :, None], 3, 2))


def fit_twin(fit_set: FitSet, options: RefineOptions | None = None) -> splat_twin.FittedTwin:
    """Fit every view of ``fit_set``; returns the fitted twin."""
    options = options or RefineOptions()
    views = views_of(fit_set)
    params = refine(views, initial_params(fit_set, options.sh_degree), options)
    return to_fitted(params)
