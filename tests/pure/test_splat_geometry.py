"""Quaternions, covariances, SH, colour, cameras and triangle binding (pure maths)."""

from __future__ import annotations

import numpy as np
import pytest

from blender_addon.splat import binding, colour, model
from blender_addon.splat import camera as cam_mod


def test_quaternions_round_trip_and_covariance() -> None:
    rng = np.random.default_rng(0)
    q = model.normalise_quats(rng.normal(size=(200, 4)))
    q *= np.where(q[:, :1] < 0, -1, 1)
    mats = model.quats_to_matrices(q)
    assert np.allclose(mats @ np.swapaxes(mats, 1, 2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(mats), 1.0)
    assert np.allclose(model.matrices_to_quats(mats), q, atol=1e-9)
    s = rng.normal(-2, 0.3, (200, 3))
    cov = model.covariances(q, s)
    explicit = mats[5] @ np.diag(np.exp(s[5]) ** 2) @ mats[5].T
    assert np.allclose(cov[5], explicit)
    # 90 degrees about z maps x to y.
    rz = model.quats_to_matrices(np.array([[np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]]))[0]
    assert np.allclose(rz @ [1, 0, 0], [0, 1, 0])


def test_sh_degree_0_and_1_by_hand() -> None:
    sh = np.zeros((1, 4, 3))
    sh[0, 0] = [1.0, 0.0, -1.0]
    sh[0, 3] = [0.5, 0.5, 0.5]  # the -C1 * x term
    rgb = model.sh_colours(sh, np.array([[-2.0, 0, 0]]))  # looking along -x
    want = 0.5 + model.C0 * np.array([1.0, 0.0, -1.0]) + model.C1 * 0.5
    assert np.allclose(rgb[0], np.maximum(want, 0), atol=1e-6)
    basis = model.sh_basis(np.random.default_rng(1).normal(size=(5, 3)), 3)
    assert basis.shape == (5, 16)
    with pytest.raises(model.SplatError):
        model.sh_count(4)


def test_srgb_transfer_round_trip() -> None:
    x = np.linspace(0, 1, 101)
    assert np.allclose(colour.linear_to_srgb(colour.srgb_to_linear(x)), x, atol=1e-5)
    assert abs(float(colour.srgb_to_linear(np.array(0.5))) - 0.21404) < 1e-4
    out = colour.display_to_scene_linear(np.array([[0.25, 0.25, 0.25]]), np.array([0.5]))
    assert np.allclose(out, 0.5 * colour.srgb_to_linear(np.array(0.5)), atol=1e-6)


def test_camera_intrinsics_follow_blender_rules() -> None:
    eye = np.eye(4)
    cam = cam_mod.from_blender(eye, lens_mm=50, sensor_width_mm=36, resolution_x=1920, resolution_y=1080)
    assert np.isclose(cam.fx, 50 / 36 * 1920) and np.isclose(cam.fy, cam.fx)
    assert (cam.cx, cam.cy) == (960, 540)
    # Blender's camera looks down -Z with +Y up: a point ahead and above lands above the centre (y down).
    p = cam.world_to_camera @ [0, 1, -10, 1]
    assert p[2] == 10 and p[1] == -1
    portrait = cam_mod.from_blender(eye, lens_mm=50, sensor_width_mm=36, resolution_x=1080, resolution_y=1920)
    assert np.isclose(portrait.fy, 50 / 36 * 1920)  # AUTO fits the sensor width to the larger side
    shifted = cam_mod.from_blender(eye, shift_x=0.1, shift_y=0.2, resolution_x=200, resolution_y=100)
    assert np.isclose(shifted.cx, 100 - 20) and np.isclose(shifted.cy, 50 + 40)
    half = cam_mod.from_blender(eye, resolution_x=200, resolution_y=100, resolution_percentage=50)
    assert (half.width, half.height) == (100, 50)
    ortho = cam_mod.from_blender(eye, ortho=True, ortho_scale=4.0, resolution_x=200, resolution_y=100)
    assert np.isclose(ortho.fx, 50.0)  # 4 world units across 200 pixels
    with pytest.raises(model.SplatError, match="empty"):
        cam_mod.from_blender(eye, resolution_percentage=0)


def _mesh():
    verts = np.array([[0, 0, 0], [1, 0, 0], [0.2, 0.9, 0.1], [1.1, 1.0, 0.3]], float)
    tris = np.array([[0, 1, 2], [1, 3, 2]])
    return verts, tris


def test_bound_gaussians_follow_a_moving_triangle_exactly() -> None:
    verts, tris = _mesh()
    rng = np.random.default_rng(2)
    n = 30
    tri_of = tris[rng.integers(0, 2, n)]
    g = model.GaussianSet(rng.normal(0.5, 0.2, (n, 3)), model.normalise_quats(rng.normal(size=(n, 4))),
                          rng.normal(-3, 0.2, (n, 3)), np.full(n, 0.5), np.zeros((n, 1, 3)))
    b = binding.bind(g, verts, tri_of)
    means, rots, log_s = binding.apply(b, verts)
    assert np.allclose(means, g.means, atol=1e-6)
    assert np.allclose(rots, model.quats_to_matrices(g.quats), atol=1e-6)
    assert np.allclose(log_s, g.log_scales, atol=1e-6)
    # A similarity (rotation, uniform scale 1.7, translation) of the mesh moves the Gaussians with it.
    r = model.quats_to_matrices(model.normalise_quats(np.array([[0.9, 0.2, -0.3, 0.1]])))[0]
    moved = 1.7 * verts @ r.T + [3, -1, 2]
    m2, r2, s2 = binding.apply(b, moved)
    assert np.allclose(m2, 1.7 * g.means @ r.T + [3, -1, 2], atol=1e-5)
    assert np.allclose(r2, r @ model.quats_to_matrices(g.quats), atol=1e-6)
    assert np.allclose(s2, g.log_scales + np.log(1.7), atol=1e-6)


def test_bind_on_surface_puts_discs_on_the_triangle() -> None:
    verts, tris = _mesh()
    bary = np.array([[1 / 3, 1 / 3, 1 / 3], [0.8, 0.1, 0.1]])
    b = binding.bind_on_surface(verts, tris, bary, np.array([0.05, 0.05]))
    means, rots, log_s = binding.apply(b, verts)
    assert np.allclose(means, np.einsum("nk,nkj->nj", bary, verts[tris]), atol=1e-6)
    normal = np.cross(verts[1] - verts[0], verts[2] - verts[0])
    assert np.allclose(np.abs(rots[0][:, 2] @ normal / np.linalg.norm(normal)), 1.0)
    assert np.allclose(np.exp(log_s[0]), [0.05, 0.05, 0.05 * 0.15], rtol=1e-5)
    with pytest.raises(model.SplatError, match="bind again"):
        binding.apply(b, verts[:2])


def test_nearest_triangles_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    verts = rng.normal(size=(60, 3))
    tris = rng.integers(0, 60, (80, 3))
    tris = tris[(tris[:, 0] != tris[:, 1]) & (tris[:, 1] != tris[:, 2]) & (tris[:, 0] != tris[:, 2])]
    pts = rng.normal(size=(40, 3))
    got = binding.nearest_triangles(pts, verts, tris, candidates=len(tris))
    d = binding._point_triangle_distance2(pts[:, None].repeat(len(tris), 1), verts[tris][None].repeat(40, 0))
    assert np.allclose(d[np.arange(40), got], d.min(1))


def test_transform_gaussians_keeps_covariances() -> None:
    rng = np.random.default_rng(4)
    g = model.GaussianSet(rng.normal(size=(20, 3)), rng.normal(size=(20, 4)), rng.normal(-2, 0.5, (20, 3)),
                          np.full(20, 0.5), np.zeros((20, 1, 3)))
    m = np.eye(4)
    m[:3, :3] = rng.normal(size=(3, 3))
    m[:3, 3] = [1, 2, 3]
    out = model.transform_gaussians(g, m)
    assert np.allclose(out.means, g.means @ m[:3, :3].T + m[:3, 3], atol=1e-5)
    want = model.covariances(g.quats, g.log_scales, m[:3, :3])
    assert np.allclose(model.covariances(out.quats, out.log_scales), want, rtol=1e-4, atol=1e-8)


def test_splat_twin_samples_regions_with_their_colours() -> None:
    from rigs import regions, splat_twin

    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 1], [1, 0, 1], [2, 0, 0], [2, 0, 1]], float)
    tris = np.array([[0, 1, 2], [1, 3, 2], [1, 4, 3], [4, 5, 3]])
    codes = np.array([regions.SKIN, regions.SKIN, regions.LIPS, regions.LIPS])
    a = splat_twin.sample_twin(verts, tris, codes, count=3000, seed=7)
    b = splat_twin.sample_twin(verts, tris, codes, count=3000, seed=7)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.bary, b.bary)
    on_lips = np.isin(a.tri_index, [2, 3])
    assert 0.7 < on_lips.mean() < 0.8  # lips are 3x denser: 3 / (1 + 3)
    assert np.all(a.bary >= 0) and np.allclose(a.bary.sum(1), 1)
    lips, skin = a.rgb[on_lips].mean(0), a.rgb[~on_lips].mean(0)
    assert lips[0] / lips[1] > skin[0] / skin[1]  # lips are redder than skin
    assert a.radii[on_lips].mean() < a.radii[~on_lips].mean()


def _sh3_bound_scene() -> tuple[model.GaussianSet, binding.Binding, np.ndarray]:
    """Two disjoint triangles with degree-3 Gaussians bound to them, and the rest vertices."""
    verts = np.array([[0, 0, 0], [0.4, 0, 0], [0, 0, 0.4], [0.6, 0.1, 0], [1.0, 0.1, 0], [0.6, 0.1, 0.4]])
    tris = np.array([[0, 1, 2], [3, 4, 5]])
    rng = np.random.default_rng(11)
    n = 24
    tri_of = np.repeat(np.arange(2), n // 2)
    centre = verts[tris[tri_of]].mean(1)
    quats = model.normalise_quats(rng.normal(size=(n, 4)))
    g = model.GaussianSet(centre + rng.normal(0, 0.03, (n, 3)), quats,
                          np.log(rng.uniform(0.02, 0.05, (n, 3))), rng.uniform(0.5, 0.9, n),
                          rng.normal(0, 0.4, (n, 16, 3)))
    return g, binding.bind(g, verts, tris[tri_of]), verts


def _rotation(axis: list[float], angle: float) -> np.ndarray:
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    q = np.array([[np.cos(angle / 2), *(np.sin(angle / 2) * a)]])
    return model.quats_to_matrices(q)[0]


def test_view_dependent_colour_turns_with_the_triangle() -> None:
    """Rotating a bound triangle by 90 degrees and the camera with it leaves every SH colour unchanged."""
    from blender_addon.splat import render

    g, b, verts = _sh3_bound_scene()
    cam_m = cam_mod.look_at([0.3, -2.0, 0.6], [0.5, 0.0, 0.2])
    rest = render.flatten([render.SplatInstance(g, np.eye(4), binding.pose(b, verts))],
                          cam_mod.from_blender(cam_m, resolution_x=40, resolution_y=30))
    # Each triangle turns 90 degrees about its own axis (a non-rigid deformation of the mesh as a whole);
    # the camera turns with triangle k about the same pivot.
    moved = verts.copy()
    turns = [(_rotation([0, 0, 1], np.pi / 2), verts[0]), (_rotation([1, 1, 0], np.pi / 2), verts[3])]
    for k, (r, pivot) in enumerate(turns):
        moved[3 * k:3 * k + 3] = (verts[3 * k:3 * k + 3] - pivot) @ r.T + pivot
    posed = binding.pose(b, moved)
    for k, (r, pivot) in enumerate(turns):
        turned = np.eye(4)
        turned[:3, :3], turned[:3, 3] = r, pivot - r @ pivot
        camera = cam_mod.from_blender(turned @ cam_m, resolution_x=40, resolution_y=30)
        got = render.flatten([render.SplatInstance(g, np.eye(4), posed)], camera)
        on = slice(12 * k, 12 * k + 12)
        assert np.allclose(got[2][on], rest[2][on], atol=1e-5), k  # colours
        assert np.allclose(got[0][on], rest[0][on] @ r.T + pivot - r @ pivot, atol=1e-6)
        # Without colour frames (SH left in mesh space) the colours change: the test can fail.
        stale = render.flatten([render.SplatInstance(g, np.eye(4), binding.Posed(
            posed.means, posed.rotations, posed.log_scales, None))], camera)
        assert np.abs(stale[2][on] - rest[2][on]).max() > 0.05


def test_colour_frames_in_every_backend_and_the_ply() -> None:
    """The image of a turned bound splat seen by a turned camera equals the rest image (numpy, torch,
    reference), and the colour frames survive a PLY round trip."""
    import tempfile
    from pathlib import Path

    from blender_addon.splat import ply, reference, render

    g, b, verts = _sh3_bound_scene()
    r = _rotation([0.3, 0.2, 1.0], np.pi / 2)
    turned = np.eye(4)
    turned[:3, :3] = r
    cam_m = cam_mod.look_at([0.3, -2.0, 0.6], [0.5, 0.0, 0.2])
    pairs = [([render.SplatInstance(g, np.eye(4), binding.pose(b, v))],
              cam_mod.from_blender(m, resolution_x=32, resolution_y=24, lens_mm=35))
             for v, m in ((verts, cam_m), (verts @ r.T, turned @ cam_m))]
    backends = ["numpy"] + (["torch"] if render.torch_available() else [])
    for backend in backends:
        a, c = (render.render(s, cam, (0.1, 0.1, 0.1), backend) for s, cam in pairs)
        assert a.alpha.max() > 0.5 and np.abs(a.rgb - c.rgb).max() <= 1 / 255, backend
    a, c = (reference.rasterize(*render.flatten(s, cam), cam, (0.1, 0.1, 0.1)) for s, cam in pairs)
    assert np.abs(a.rgb - c.rgb).max() <= 1 / 255
    with tempfile.TemporaryDirectory() as tmp:
        _, back = ply.read_ply(ply.write_ply(Path(tmp) / "b.ply", g, b))
    assert back is not None and back.sh_quats is not None
    assert np.allclose(back.sh_quats, b.sh_quats)


def test_eyelashes_are_sparse_thin_dark_strokes_radiating_from_the_eye() -> None:
    from rigs import regions, splat_twin

    # A flat face (y = 0) with one eye at x = -2: an iris square ringed by lash squares, and skin beside.
    rng = np.random.default_rng(3)
    grid = np.array([[x, 0.0, z] for z in range(-2, 3) for x in range(-3, 3)], float)
    tris, codes = [], []
    for z in range(4):
        for x in range(5):
            a, b, c, d = z * 6 + x, z * 6 + x + 1, (z + 1) * 6 + x, (z + 1) * 6 + x + 1
            iris = (x, z) in ((1, 1), (1, 2))
            code = regions.SKIN if x >= 3 else (regions.IRIS if iris else regions.EYELASH)
            tris += [[a, b, c], [b, d, c]]
            codes += [code, code]
    grid[:, 0] -= 0.5  # every lash at x < 0: one eye
    s = splat_twin.sample_twin(grid, np.array(tris), np.array(codes), count=4000, seed=int(rng.integers(99)))
    lash = np.array(codes)[s.tri_index] == regions.EYELASH
    skin = np.array(codes)[s.tri_index] == regions.SKIN
    area_share = 8 / 20  # lash squares among all squares of the same density class
    assert lash.mean() < area_share  # sparser than skin
    assert (s.opacities[lash] <= 0.5).all() and (s.opacities[skin] > 0.9).all()
    assert (s.elongation[lash] > 1.0).all() and (s.elongation[skin] == 1.0).all()
    assert s.radii[lash].max() < 0.5 * s.radii[skin].min()  # thin
    assert s.rgb[lash].mean() < 0.5 * s.rgb[skin].mean()  # dark
    points = np.einsum("nk,nkj->nj", s.bary[lash], grid[np.array(tris)[s.tri_index[lash]]])
    eye = grid[np.array(tris)[np.array(codes) == regions.IRIS]].reshape(-1, 3).mean(0)
    radial = (points - eye) / np.linalg.norm(points - eye, axis=1, keepdims=True)
    assert np.allclose(np.einsum("ni,ni->n", radial, s.tangents[lash]), 1.0, atol=1e-6)
    # Bound as strokes: the long axis lies along the tangent.
    b = binding.bind_on_surface(grid, np.array(tris)[s.tri_index], s.bary, s.radii,
                                elongation=s.elongation, tangents=s.tangents)
    _, rots, log_s = binding.apply(b, grid)
    assert np.allclose(np.abs(np.einsum("ni,ni->n", rots[lash][:, :, 0], s.tangents[lash])), 1.0, atol=1e-5)
    assert np.allclose(np.exp(log_s[lash][:, 0]), s.radii[lash] * s.elongation[lash], rtol=1e-5)
