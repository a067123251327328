"""The exact per-pixel weights of the splat twin's views (rigs.head_build.splat_fit) reproduce the numpy
rasterizer."""

from __future__ import annotations

import numpy as np

from blender_addon.splat import camera as cam_mod
from blender_addon.splat import model, raster_numpy
from rigs.head_build import splat_fit


def _scene(n: int, seed: int):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 0.3, (n, 3))
    covs = model.covariances(rng.normal(size=(n, 4)), np.log(rng.uniform(0.02, 0.15, (n, 3))))
    return means, covs, rng.uniform(0, 1, (n, 3)).astype(np.float32), rng.uniform(0.05, 1.0, n)


def _camera(size: int = 40, angle: float = 0.0) -> cam_mod.Camera:
    c, s = np.cos(angle), np.sin(angle)
    m = np.array([[c, 0, s, 3 * s], [0, 1, 0, 0], [-s, 0, c, 3 * c], [0, 0, 0, 1.0]])
    return cam_mod.from_blender(m, lens_mm=35, sensor_width_mm=36, sensor_height_mm=24, sensor_fit="AUTO",
                                shift_x=0, shift_y=0, resolution_x=size, resolution_y=size - 6,
                                resolution_percentage=100, pixel_aspect_x=1, pixel_aspect_y=1)


def _render(view: splat_fit.ViewWeights, colours: np.ndarray, bg: np.ndarray) -> np.ndarray:
    h, w = view.trans.shape
    img = np.zeros((h * w, 3))
    np.add.at(img, view.rows, view.weights[:, None] * colours[view.cols])
    return img.reshape(h, w, 3) + view.trans[..., None] * bg


def test_weights_reproduce_the_rasterizer() -> None:
    means, covs, colours, opac = _scene(400, 1)
    cam, bg = _camera(), np.array([0.1, 0.2, 0.3], np.float32)
    view = splat_fit.pixel_weights(means, covs, opac, cam)
    want = raster_numpy.rasterize(means, covs, colours, opac, cam, bg)
    assert want.alpha.max() > 0.5
    assert np.abs(_render(view, colours, bg) - want.rgb).max() < 2e-3
    assert np.abs((1 - view.trans) - want.alpha).max() < 2e-3
