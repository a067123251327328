"""The viewport preview, pure: a 3D view's matrices to a splat ``Camera``, the preview size, and the
cache that decides when the preview must be rasterized again.

Blender's 3D view hands the engine ``region_data.view_matrix`` (world to view space, Blender's camera
convention: looking down -Z with +Y up) and ``region_data.window_matrix`` (an OpenGL projection: view
space to clip space, NDC ``[-1, 1]``, +Y up). The splat camera keeps the convention of ``camera.py``
(+X right, +Y down, +Z forward, pixel rows from the top), so ``world_to_camera = BLENDER_TO_SPLAT @
view_matrix`` and the intrinsics follow from where the projection sends a camera-space point:

- perspective (``P[3, 3] == 0``): ``u = W/2 · (P00·x/z − P02 + 1)``, ``v = H/2 · (P11·y/z + P12 + 1)``,
  so ``fx = W·P00/2``, ``cx = W·(1 − P02)/2``, ``fy = H·P11/2``, ``cy = H·(1 + P12)/2``; near and far
  from ``P22``, ``P23``;
- orthographic (``P[3, 3] == 1``): ``u = W/2 · (P00·x + P03 + 1)``, ``v = H/2 · (P11·y − P13 + 1)``.

The image of ``W × H`` pixels covers the whole region, whatever its size in screen pixels: the preview
is rasterized small (``preview_size``) and stretched over the region when drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .camera import BLENDER_TO_SPLAT, Camera
from .colour import display_to_scene_linear, srgb_to_linear
from .model import SplatError
from .rules import RenderOutput

#: Longest side of the viewport preview in pixels, unless a setting asks for another.
DEFAULT_MAX_SIDE = 384

#: ID types whose update changes what the splats look like (objects only for geometry or transform:
#: a selection tags the scene, a display change tags objects' shading). Scene settings that matter
#: (frame, film, world colour, backend) are part of the cache key instead.
ALWAYS_RELEVANT = frozenset({"MESH", "KEY", "ARMATURE", "ACTION", "COLLECTION", "WORLD"})


@dataclass(frozen=True)
class View:
    """A 3D view as the render engine sees it (numpy copies of ``region_data``'s matrices).

    Attributes:
        view_matrix: ``[4, 4]`` world to view space (Blender camera convention, rigid).
        window_matrix: ``[4, 4]`` OpenGL projection of the region (perspective or orthographic).
        width: region width in screen pixels.
        height: region height in screen pixels.
    """

    view_matrix: np.ndarray
    window_matrix: np.ndarray
    width: int
    height: int

    @property
    def ortho(self) -> bool:
        """Whether the projection is orthographic (its last row is ``0 0 0 1``)."""
        return abs(float(self.window_matrix[3, 3])) > 0.5

    def key(self) -> bytes:
        """Bytes that change whenever the view does (for the preview cache)."""
        return (np.asarray(self.view_matrix, np.float32).tobytes()
                + np.asarray(self.window_matrix, np.float32).tobytes()
                + np.array([self.width, self.height], np.int32).tobytes())


def preview_size(width: int, height: int, max_side: int = DEFAULT_MAX_SIDE) -> tuple[int, int]:
    """The preview image size ``(w, h)`` of a ``width × height`` region: its aspect, longest side at
    most ``max_side`` (regions smaller than that keep their size).

    Raises:
        SplatError: on an empty region or a ``max_side`` below 1.
    """
    if width < 1 or height < 1:
        raise SplatError(f"viewport size {width}x{height} is empty")
    if max_side < 1:
        raise SplatError(f"preview size {max_side} must be at least 1 pixel")
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def camera_from_view(view: View, width: int, height: int) -> Camera:
    """The splat camera that sees what ``view`` shows, as a ``width × height`` image.

    Args:
        view: the 3D view's matrices (see the module docstring for the projection maths).
        width: image width in pixels (the whole region; usually ``preview_size`` of the region).
        height: image height in pixels.

    Raises:
        SplatError: on an empty image or a degenerate projection.
    """
    if width < 1 or height < 1:
        raise SplatError(f"preview size {width}x{height} is empty")
    p = np.asarray(view.window_matrix, np.float64)
    if abs(p[0, 0]) < 1e-12 or abs(p[1, 1]) < 1e-12:
        raise SplatError("the viewport projection is degenerate (zero field of view)")
    fx, fy = 0.5 * width * p[0, 0], 0.5 * height * p[1, 1]
    if view.ortho:
        cx, cy = 0.5 * width * (1.0 + p[0, 3]), 0.5 * height * (1.0 - p[1, 3])
        near, far = (p[2, 3] + 1.0) / p[2, 2], (p[2, 3] - 1.0) / p[2, 2]
    else:
        cx, cy = 0.5 * width * (1.0 - p[0, 2]), 0.5 * height * (1.0 + p[1, 2])
        near, far = p[2, 3] / (p[2, 2] - 1.0), p[2, 3] / (p[2, 2] + 1.0)
    w2c = BLENDER_TO_SPLAT @ np.asarray(view.view_matrix, np.float64)
    return Camera(width, height, float(fx), float(fy), float(cx), float(cy), w2c, view.ortho,
                  float(near), float(far))


def is_relevant_update(id_type: str, geometry: bool, transform: bool) -> bool:
    """Whether a depsgraph update of an ID of ``id_type`` can change the splat preview."""
    if id_type == "OBJECT":
        return geometry or transform
    return id_type in ALWAYS_RELEVANT


def combined_rgba(out: RenderOutput, transparent: bool) -> np.ndarray:
    """Scene-linear premultiplied RGBA ``[H, W, 4]`` float32 of a raster output (the Combined pass)."""
    if transparent:
        rgb = display_to_scene_linear(out.rgb, out.alpha)
        return np.concatenate([rgb, out.alpha[..., None]], -1).astype(np.float32)
    return np.concatenate([srgb_to_linear(out.rgb), np.ones_like(out.alpha)[..., None]], -1)


@dataclass
class PreviewCache:
    """The last preview image and what it was made from.

    A key is whatever the caller builds from the view, the frame and the scene settings, plus
    ``generation``, which ``mark_changed`` bumps when the scene's data changed (depsgraph updates):
    equal keys mean the cached image is still right.

    Attributes:
        generation: count of relevant scene changes seen so far.
        key: the key of ``image`` (None when empty).
        image: ``[H, W, 4]`` float32 scene-linear premultiplied RGBA, row 0 at the top.
    """

    generation: int = 0
    key: tuple | None = None
    image: np.ndarray | None = field(default=None, repr=False)

    def make_key(self, *parts: object) -> tuple:
        """A key of ``parts`` (view, frame, settings) at the current generation."""
        return (self.generation, *parts)

    def mark_changed(self) -> None:
        """The scene changed: every key built from now on differs from the earlier ones."""
        self.generation += 1

    def get(self, key: tuple) -> np.ndarray | None:
        """The cached image when it was made for ``key``, else None."""
        return self.image if self.key == key else None

    def put(self, key: tuple, image: np.ndarray) -> None:
        """Remember ``image`` as made for ``key``."""
        self.key, self.image = key, image
