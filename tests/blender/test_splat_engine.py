"""The Gaussian Splat render engine through Blender's own render pipeline (real bpy, installed zip)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.blender.splat_helpers import add_camera, ext, render_exr

ENGINE = "AU_TALKING_HEAD_SPLAT"
WORLD = (0.05, 0.1, 0.2)


def _one_gaussian(bpy: ModuleType, name: str, rgb: tuple[float, float, float], opacity: float = 0.8,
                  sigma: float = 0.05):  # type: ignore[no-untyped-def]
    model = ext("splat.model")
    g = model.GaussianSet.from_rgb(np.zeros((1, 3)), np.array([[1.0, 0, 0, 0]]),
                                   np.log(np.full((1, 3), sigma)), np.array([opacity]), np.array([rgb]))
    return ext("splat.bl_data").create_object(bpy.context, name, g)


def _scene(bpy: ModuleType, transparent: bool = False) -> None:
    scene = bpy.context.scene
    scene.render.engine = ENGINE
    scene.view_settings.view_transform = "Standard"
    world = bpy.data.worlds.new("World")
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (*WORLD, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 1.0
    scene.world = world
    scene.render.film_transparent = transparent
    scene.view_layers[0].use_pass_z = True


def _srgb(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def _linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def test_engine_is_registered_with_its_public_name(fresh: ModuleType) -> None:
    bpy = fresh
    bpy.context.scene.render.engine = ENGINE  # raises TypeError for an unknown engine
    assert bpy.context.scene.render.engine == ENGINE
    labels = {getattr(c, "bl_idname", ""): getattr(c, "bl_label", "")
              for c in bpy.types.RenderEngine.__subclasses__() if getattr(c, "is_registered", False)}
    assert labels.get(ENGINE) == "Gaussian Splat"
    assert hasattr(bpy.context.scene, "au_talking_head_splat")


def test_single_gaussian_at_the_image_centre(fresh: ModuleType, tmp_path: Path) -> None:
    bpy = fresh
    _scene(bpy)
    add_camera(bpy)
    _one_gaussian(bpy, "One", (1.0, 0.5, 0.25))
    img = render_exr(bpy, tmp_path / "one.exr")
    rgb = np.stack([img[f"ViewLayer.Combined.{c}"] for c in "RGB"], -1)
    alpha, depth = img["ViewLayer.Alpha.A"], img["ViewLayer.Depth.Z"]
    assert rgb.shape == (32, 32, 3)
    # Analytic: 50 mm on a 36 mm sensor over 32 px, 4 m away; pixel centres 0.5 px from the mean.
    fx = 50 / 36 * 32
    sigma_px2 = (0.05 * fx / 4) ** 2 + 0.3
    a = 0.8 * np.exp(-0.5 * 0.5 / sigma_px2)
    expect = _linear(np.array([1.0, 0.5, 0.25]) * a + (1 - a) * _srgb(np.array(WORLD)))
    for r, c in ((15, 15), (15, 16), (16, 15), (16, 16)):
        assert np.allclose(rgb[r, c], expect, atol=2e-5), (r, c, rgb[r, c], expect)
        assert abs(alpha[r, c] - a) < 1e-5 and abs(depth[r, c] - 4.0) < 1e-4
    assert alpha.max() == pytest.approx(a, abs=1e-6)
    assert np.allclose(rgb[0, 0], WORLD, atol=1e-6) and alpha[0, 0] == 0.0
    assert np.allclose(img["ViewLayer.Combined.A"], 1.0)


def test_transparent_film_object_transforms_and_several_objects(fresh: ModuleType, tmp_path: Path) -> None:
    bpy = fresh
    _scene(bpy, transparent=True)
    add_camera(bpy, size=(48, 32))
    left = _one_gaussian(bpy, "Left", (1.0, 0.0, 0.0), opacity=0.9)
    right = _one_gaussian(bpy, "Right", (0.0, 0.0, 1.0), opacity=0.9)
    left.location = (-1.0, 0.0, 0.0)
    right.location = (0.5, 0.0, 0.25)
    right.scale = (2.0, 2.0, 2.0)  # twice the size on screen
    img = render_exr(bpy, tmp_path / "two.exr")
    alpha = img["ViewLayer.Alpha.A"]
    fx = 50 / 36 * 48
    # Blender x right -> column cx + fx·x/4; Blender z up -> row cy - fx·z/4 (rows run down).
    col_l, col_r, row_r = 24 - fx * 1.0 / 4, 24 + fx * 0.5 / 4, 16 - fx * 0.25 / 4
    peak_l = np.unravel_index(np.argmax(np.where(np.arange(48) < 24, alpha, 0)), alpha.shape)
    peak_r = np.unravel_index(np.argmax(np.where(np.arange(48) >= 24, alpha, 0)), alpha.shape)
    assert abs(peak_l[1] + 0.5 - col_l) <= 0.5 and abs(peak_l[0] + 0.5 - 16) <= 0.5
    assert abs(peak_r[1] + 0.5 - col_r) <= 0.5 and abs(peak_r[0] + 0.5 - row_r) <= 0.5
    red = img["ViewLayer.Combined.R"]
    blue = img["ViewLayer.Combined.B"]
    assert red[peak_l] > 0.5 and blue[peak_l] < 1e-6 and blue[peak_r] > 0.5 and red[peak_r] < 1e-6
    assert (alpha[:, 30:] > 0.05).sum() > 2.5 * (alpha[:, :20] > 0.05).sum()  # the scaled one is larger
    assert img["ViewLayer.Combined.A"][0, 0] == 0.0 and red[0, 0] == 0.0  # transparent background
    assert np.allclose(img["ViewLayer.Combined.A"], alpha, atol=1e-6)


def test_camera_matches_blenders_own_projection(fresh: ModuleType) -> None:
    bpy = fresh
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    scene = bpy.context.scene
    cam = add_camera(bpy, location=(0.3, -5.0, 0.4), size=(300, 200))
    cam.rotation_euler = (1.45, 0.1, 0.2)
    engine = ext("splat.bl_engine")
    points = np.random.default_rng(0).uniform(-1, 1, (25, 3))
    cases = [dict(), dict(shift_x=0.1, shift_y=-0.07), dict(sensor_fit="VERTICAL", lens=35.0),
             dict(type="ORTHO", ortho_scale=3.0), dict(pct=50, sensor_fit="HORIZONTAL")]
    for case in cases:
        case = dict(case)
        scene.render.resolution_percentage = case.pop("pct", 100)
        for key, value in case.items():
            setattr(cam.data, key, value)
        bpy.context.view_layer.update()
        camera = engine.scene_camera(scene, bpy.context.evaluated_depsgraph_get())
        t = points @ camera.world_to_camera[:3, :3].T + camera.world_to_camera[:3, 3]
        if camera.ortho:
            uv = np.stack([camera.fx * t[:, 0] + camera.cx, camera.fy * t[:, 1] + camera.cy], 1)
        else:
            uv = np.stack([camera.fx * t[:, 0] / t[:, 2] + camera.cx,
                           camera.fy * t[:, 1] / t[:, 2] + camera.cy], 1)
        for p, (u, v) in zip(points, uv, strict=True):
            ndc = world_to_camera_view(scene, cam, Vector(p))
            assert abs(u / camera.width - ndc.x) < 1e-5, case
            assert abs(1 - v / camera.height - ndc.y) < 1e-5, case


def test_missing_camera_is_a_clear_error(fresh: ModuleType) -> None:
    bpy = fresh
    _scene(bpy)
    _one_gaussian(bpy, "One", (1.0, 1.0, 1.0))
    with pytest.raises(ext("splat.model").SplatError, match="no camera"):
        ext("splat.bl_engine").render_frame(bpy.context.evaluated_depsgraph_get())
