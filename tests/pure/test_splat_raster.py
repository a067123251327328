"""Rasterizers against the slow per-pixel reference (golden), and numpy against torch."""

from __future__ import annotations

import numpy as np
import pytest

from blender_addon.splat import camera as cam_mod
from blender_addon.splat import model, raster_numpy, reference, render
from blender_addon.splat.rules import BACKGROUND_DEPTH

TOL = 1.0 / 255.0


def _scene(n: int, seed: int, spread: float = 0.4, size: tuple[float, float] = (0.02, 0.2)):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, spread, (n, 3))
    quats = rng.normal(size=(n, 4))
    log_scales = np.log(rng.uniform(*size, (n, 3)))
    covs = model.covariances(quats, log_scales)
    colours = rng.uniform(0, 1, (n, 3)).astype(np.float32)
    opac = rng.uniform(0.05, 1.0, n)
    return means, covs, colours, opac


def _assert_golden(means, covs, colours, opac, camera, background=(0.1, 0.2, 0.3)) -> None:
    got = raster_numpy.rasterize(means, covs, colours, opac, camera, background)
    want = reference.rasterize(means, covs, colours, opac, camera, background)
    assert got.rgb.shape == (camera.height, camera.width, 3)
    assert np.abs(got.rgb - want.rgb).max() <= TOL
    assert np.abs(got.alpha - want.alpha).max() <= 1e-5  # coverage: tighter than colour
    hit = want.alpha > 0.05
    assert np.allclose(got.depth[hit], want.depth[hit], rtol=1e-3, atol=1e-3)
    assert (got.depth[want.alpha == 0] == BACKGROUND_DEPTH).all()
    assert want.alpha.max() > 0.5, "the test scene must cover part of the image"


def test_perspective_scene_matches_reference() -> None:
    camera = cam_mod.from_blender(cam_mod.look_at([0.3, -4, 0.5], [0, 0, 0]), resolution_x=40,
                                  resolution_y=30, lens_mm=35)
    _assert_golden(*_scene(60, 1), camera)


def test_edge_tiles_shift_vertical_fit_and_percentage_match_reference() -> None:
    camera = cam_mod.from_blender(cam_mod.look_at([0, -3, 0], [0, 0, 0]), resolution_x=66, resolution_y=100,
                                  resolution_percentage=50, lens_mm=40, sensor_fit="VERTICAL",
                                  shift_x=0.1, shift_y=-0.05)
    assert (camera.width, camera.height) == (33, 50)
    _assert_golden(*_scene(50, 2), camera)


def test_orthographic_scene_matches_reference() -> None:
    camera = cam_mod.from_blender(cam_mod.look_at([0, -5, 0], [0, 0, 0]), resolution_x=36, resolution_y=36,
                                  ortho=True, ortho_scale=2.5)
    _assert_golden(*_scene(40, 3), camera)


def test_saturated_pixels_terminate_like_the_reference() -> None:
    # Many large opaque Gaussians stacked in depth: transmittance falls below 1e-4 in the middle.
    n = 40
    means = np.stack([np.zeros(n), np.linspace(-1, 1, n), np.zeros(n)], 1)
    covs = model.covariances(np.tile([1.0, 0, 0, 0], (n, 1)), np.log(np.full((n, 3), 2.0)))
    colours = np.random.default_rng(4).uniform(0, 1, (n, 3)).astype(np.float32)
    camera = cam_mod.from_blender(cam_mod.look_at([0, -5, 0], [0, 0, 0]), resolution_x=20, resolution_y=20)
    # Alternate opacities 1.0 (alpha clamps at 0.99) and 0.9 so no pixel sits exactly on T = 1e-4.
    opac = np.where(np.arange(n) % 2 == 0, 1.0, 0.9)
    _assert_golden(means, covs, colours, opac, camera)
    out = raster_numpy.rasterize(means, covs, colours, opac, camera)
    assert out.alpha.max() > 1 - 2e-4  # saturated: T stopped just above 1e-4 ...
    assert out.alpha.max() <= 1 - 1e-4 + 1e-6  # ... never below T_MIN: the last Gaussian was not added


def test_single_gaussian_at_image_centre() -> None:
    camera = cam_mod.from_blender(cam_mod.look_at([0, -4, 0], [0, 0, 0]), resolution_x=32, resolution_y=32)
    covs = model.covariances(np.array([[1.0, 0, 0, 0]]), np.log(np.full((1, 3), 0.05)))
    out = raster_numpy.rasterize(np.zeros((1, 3)), covs, np.array([[1.0, 0.5, 0.25]], np.float32),
                                 np.array([0.8]), camera, (0.0, 0.0, 0.0))
    # The mean projects to (16, 16): the four central pixels are equally and most covered.
    peak = out.alpha[15:17, 15:17]
    assert np.allclose(peak, peak[0, 0]) and peak[0, 0] == out.alpha.max()
    sigma_px = 0.05 * camera.fx / 4.0
    expected = 0.8 * np.exp(-0.5 * 2 * 0.25 / (sigma_px ** 2 + 0.3))
    assert abs(peak[0, 0] - expected) < 1e-5
    assert np.allclose(out.rgb[15, 15], np.array([1.0, 0.5, 0.25]) * peak[0, 0], atol=1e-6)
    assert abs(out.depth[15, 15] - 4.0) < 1e-4
    assert out.alpha[0, 0] == 0.0


def test_numpy_and_torch_agree() -> None:
    pytest.importorskip("torch", reason="torch is part of the project's venv (train extra)")
    from blender_addon.splat import raster_torch

    camera = cam_mod.from_blender(cam_mod.look_at([0, -3, 0.2], [0, 0, 0]), resolution_x=160,
                                  resolution_y=120)
    scene = _scene(4000, 5, spread=0.5, size=(0.005, 0.05))
    a = raster_numpy.rasterize(*scene, camera, (0.2, 0.2, 0.2))
    b = raster_torch.rasterize(*scene, camera, (0.2, 0.2, 0.2), device="cpu")
    mse = float(((a.rgb - b.rgb) ** 2).mean())
    psnr = 10 * np.log10(1.0 / max(mse, 1e-20))
    assert psnr >= 45.0, psnr
    assert np.abs(a.alpha - b.alpha).max() <= TOL
    assert a.alpha.mean() > 0.2


def test_render_flattens_object_transforms_and_sh() -> None:
    rng = np.random.default_rng(6)
    g = model.GaussianSet(rng.normal(0, 0.3, (30, 3)), rng.normal(size=(30, 4)),
                          np.log(rng.uniform(0.02, 0.1, (30, 3))), rng.uniform(0.3, 1, 30),
                          rng.normal(0, 0.3, (30, 16, 3)))
    m = np.eye(4)
    m[:3, :3] = np.diag([2.0, 1.0, 0.5])
    m[:3, 3] = [0.1, 0.2, 0.3]
    camera = cam_mod.from_blender(cam_mod.look_at([0, -4, 0], [0, 0, 0]), resolution_x=24, resolution_y=24)
    means, covs, colours, opac = render.flatten([render.SplatInstance(g, m)], camera)
    assert np.allclose(means, g.means @ m[:3, :3].T + m[:3, 3], atol=1e-6)
    assert np.allclose(covs[0], m[:3, :3] @ model.covariances(g.quats[:1], g.log_scales[:1])[0] @ m[:3, :3].T)
    out = render.render([render.SplatInstance(g, m)], camera, backend="numpy")
    want = reference.rasterize(means, covs, colours, opac, camera)
    assert np.abs(out.rgb - want.rgb).max() <= TOL


def test_empty_scene_is_background_and_unknown_backend_fails() -> None:
    camera = cam_mod.from_blender(np.eye(4), resolution_x=8, resolution_y=4)
    out = render.render([], camera, (0.5, 0.25, 0.0))
    assert out.rgb.shape == (4, 8, 3) and np.allclose(out.rgb, [0.5, 0.25, 0.0]) and (out.alpha == 0).all()
    with pytest.raises(model.SplatError, match="unknown splat backend"):
        render.resolve_backend("cuda-magic")


def test_binning_boxes_hold_every_pixel_a_gaussian_counts_in() -> None:
    """The tight (opacity-aware, per-axis) binning boxes never drop a pixel where alpha would count."""
    rng = np.random.default_rng(7)
    n = 400
    angle = rng.uniform(0, np.pi, n)
    sig = rng.uniform(0.3, 6.0, (n, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    cov = rot @ (sig[:, :, None] ** 2 * np.eye(2)) @ np.swapaxes(rot, 1, 2) + 0.3 * np.eye(2)
    inv = np.linalg.inv(cov)
    conics = np.stack([inv[:, 0, 0], inv[:, 0, 1], inv[:, 1, 1]], 1)
    opac = rng.uniform(1 / 255, 1.0, n)
    radii = np.ceil(3 * np.sqrt(np.linalg.eigvalsh(cov)[:, 1])).astype(np.int64)
    rx, ry = raster_numpy.extents(conics, opac, radii)
    assert (rx <= radii).all() and (ry <= radii).all() and (rx * ry).sum() < 0.8 * (radii ** 2).sum()
    grid = np.stack(np.meshgrid(np.linspace(-40, 40, 321), np.linspace(-40, 40, 321)), -1).reshape(-1, 2)
    for i in range(n):
        power = -0.5 * np.einsum("pi,ij,pj->p", grid, inv[i], grid)
        counts = (power >= -4.5) & (opac[i] * np.exp(power) >= 1 / 255)
        assert (np.abs(grid[counts, 0]) <= rx[i]).all() and (np.abs(grid[counts, 1]) <= ry[i]).all(), i
