"""The "Gaussian Splat" render engine (``AU_TALKING_HEAD_SPLAT``): a thin shell over ``splat.render``.

Each frame: the scene camera becomes a ``splat.camera.Camera``; every visible splat object is posed
(bound ones follow the evaluated rig mesh: shape keys and drivers applied); the chosen backend
rasterizes; the passes Combined (scene linear, converted from the display-referred splat colours),
Depth (when the view layer enables Z) and Alpha are written with ``rect.foreach_set``. The background
is the world colour, or transparent when the film is transparent.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import bpy
import numpy as np
from bpy.props import EnumProperty, IntProperty, PointerProperty

from . import camera as cam_mod
from .bl_data import collect_instances
from .colour import linear_to_srgb
from .model import SplatError
from .render import render as render_splats
from .rules import RenderOutput
from .viewport import combined_rgba

log = logging.getLogger(__name__)

ENGINE_ID = "AU_TALKING_HEAD_SPLAT"


class AUTH_PG_splat_settings(bpy.types.PropertyGroup):
    """Settings of the Gaussian Splat engine (``scene.au_talking_head_splat``)."""

    backend: EnumProperty(  # type: ignore[valid-type]
        name="Backend",
        items=(("AUTO", "Auto", "torch on a CUDA GPU when present, else numpy"),
               ("NUMPY", "NumPy", "The CPU rasterizer that always works in Blender"),
               ("TORCH", "Torch", "The torch rasterizer (needs torch in Blender's Python)")),
        default="AUTO",
    )
    viewport_max_side: IntProperty(  # type: ignore[valid-type]
        name="Viewport Preview Size", min=64, max=2048, default=384, subtype="PIXEL",
        description="Longest side, in pixels, of the splat preview in Rendered viewport shading "
                    "(smaller is more responsive)",
    )


def scene_camera(scene: Any, depsgraph: Any) -> cam_mod.Camera:
    """The splat camera of ``scene.camera`` as evaluated in ``depsgraph``.

    Raises:
        SplatError: no camera, or a panoramic one.
    """
    if scene.camera is None:
        raise SplatError("the scene has no camera: add one and make it the scene camera")
    cam_obj = scene.camera.evaluated_get(depsgraph)
    data = cam_obj.data
    if data.type not in ("PERSP", "ORTHO"):
        raise SplatError(f"camera type {data.type} is not supported by the Gaussian Splat engine "
                         "(use Perspective or Orthographic)")
    r = scene.render
    return cam_mod.from_blender(
        np.array(cam_obj.matrix_world), lens_mm=data.lens, sensor_width_mm=data.sensor_width,
        sensor_height_mm=data.sensor_height, sensor_fit=data.sensor_fit, shift_x=data.shift_x,
        shift_y=data.shift_y, resolution_x=r.resolution_x, resolution_y=r.resolution_y,
        resolution_percentage=r.resolution_percentage, pixel_aspect_x=r.pixel_aspect_x,
        pixel_aspect_y=r.pixel_aspect_y, ortho=data.type == "ORTHO", ortho_scale=data.ortho_scale,
        clip_start=data.clip_start, clip_end=data.clip_end)


def world_colour(scene: Any) -> np.ndarray:
    """Scene-linear RGB of the world background (Background node colour × strength when it has one)."""
    world = scene.world
    if world is None:
        return np.zeros(3, np.float32)
    tree = getattr(world, "node_tree", None)
    if tree is not None:
        for node in tree.nodes:
            if node.type == "BACKGROUND" and not node.inputs["Color"].is_linked:
                return np.array(node.inputs["Color"].default_value[:3], np.float32) * float(
                    node.inputs["Strength"].default_value)
    return np.array(world.color[:3], np.float32)


def film(scene: Any) -> tuple[bool, np.ndarray]:
    """(film transparent, scene-linear background: the world's colour, or black when transparent)."""
    transparent = bool(scene.render.film_transparent)
    return transparent, np.zeros(3, np.float32) if transparent else world_colour(scene)


def render_frame(depsgraph: Any, backend: str = "auto") -> tuple[RenderOutput, np.ndarray, bool]:
    """Render the depsgraph's scene: the raster output, the Combined RGBA ``[H, W, 4]`` (linear, row 0
    at the top) and whether the film is transparent."""
    scene = depsgraph.scene
    camera = scene_camera(scene, depsgraph)
    transparent, bg_linear = film(scene)
    out = render_splats(collect_instances(depsgraph), camera, linear_to_srgb(bg_linear), backend)
    return out, combined_rgba(out, transparent), transparent


class AUTH_RE_splat(bpy.types.RenderEngine):
    """Renders the scene's Gaussian-splat objects (the rig's splat twin, imported 3DGS files)."""

    bl_idname = ENGINE_ID
    bl_label = "Gaussian Splat"
    bl_use_preview = False
    bl_use_eevee_viewport = True
    bl_use_postprocess = True

    def render(self, depsgraph: Any) -> None:  # type: ignore[override]  # stubs: the render settings' name
        scene = depsgraph.scene
        settings = getattr(scene, "au_talking_head_splat", None)
        backend = settings.backend.lower() if settings is not None else "auto"
        t0 = time.perf_counter()
        self.update_stats("", "Gaussian Splat: rasterizing")
        try:
            out, rgba, _ = render_frame(depsgraph, backend)
        except SplatError as exc:
            self.report({"ERROR"}, str(exc))
            self.error_set(str(exc))
            return
        h, w = out.alpha.shape
        self.add_pass("Alpha", 1, "A")
        result = self.begin_result(0, 0, w, h)
        passes = result.layers[0].passes
        _write(passes, "Combined", rgba)
        _write(passes, "Depth", out.depth[..., None])
        _write(passes, "Alpha", out.alpha[..., None])
        self.end_result(result)
        log.debug("splat frame %d: %dx%d in %.3f s", scene.frame_current, w, h, time.perf_counter() - t0)

    def view_update(self, context: Any, depsgraph: Any) -> None:
        from .bl_viewport import note_updates  # late: bl_viewport imports this module

        note_updates(self, depsgraph)

    def view_draw(self, context: Any, depsgraph: Any) -> None:
        from .bl_viewport import draw_view

        draw_view(self, context, depsgraph)

    def update_render_passes(self, scene: Any = None, renderlayer: Any = None) -> None:
        self.register_pass(scene, renderlayer, "Combined", 4, "RGBA", "COLOR")
        if renderlayer.use_pass_z:
            self.register_pass(scene, renderlayer, "Depth", 1, "Z", "VALUE")
        self.register_pass(scene, renderlayer, "Alpha", 1, "A", "VALUE")


def _write(passes: Any, name: str, image: np.ndarray) -> None:
    """Write ``image`` ``[H, W, C]`` (row 0 at the top) into a pass (Blender's rows run bottom-up)."""
    render_pass = passes.get(name)
    if render_pass is None:
        return
    flat = np.ascontiguousarray(image[::-1], np.float32).ravel()
    render_pass.rect.foreach_set(flat)


class RENDER_PT_au_talking_head_splat(bpy.types.Panel):
    bl_label = "Gaussian Splat"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "render"
    COMPAT_ENGINES = {ENGINE_ID}  # noqa: RUF012 (Blender API)

    @classmethod
    def poll(cls, context: Any) -> bool:
        return context.engine in cls.COMPAT_ENGINES

    def draw(self, context: Any) -> None:
        layout = self.layout
        layout.prop(context.scene.au_talking_head_splat, "backend")
        layout.prop(context.scene.au_talking_head_splat, "viewport_max_side")
        layout.prop(context.scene.render, "film_transparent")


CLASSES = (AUTH_PG_splat_settings, AUTH_RE_splat, RENDER_PT_au_talking_head_splat)


def register_extra() -> None:
    bpy.types.Scene.au_talking_head_splat = PointerProperty(  # type: ignore[func-returns-value]
        type=AUTH_PG_splat_settings)


def unregister_extra() -> None:
    if hasattr(bpy.types.Scene, "au_talking_head_splat"):
        del bpy.types.Scene.au_talking_head_splat
