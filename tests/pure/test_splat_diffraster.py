"""The fitting rasterizer (rigs.head_build.splat_diffraster): its forward pass is the numpy rasterizer's
image, and its gradients are those of that image (finite differences)."""

from __future__ import annotations

import numpy as np
import pytest

from blender_addon.splat import camera as cam_mod
from blender_addon.splat import model, raster_numpy

torch = pytest.importorskip("torch")
dr = pytest.importorskip("rigs.head_build.splat_diffraster")


def _scene(n: int, seed: int, size: tuple[float, float] = (0.02, 0.15)):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 0.3, (n, 3))
    covs = model.covariances(rng.normal(size=(n, 4)), np.log(rng.uniform(*size, (n, 3))))
    return means, covs, rng.uniform(0, 1, (n, 3)), rng.uniform(0.05, 1.0, n)


def _render(means, covs, colours, opac, camera, bg, t_keep=0.0):
    t = [torch.tensor(np.asarray(a, np.float64)) for a in (means, covs, opac, colours)]
    rgb, alpha = dr.render(t[0], t[1], t[2], t[3], camera, bg, t_keep=t_keep)
    return rgb.numpy(), alpha.numpy()


@pytest.mark.parametrize("ortho", [False, True])
def test_forward_matches_the_numpy_rasterizer(ortho: bool) -> None:
    means, covs, colours, opac = _scene(400, 1)
    eye = [0.3, -3.0, 0.5]
    camera = cam_mod.from_blender(cam_mod.look_at(eye, [0, 0, 0]), resolution_x=48, resolution_y=40,
                                  lens_mm=35, ortho=ortho, ortho_scale=2.0)
    bg = np.array([0.1, 0.2, 0.3])
    want = raster_numpy.rasterize(means, covs, colours.astype(np.float32), opac, camera, bg)
    assert want.alpha.max() > 0.99 and want.alpha.min() < 0.5, "the scene must saturate some pixels only"
    rgb, alpha = _render(means, covs, colours, opac, camera, bg)
    assert np.abs(rgb - want.rgb).max() < 1e-4
    assert np.abs(alpha - want.alpha).max() < 1e-4


def test_dropping_hidden_pairs_changes_the_image_by_at_most_t_keep() -> None:
    means, covs, colours, opac = _scene(400, 2)
    camera = cam_mod.from_blender(cam_mod.look_at([0, -3, 0], [0, 0, 0]), resolution_x=40, resolution_y=40)
    bg = np.zeros(3)
    full, _ = _render(means, covs, colours, opac, camera, bg)
    kept, _ = _render(means, covs, colours, opac, camera, bg, t_keep=1e-3)
    assert np.abs(full - kept).max() <= 2e-3


def test_gradients_match_finite_differences() -> None:
    means, covs, colours, opac = _scene(30, 3, size=(0.1, 0.3))
    camera = cam_mod.from_blender(cam_mod.look_at([0, -3, 0], [0, 0, 0]), resolution_x=24, resolution_y=24)
    bg = np.array([0.2, 0.2, 0.2])
    rng = np.random.default_rng(0)
    weights = torch.tensor(rng.normal(size=(24, 24, 3)))
    m = torch.tensor(means, requires_grad=True)
    o = torch.tensor(opac, requires_grad=True)
    c = torch.tensor(colours, requires_grad=True)
    xy, depth, conics, valid = dr.project(m, torch.tensor(covs), camera)
    pairs = dr.build_pairs(xy, depth, conics, valid, o, camera, grow=1.5, t_keep=0.0)

    def loss(mm, oo, cc):
        xy2, _, con2, _ = dr.project(mm, torch.tensor(covs), camera)
        return float((dr.composite(pairs, xy2, con2, oo, cc, camera, bg)[0] * weights).sum())

    xy, _, conics, _ = dr.project(m, torch.tensor(covs), camera)
    (dr.composite(pairs, xy, conics, o, c, camera, bg)[0] * weights).sum().backward()
    eps = 1e-6
    for tensor, index in ((m, (4, 0)), (m, (7, 2)), (o, (5,)), (c, (2, 1))):
        plus, minus = tensor.detach().clone(), tensor.detach().clone()
        plus[index] += eps
        minus[index] -= eps
        args = {id(m): (m.detach(),), id(o): (o.detach(),), id(c): (c.detach(),)}
        hi = [plus if t is tensor else args[id(t)][0] for t in (m, o, c)]
        lo = [minus if t is tensor else args[id(t)][0] for t in (m, o, c)]
        numeric = (loss(*hi) - loss(*lo)) / (2 * eps)
        assert abs(numeric) > 1e-3, "pick parameters that change the image"
        assert tensor.grad[index].item() == pytest.approx(numeric, rel=1e-3, abs=1e-6)
