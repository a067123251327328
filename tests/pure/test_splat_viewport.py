"""The viewport preview's pure part: 3D-view matrices to a splat camera, preview size, cache rules."""

from __future__ import annotations

import numpy as np
import pytest

from blender_addon.splat import camera as cam_mod
from blender_addon.splat import viewport as vp
from blender_addon.splat.model import SplatError
from blender_addon.splat.rules import RenderOutput


def _frustum(left: float, right: float, bottom: float, top: float, near: float, far: float) -> np.ndarray:
    """OpenGL's perspective projection (Blender's ``perspective_m4``), row-major."""
    return np.array([[2 * near / (right - left), 0, (right + left) / (right - left), 0],
                     [0, 2 * near / (top - bottom), (top + bottom) / (top - bottom), 0],
                     [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)],
                     [0, 0, -1, 0]])


def _ortho(left: float, right: float, bottom: float, top: float, near: float, far: float) -> np.ndarray:
    """OpenGL's orthographic projection (Blender's ``orthographic_m4``), row-major."""
    return np.array([[2 / (right - left), 0, 0, -(right + left) / (right - left)],
                     [0, 2 / (top - bottom), 0, -(top + bottom) / (top - bottom)],
                     [0, 0, -2 / (far - near), -(far + near) / (far - near)],
                     [0, 0, 0, 1]])


def _pixels(camera: cam_mod.Camera, points: np.ndarray) -> np.ndarray:
    t = points @ camera.world_to_camera[:3, :3].T + camera.world_to_camera[:3, 3]
    z = np.ones(len(t)) if camera.ortho else t[:, 2]
    return np.stack([camera.fx * t[:, 0] / z + camera.cx, camera.fy * t[:, 1] / z + camera.cy], 1)


def _gl_pixels(view: vp.View, points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixels (row 0 at the top) where OpenGL puts world points through the view's two matrices."""
    clip = np.c_[points, np.ones(len(points))] @ (view.window_matrix @ view.view_matrix).T
    ndc = clip[:, :2] / clip[:, 3:]
    return np.stack([(ndc[:, 0] + 1) * width / 2, (1 - ndc[:, 1]) * height / 2], 1)


@pytest.mark.parametrize("ortho", [False, True])
def test_known_view_gives_the_camera_opengl_would_use(ortho: bool) -> None:
    eye = np.array([0.3, -5.0, 0.4])
    view_matrix = np.linalg.inv(cam_mod.look_at(eye, [0.0, 0.0, 0.2]))
    # An off-centre frustum (a shifted camera or a panned camera view) and a 4:3 region.
    window = _ortho(-1.1, 0.9, -0.7, 0.8, -20.0, 30.0) if ortho else _frustum(-0.06, 0.04, -0.03, 0.045,
                                                                               0.1, 100.0)
    view = vp.View(view_matrix, window, 800, 600)
    camera = vp.camera_from_view(view, 160, 120)
    assert camera.ortho == ortho and (camera.width, camera.height) == (160, 120)
    assert np.allclose(camera.world_to_camera, cam_mod.BLENDER_TO_SPLAT @ view_matrix)
    assert np.allclose(camera.position, eye)
    assert (camera.near, camera.far) == pytest.approx((-20.0, 30.0) if ortho else (0.1, 100.0))
    points = np.random.default_rng(0).uniform(-1, 1, (40, 3))
    assert np.allclose(_pixels(camera, points), _gl_pixels(view, points, 160, 120), atol=1e-9)


def _blender_window_matrix(*, lens: float = 50.0, sensor: float = 36.0, fit: str = "HORIZONTAL",
                           shift_x: float = 0.0, shift_y: float = 0.0,
                           res: tuple[int, int] = (1920, 1080), ortho: bool = False,
                           ortho_scale: float = 6.0, clip: tuple[float, float] = (0.1, 100.0)) -> np.ndarray:
    """The camera's projection as Blender builds it (``BKE_camera_params_compute_viewplane``, square
    pixels, no zoom or offset): what a 3D view looking through the camera, framed to it, uses."""
    winx, winy = res
    viewfac = winx if fit == "HORIZONTAL" else winy
    pixsize = (ortho_scale if ortho else sensor * clip[0] / lens) / viewfac
    dx, dy = shift_x * viewfac, shift_y * viewfac
    plane = [(-0.5 * winx + dx) * pixsize, (0.5 * winx + dx) * pixsize,
             (-0.5 * winy + dy) * pixsize, (0.5 * winy + dy) * pixsize]
    return (_ortho if ortho else _frustum)(*plane, *clip)


CASES = [dict(), dict(shift_x=0.1, shift_y=-0.07), dict(fit="VERTICAL", lens=35.0, res=(600, 900)),
         dict(ortho=True, ortho_scale=3.0), dict(ortho=True, shift_x=-0.2, res=(640, 480))]


@pytest.mark.parametrize("case", CASES)
def test_view_through_a_camera_matches_the_camera_object_path(case: dict) -> None:
    matrix_world = cam_mod.look_at([0.3, -5.0, 0.4], [0.0, 0.1, 0.2])
    res = case.get("res", (1920, 1080))
    window = _blender_window_matrix(**case)
    via_view = vp.camera_from_view(vp.View(np.linalg.inv(matrix_world), window, *res), *res)
    via_object = cam_mod.from_blender(
        matrix_world, lens_mm=case.get("lens", 50.0), sensor_width_mm=36.0, sensor_height_mm=36.0,
        sensor_fit=case.get("fit", "HORIZONTAL"), shift_x=case.get("shift_x", 0.0),
        shift_y=case.get("shift_y", 0.0), resolution_x=res[0], resolution_y=res[1],
        ortho=case.get("ortho", False), ortho_scale=case.get("ortho_scale", 6.0), clip_start=0.1,
        clip_end=100.0)
    for name in ("width", "height", "fx", "fy", "cx", "cy", "ortho", "near", "far"):
        assert getattr(via_view, name) == pytest.approx(getattr(via_object, name), rel=1e-9), name
    assert np.allclose(via_view.world_to_camera, via_object.world_to_camera, atol=1e-12)


def test_a_smaller_preview_of_the_same_view_scales_the_intrinsics() -> None:
    view = vp.View(np.eye(4), _frustum(-0.05, 0.03, -0.02, 0.025, 0.1, 50.0), 1920, 1080)
    full, small = vp.camera_from_view(view, 1920, 1080), vp.camera_from_view(view, 384, 216)
    for name in ("fx", "cx"):
        assert getattr(small, name) == pytest.approx(getattr(full, name) / 5)
    for name in ("fy", "cy"):
        assert getattr(small, name) == pytest.approx(getattr(full, name) / 5)


def test_preview_size_keeps_the_aspect_under_the_longest_side() -> None:
    assert vp.preview_size(1920, 1080) == (384, 216)
    assert vp.preview_size(1080, 1920, 384) == (216, 384)
    assert vp.preview_size(300, 200, 384) == (300, 200)
    assert vp.preview_size(5000, 3, 384) == (384, 1)
    with pytest.raises(SplatError, match="empty"):
        vp.preview_size(0, 100)
    with pytest.raises(SplatError, match="at least 1"):
        vp.preview_size(100, 100, 0)


def test_degenerate_projection_is_an_error() -> None:
    with pytest.raises(SplatError, match="degenerate"):
        vp.camera_from_view(vp.View(np.eye(4), np.zeros((4, 4)), 10, 10), 10, 10)


def test_which_updates_invalidate_the_preview() -> None:
    assert vp.is_relevant_update("OBJECT", geometry=True, transform=False)  # shape key, modifier
    assert vp.is_relevant_update("OBJECT", geometry=False, transform=True)  # moved
    assert not vp.is_relevant_update("OBJECT", geometry=False, transform=False)  # display only
    for kind in ("MESH", "KEY", "ARMATURE", "ACTION", "COLLECTION", "WORLD"):
        assert vp.is_relevant_update(kind, False, False), kind
    for kind in ("SCENE", "MATERIAL", "IMAGE", "SCREEN", "WINDOWMANAGER"):
        assert not vp.is_relevant_update(kind, False, False), kind


def test_cache_hits_on_the_same_key_and_misses_after_a_change() -> None:
    cache = vp.PreviewCache()
    view = vp.View(np.eye(4), _frustum(-1, 1, -1, 1, 0.1, 10), 10, 10)
    key = cache.make_key(view.key(), 1)
    assert cache.get(key) is None
    image = np.zeros((2, 2, 4), np.float32)
    cache.put(key, image)
    assert cache.get(cache.make_key(view.key(), 1)) is image
    assert cache.get(cache.make_key(view.key(), 2)) is None  # another frame
    moved = vp.View(np.diag([1.0, 1.0, 1.0, 1.0]) + np.eye(4, k=3) * 0.01, view.window_matrix, 10, 10)
    assert cache.get(cache.make_key(moved.key(), 1)) is None  # another view
    cache.mark_changed()
    assert cache.get(cache.make_key(view.key(), 1)) is None  # the scene changed


def test_combined_rgba_is_the_final_renders_pass() -> None:
    rgb = np.full((1, 2, 3), 0.5, np.float32)
    alpha = np.array([[1.0, 0.5]], np.float32)
    out = RenderOutput(rgb, alpha, np.zeros((1, 2), np.float32))
    opaque = vp.combined_rgba(out, transparent=False)
    assert opaque.shape == (1, 2, 4) and np.allclose(opaque[..., 3], 1.0)
    assert np.allclose(opaque[0, 0, :3], ((0.5 + 0.055) / 1.055) ** 2.4)
    film = vp.combined_rgba(out, transparent=True)
    assert np.allclose(film[..., 3], alpha)
    assert np.allclose(film[0, 1, :3], ((1.0 + 0.055) / 1.055) ** 2.4 * 0.5)  # 0.5 of straight white
