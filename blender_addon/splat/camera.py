"""Cameras: Blender's camera parameters to pixel intrinsics and a world-to-camera matrix.

Splat convention (camera space): +X right, +Y down, +Z forward; Blender's camera looks down -Z with +Y
up, so ``world_to_camera = diag(1, -1, -1) @ inverse(normalised matrix_world)``. Image coordinates are
continuous pixels: the image spans ``[0, width] × [0, height]``, row 0 at the top, and pixel ``(i, j)``
is sampled at its centre ``(i + 0.5, j + 0.5)``.

The intrinsics follow Blender's own view-plane rules (``BKE_camera_params_compute_viewplane``): the
sensor fit (AUTO picks the larger of ``width * pixel_aspect_x`` and ``height * pixel_aspect_y``), the
shift in units of the fitted image side, the resolution percentage and non-square pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import SplatError

BLENDER_TO_SPLAT = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class Camera:
    """A pinhole or orthographic camera.

    Attributes:
        width: image width in pixels.
        height: image height in pixels.
        fx: horizontal focal length in pixels (orthographic: pixels per world unit).
        fy: vertical focal length in pixels (orthographic: pixels per world unit).
        cx: principal point x in pixels (continuous coordinates, see the module docstring).
        cy: principal point y in pixels.
        world_to_camera: ``[4, 4]`` world to splat camera space (+X right, +Y down, +Z forward).
        ortho: orthographic projection instead of perspective.
        near: near clip distance in world units (Gaussians closer are culled).
        far: far clip distance in world units.
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    world_to_camera: np.ndarray
    ortho: bool = False
    near: float = 0.01
    far: float = 1e4

    @property
    def position(self) -> np.ndarray:
        """Camera centre ``[3]`` in world space (for orthographic cameras: a point on the image plane)."""
        rot = self.world_to_camera[:3, :3]
        return -rot.T @ self.world_to_camera[:3, 3]

    def view_directions(self, means: np.ndarray) -> np.ndarray:
        """Directions ``[N, 3]`` from the camera to world points ``[N, 3]`` (orthographic: the axis)."""
        if self.ortho:
            forward = self.world_to_camera[2, :3]
            return np.broadcast_to(forward, np.shape(means)).copy()
        return np.asarray(means, np.float64) - self.position


def from_blender(matrix_world: np.ndarray, *, lens_mm: float = 50.0, sensor_width_mm: float = 36.0,
                 sensor_height_mm: float = 24.0, sensor_fit: str = "AUTO", shift_x: float = 0.0,
                 shift_y: float = 0.0, resolution_x: int = 1920, resolution_y: int = 1080,
                 resolution_percentage: int = 100, pixel_aspect_x: float = 1.0,
                 pixel_aspect_y: float = 1.0, ortho: bool = False, ortho_scale: float = 6.0,
                 clip_start: float = 0.1, clip_end: float = 1000.0) -> Camera:
    """The splat camera of a Blender camera object (arguments named after Blender's properties).

    Args:
        matrix_world: ``[4, 4]`` the camera object's world matrix (scale is ignored, as in Blender).
        sensor_fit: ``"AUTO"``, ``"HORIZONTAL"`` or ``"VERTICAL"``.

    Raises:
        SplatError: on a zero-sized image or lens.
    """
    width = int(resolution_x * resolution_percentage / 100)
    height = int(resolution_y * resolution_percentage / 100)
    if width < 1 or height < 1:
        raise SplatError(f"render size {width}x{height} is empty: check resolution and percentage")
    if not ortho and lens_mm <= 0:
        raise SplatError("camera focal length must be positive")
    fit = sensor_fit
    if fit == "AUTO":
        fit = "HORIZONTAL" if width * pixel_aspect_x >= height * pixel_aspect_y else "VERTICAL"
        sensor = sensor_width_mm
    elif fit == "HORIZONTAL":
        sensor = sensor_width_mm
    elif fit == "VERTICAL":
        sensor = sensor_height_mm
    else:
        raise SplatError(f"unknown sensor fit {sensor_fit!r}")
    ycor = pixel_aspect_y / pixel_aspect_x
    viewfac = width if fit == "HORIZONTAL" else ycor * height
    # Blender: pixel size on the plane at distance 1 (perspective) or in world units (orthographic).
    pixsize = (ortho_scale if ortho else sensor / lens_mm) / viewfac
    fx = 1.0 / pixsize
    fy = fx / ycor
    cx = 0.5 * width - shift_x * viewfac
    cy = 0.5 * height + shift_y * viewfac / ycor
    m = np.asarray(matrix_world, np.float64).copy()
    m[:3, :3] /= np.maximum(np.linalg.norm(m[:3, :3], axis=0), 1e-12)
    w2c = BLENDER_TO_SPLAT @ np.linalg.inv(m)
    return Camera(width, height, fx, fy, cx, cy, w2c, ortho, clip_start, clip_end)


def look_at(eye: np.ndarray | list, target: np.ndarray | list, up: np.ndarray | tuple = (0.0, 0.0, 1.0)
            ) -> np.ndarray:
    """A Blender-convention camera ``matrix_world`` ``[4, 4]`` at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(a, np.float64) for a in (eye, target, up))
    back = eye - target
    back /= np.linalg.norm(back)
    right = np.cross(up, back)
    if np.linalg.norm(right) < 1e-9:
        right = np.cross(np.array([0.0, 1.0, 0.0]), back)
    right /= np.linalg.norm(right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, np.cross(back, right), back, eye
    return m
