"""The engine's viewport preview with real bpy: a 3D view framed on the scene camera shows the final
render; the preview cache follows depsgraph updates; drawing skips cleanly without a GPU."""

from __future__ import annotations

from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tests.blender.addon_fixtures import make_rig
from tests.blender.splat_helpers import add_camera, ext, uv_sphere_with_key

SIZE = (96, 72)


def _camera_view(bpy: ModuleType, cam: Any) -> SimpleNamespace:
    """What ``context.region_data`` holds in a 3D view looking through ``cam``, framed to its image."""
    dg = bpy.context.evaluated_depsgraph_get()
    r = bpy.context.scene.render
    window = cam.calc_matrix_camera(dg, x=SIZE[0], y=SIZE[1], scale_x=r.pixel_aspect_x,
                                    scale_y=r.pixel_aspect_y)
    return SimpleNamespace(view_matrix=cam.matrix_world.inverted(), window_matrix=window)


def _after(bpy: ModuleType, preview: Any, view: Any, change: Any) -> np.ndarray:
    """The preview after ``change()``, its depsgraph updates noted as ``view_update`` would note them."""

    def noted(scene: Any, depsgraph: Any) -> None:
        preview.note_updates(depsgraph)

    bpy.app.handlers.depsgraph_update_post.append(noted)
    try:
        change()
        bpy.context.view_layer.update()
    finally:
        bpy.app.handlers.depsgraph_update_post.remove(noted)
    return preview.image(bpy.context.evaluated_depsgraph_get(), view, wait=True)


def _head_scene(bpy: ModuleType) -> tuple[Any, Any]:
    """The default rig with its splat twin, a camera on the face; returns (control, camera)."""
    ctl = make_rig(bpy)
    data = ext("splat.bl_data")
    splat = next(o for o in bpy.context.scene.objects if data.is_splat(o))
    face = data.bound_target(splat)
    centre = np.array(face.matrix_world) @ np.append(data.mesh_vertices(face.data).mean(0), 1)
    cam = add_camera(bpy, location=(centre[0] + 0.1, centre[1] - 0.8, centre[2] + 0.05), size=SIZE)
    cam.rotation_euler = (np.pi / 2 - 0.05, 0.0, 0.12)
    cam.data.lens = 85
    cam.data.shift_x = 0.05  # an off-centre frustum too
    bpy.context.view_layer.update()
    return ctl, cam


def test_camera_view_preview_matches_the_final_render(fresh: ModuleType) -> None:
    bpy = fresh
    engine, viewport = ext("splat.bl_engine"), ext("splat.bl_viewport")
    _, cam = _head_scene(bpy)
    dg = bpy.context.evaluated_depsgraph_get()
    region_data = _camera_view(bpy, cam)
    # The same Camera as the camera-object path (up to the float32 of mathutils matrices).
    via_view = ext("splat.viewport").camera_from_view(viewport.view_of(region_data, *SIZE), *SIZE)
    via_object = engine.scene_camera(bpy.context.scene, dg)
    for name in ("width", "height", "fx", "fy", "cx", "cy", "ortho"):
        assert getattr(via_view, name) == pytest.approx(getattr(via_object, name), rel=1e-5), name
    assert np.allclose(via_view.world_to_camera, via_object.world_to_camera, atol=1e-5)
    preview = viewport.render_view(dg, region_data, *SIZE, backend="numpy")
    _, final, _ = engine.render_frame(dg, "numpy")
    assert preview.shape == final.shape == (SIZE[1], SIZE[0], 4)
    assert 0.1 < (final[..., :3].sum(-1) > 0.2).mean() < 0.9, "the head fills part of the image"
    # Cameras equal to 1e-5 (float32 view matrices): the fitted twin's view-dependent colour (degree-2
    # SH) and its depth order turn that into at most a few 1e-4 of a pixel value; a different camera or
    # colour path would differ by far more.
    assert np.abs(preview - final).max() < 2e-3
    # A big region is previewed small: the longest side at most 384 px, the same aspect.
    small = viewport.render_view(dg, SimpleNamespace(**vars(region_data)), 1920, 1440, backend="numpy")
    assert small.shape == (288, 384, 4)


def test_preview_follows_the_rigs_drivers(fresh: ModuleType) -> None:
    bpy = fresh
    viewport = ext("splat.bl_viewport")
    ctl, cam = _head_scene(bpy)
    view = viewport.view_of(_camera_view(bpy, cam), *SIZE)
    preview = viewport.Preview()
    rest = preview.image(bpy.context.evaluated_depsgraph_get(), view, wait=True)

    def open_jaw() -> None:
        ctl["AU26"] = 1.0
        ctl.update_tag()

    opened = _after(bpy, preview, view, open_jaw)
    assert opened is not rest and np.abs(opened - rest).max() > 0.05, "AU26 must change the preview"


def test_preview_cache_follows_shape_keys_not_selection(fresh: ModuleType) -> None:
    bpy = fresh
    viewport = ext("splat.bl_viewport")
    face, key = uv_sphere_with_key(bpy)
    ext("splat.bl_data").add_splat_twin(bpy.context, face, count=400)
    cam = add_camera(bpy, location=(0.0, -5.0, 0.3), size=SIZE)
    bpy.context.view_layer.update()
    view = viewport.view_of(_camera_view(bpy, cam), *SIZE)
    preview = viewport.Preview()
    first = preview.image(bpy.context.evaluated_depsgraph_get(), view, wait=True)
    assert first is not None and first[..., 3].min() == 1.0
    reselected = _after(bpy, preview, view, lambda: face.select_set(not face.select_get()))
    assert reselected is first, "a selection change must not re-render"
    stretched = _after(bpy, preview, view, lambda: setattr(key, "value", 1.0))
    assert stretched is not first and np.abs(stretched - first).max() > 0.1
    assert np.allclose(stretched, ext("splat.bl_viewport").render_view(
        bpy.context.evaluated_depsgraph_get(), _camera_view(bpy, cam), *SIZE), atol=1e-6)
    bpy.context.scene.render.film_transparent = True  # in the key: no depsgraph update needed
    clear = preview.image(bpy.context.evaluated_depsgraph_get(), view, wait=True)
    assert clear is not stretched and clear[..., 3].min() == 0.0


def test_view_draw_renders_in_the_worker_and_skips_drawing_without_gpu(fresh: ModuleType) -> None:
    bpy = fresh
    viewport = ext("splat.bl_viewport")
    assert {"view_update", "view_draw"} <= set(vars(ext("splat.bl_engine").AUTH_RE_splat))
    face, _ = uv_sphere_with_key(bpy)
    ext("splat.bl_data").add_splat_twin(bpy.context, face, count=300)
    cam = add_camera(bpy, location=(0.0, -5.0, 0.3), size=SIZE)
    bpy.context.view_layer.update()
    stats: list[str] = []
    engine = SimpleNamespace(update_stats=lambda _stats, info: stats.append(info))
    context = SimpleNamespace(region=SimpleNamespace(width=SIZE[0], height=SIZE[1]),
                              region_data=_camera_view(bpy, cam))
    dg = bpy.context.evaluated_depsgraph_get()
    viewport.draw_view(engine, context, dg)  # starts the worker, nothing to draw yet
    preview = viewport.preview_of(engine)
    assert preview.busy and stats[-1] == "Gaussian Splat: rasterizing" and preview.cache.image is None
    preview.future[1].result(timeout=60)
    viewport.draw_view(engine, context, dg)  # takes the image; drawing is skipped in background mode
    assert not preview.busy and stats[-1] == "" and preview.texture is None
    want = viewport.render_view(dg, context.region_data, *SIZE)
    assert preview.cache.image is not None and np.allclose(preview.cache.image, want, atol=1e-6)
    assert not viewport.gpu_available()
    assert viewport.draw_image(preview, engine, bpy.context.scene, want, *SIZE) is False
