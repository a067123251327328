"""The engine's viewport preview: Rendered shading shows the splats live, small, off the UI thread.

``view_update`` (``note_updates``) bumps the preview cache's generation when a depsgraph update can
change the splats (``viewport.is_relevant_update``); ``view_draw`` (``draw_view``) builds the cache key
from the generation, the view matrices, the frame and the scene settings, and draws the cached image
when the key matches. Otherwise it collects the posed splats on the main thread (``prepare``: the only
part that reads Blender data), rasterizes them in a worker thread (``run``: the final render's path,
``splat.render.render`` over the world colour, at ``viewport.preview_size``), keeps drawing the last
image meanwhile, and a timer redraws the 3D views when the worker is done. ``render_view`` is the same
path, synchronous (tests, scripts).

The drawing itself is the template of Blender's ``RenderEngine`` docs (4.2 to 5.0): a scene-linear
``RGBA16F`` ``GPUTexture`` drawn with ``gpu_extras.presets.draw_texture_2d`` between
``bind_display_space_shader`` and ``unbind_display_space_shader`` with premultiplied alpha blending;
``gpu`` is touched only in ``gpu_available``, ``upload`` and ``draw_texture``, never in background mode.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import bpy
import numpy as np

from . import viewport as vp
from .bl_data import collect_instances
from .bl_engine import film
from .camera import Camera
from .colour import linear_to_srgb
from .model import SplatError
from .render import SplatInstance
from .render import render as render_splats

log = logging.getLogger(__name__)

POLL_S = 0.05
_EXECUTOR: ThreadPoolExecutor | None = None


@dataclass
class Job:
    """One preview rasterization, everything read from Blender already.

    Attributes:
        key: the cache key the image is made for.
        instances: the posed splat objects.
        camera: the preview camera (``viewport.camera_from_view`` at the preview size).
        background: ``[3]`` scene-linear world colour (ignored when ``transparent``).
        transparent: film transparent: premultiplied RGBA over nothing.
        backend: rasterizer backend (``"auto"``, ``"numpy"``, ``"torch"``).
    """

    key: tuple
    instances: list[SplatInstance]
    camera: Camera
    background: np.ndarray
    transparent: bool
    backend: str


def view_of(region_data: Any, width: int, height: int) -> vp.View:
    """The ``viewport.View`` of a ``RegionView3D`` (or any object with the same two matrices)."""
    return vp.View(np.array(region_data.view_matrix, np.float64),
                   np.array(region_data.window_matrix, np.float64), int(width), int(height))


def settings_of(scene: Any) -> tuple[str, int]:
    """The backend and the preview's longest side from the engine settings (defaults without them)."""
    settings = getattr(scene, "au_talking_head_splat", None)
    backend = settings.backend.lower() if settings is not None else "auto"
    max_side = int(getattr(settings, "viewport_max_side", vp.DEFAULT_MAX_SIDE))
    return backend, max_side


def frame_key(cache: vp.PreviewCache, depsgraph: Any, view: vp.View, backend: str, max_side: int
              ) -> tuple:
    """The cache key of what ``view`` shows now (cheap: no splat data is read)."""
    scene = depsgraph.scene
    transparent, background = film(scene)
    return cache.make_key(view.key(), scene.frame_current, scene.frame_subframe, transparent,
                          background.round(6).tobytes(), backend, max_side)


def prepare(depsgraph: Any, view: vp.View, key: tuple, backend: str, max_side: int) -> Job:
    """Read the posed splats and the film from Blender (main thread)."""
    width, height = vp.preview_size(view.width, view.height, max_side)
    transparent, background = film(depsgraph.scene)
    return Job(key, collect_instances(depsgraph), vp.camera_from_view(view, width, height), background,
               transparent, backend)


def run(job: Job) -> np.ndarray:
    """Rasterize a job: scene-linear premultiplied RGBA ``[h, w, 4]``, row 0 at the top (any thread)."""
    out = render_splats(job.instances, job.camera, linear_to_srgb(job.background), job.backend)
    return vp.combined_rgba(out, job.transparent)


def render_view(depsgraph: Any, region_data: Any, width: int, height: int, backend: str = "auto",
                max_side: int = vp.DEFAULT_MAX_SIDE) -> np.ndarray:
    """The preview of a ``width × height`` 3D view, synchronously (see ``run``)."""
    view = view_of(region_data, width, height)
    return run(prepare(depsgraph, view, (), backend, max_side))


@dataclass
class Preview:
    """One viewport's preview state (kept on the engine instance Blender makes for the viewport).

    Attributes:
        cache: the last finished image and its key.
        future: the worker's job in flight and its key, or None.
        error: the last failure, shown in the viewport's header text.
        texture: the GPU texture of ``texture_of`` (None when not uploaded or in background mode).
        texture_of: the image ``texture`` holds.
    """

    cache: vp.PreviewCache = field(default_factory=vp.PreviewCache)
    future: tuple[tuple, Future] | None = None
    error: str = ""
    texture: Any = None
    texture_of: np.ndarray | None = None

    def note_updates(self, depsgraph: Any) -> None:
        """Bump the cache generation when one of the depsgraph's updates can change the splats."""
        for update in depsgraph.updates:
            kind = getattr(update.id, "id_type", "")
            if vp.is_relevant_update(kind, bool(update.is_updated_geometry),
                                     bool(update.is_updated_transform)):
                self.cache.mark_changed()
                return

    def image(self, depsgraph: Any, view: vp.View, wait: bool = False) -> np.ndarray | None:
        """The preview of ``view``: the cached one when current, else rasterized now (``wait``) or in
        the worker, returning the last image (maybe stale, maybe None) meanwhile.

        Raises:
            SplatError: when the scene cannot be previewed (``wait`` only; else see ``error``).
        """
        backend, max_side = settings_of(depsgraph.scene)
        key = frame_key(self.cache, depsgraph, view, backend, max_side)
        self.collect()
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        if wait:
            image = run(prepare(depsgraph, view, key, backend, max_side))
            self.cache.put(key, image)
            return image
        if self.future is None:
            try:
                self.start(prepare(depsgraph, view, key, backend, max_side))
                self.error = ""
            except SplatError as exc:
                self.error = str(exc)
        return self.cache.image

    def start(self, job: Job) -> None:
        """Hand ``job`` to the worker; a timer redraws the 3D views when it is done."""
        global _EXECUTOR
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="auth-splat-preview")
        future = _EXECUTOR.submit(run, job)
        self.future = (job.key, future)
        bpy.app.timers.register(functools.partial(_redraw_when_done, future), first_interval=POLL_S)

    def collect(self) -> None:
        """Take the worker's finished image into the cache (or its error into ``error``)."""
        if self.future is None or not self.future[1].done():
            return
        key, future = self.future
        self.future = None
        try:
            self.cache.put(key, future.result())
            self.error = ""
        except SplatError as exc:
            self.error = str(exc)
        except Exception as exc:  # a worker bug must not kill the viewport: log it, show it
            log.exception("splat viewport preview failed")
            self.error = f"preview failed: {exc}"

    @property
    def busy(self) -> bool:
        """Whether the worker is rasterizing for this viewport."""
        return self.future is not None


def _redraw_when_done(future: Future) -> float | None:
    """Timer: poll ``future``; when done, tag every 3D view for redraw and stop."""
    if not future.done():
        return POLL_S
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()
    return None


def preview_of(engine: Any) -> Preview:
    """The ``Preview`` kept on a viewport engine instance (made on first use)."""
    preview = getattr(engine, "_auth_preview", None)
    if preview is None:
        preview = Preview()
        engine._auth_preview = preview
    return preview


def gpu_available() -> bool:
    """Whether drawing with ``gpu`` is possible (not in background mode, module importable)."""
    if bpy.app.background:
        return False
    try:
        import gpu  # noqa: F401
        from gpu_extras import presets  # noqa: F401
    except ImportError:
        return False
    return True


def upload(image: np.ndarray) -> Any:
    """A scene-linear ``RGBA16F`` GPU texture of ``image`` ``[h, w, 4]`` (row 0 at the top)."""
    import gpu

    h, w = image.shape[:2]
    flat = np.ascontiguousarray(image[::-1], np.float32).ravel()  # GPU rows run bottom-up
    # The stubs lack both constructors: Buffer(type, shape, data), GPUTexture(size, format=, data=).
    buffer = gpu.types.Buffer("FLOAT", flat.size, flat)  # type: ignore[call-arg]
    return gpu.types.GPUTexture((w, h), format="RGBA16F", data=buffer)  # type: ignore[call-arg]


def draw_texture(engine: Any, scene: Any, texture: Any, width: int, height: int) -> None:
    """Draw ``texture`` over the whole ``width × height`` region (Blender's engine template)."""
    import gpu
    from gpu_extras.presets import draw_texture_2d

    gpu.state.blend_set("ALPHA_PREMULT")
    engine.bind_display_space_shader(scene)
    try:
        draw_texture_2d(texture, (0, 0), width, height)
    finally:
        engine.unbind_display_space_shader()
        gpu.state.blend_set("NONE")


def draw_image(preview: Preview, engine: Any, scene: Any, image: np.ndarray, width: int, height: int
               ) -> bool:
    """Draw ``image`` stretched over the region; False (and nothing drawn) where ``gpu`` is unavailable."""
    if not gpu_available():
        return False
    if preview.texture_of is not image:
        preview.texture, preview.texture_of = upload(image), image
    draw_texture(engine, scene, preview.texture, width, height)
    return True


def note_updates(engine: Any, depsgraph: Any) -> None:
    """``RenderEngine.view_update``: remember what changed."""
    preview_of(engine).note_updates(depsgraph)


def draw_view(engine: Any, context: Any, depsgraph: Any) -> None:
    """``RenderEngine.view_draw``: draw the current preview, starting a new one when it is stale."""
    preview = preview_of(engine)
    region = context.region
    view = view_of(context.region_data, region.width, region.height)
    image = preview.image(depsgraph, view)
    status = preview.error or ("Gaussian Splat: rasterizing" if preview.busy else "")
    engine.update_stats("", status)
    if image is not None:
        draw_image(preview, engine, depsgraph.scene, image, region.width, region.height)
