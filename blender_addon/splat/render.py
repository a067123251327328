"""One entry point for a frame: Gaussians of several objects, their transforms, a camera, a backend.

``render(instances, camera, background, backend)`` flattens every instance to world space
(covariances through the object's full linear transform; SH evaluated for the view direction expressed
in the object's own frame, or for bound Gaussians in each Gaussian's own colour frame, which turns with
its triangle), then calls a rasterizer: ``"numpy"`` (always available), ``"torch"`` (when
importable; CUDA when present) or ``"auto"`` (torch on CUDA when there is a GPU, else numpy, which is
the faster of the two on a CPU).
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass

import numpy as np

from .binding import Posed
from .camera import Camera
from .model import C0, GaussianSet, SplatError, covariances, sh_colours
from .rules import BACKGROUND_DEPTH, RenderOutput

log = logging.getLogger(__name__)

BACKENDS = ("auto", "numpy", "torch")


@dataclass
class SplatInstance:
    """Gaussians placed in the world.

    Attributes:
        gaussians: the Gaussians in their object's space.
        matrix_world: ``[4, 4]`` object-to-world transform.
        posed: for bound Gaussians, their pose on the deformed mesh (object space): replaces the means,
            rotations and scales of ``gaussians`` (whose opacities and SH are used) and gives each
            Gaussian's colour frame. None: ``gaussians`` as they are, SH in object space.
    """

    gaussians: GaussianSet
    matrix_world: np.ndarray
    posed: Posed | None = None


def torch_available() -> bool:
    """Whether the torch backend can be used (torch importable)."""
    return importlib.util.find_spec("torch") is not None


def cuda_available() -> bool:
    """Whether torch is importable and sees a CUDA device (imports torch on first call)."""
    if not torch_available():
        return False
    import torch

    return bool(torch.cuda.is_available())


def resolve_backend(backend: str) -> str:
    """``"numpy"`` or ``"torch"`` for a requested backend; raises SplatError for an unusable request."""
    if backend not in BACKENDS:
        raise SplatError(f"unknown splat backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "torch" if cuda_available() else "numpy"
    if backend == "torch" and not torch_available():
        raise SplatError("the torch backend was requested but torch is not importable: pick 'numpy'")
    return backend


def flatten(instances: list[SplatInstance], camera: Camera
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """World means ``[N, 3]``, covariances ``[N, 3, 3]``, colours ``[N, 3]``, opacities ``[N]``."""
    means, covs, colours, opacs = [], [], [], []
    for inst in instances:
        g = inst.gaussians
        if not len(g):
            continue
        m = np.asarray(inst.matrix_world, np.float64)
        lin = m[:3, :3]
        posed = inst.posed
        local = g.means if posed is None else posed.means
        world = np.asarray(local, np.float64) @ lin.T + m[:3, 3]
        means.append(world)
        covs.append(covariances(g.quats, g.log_scales, lin) if posed is None else posed.covariances(lin))
        colours.append(view_colours(g.sh, world, camera, lin, None if posed is None else posed.sh_frames))
        opacs.append(g.opacities)
    if not means:
        return np.zeros((0, 3)), np.zeros((0, 3, 3)), np.zeros((0, 3), np.float32), np.zeros(0, np.float32)
    return np.concatenate(means), np.concatenate(covs), np.concatenate(colours), np.concatenate(opacs)


def view_colours(sh: np.ndarray, world: np.ndarray, camera: Camera, linear: np.ndarray,
                 sh_frames: np.ndarray | None = None) -> np.ndarray:
    """Display-referred colours ``[N, 3]`` of SH ``[N, K, 3]`` at world points ``[N, 3]`` seen by ``camera``.

    The view direction is taken to the object's frame (``linear`` ``[3, 3]``, its object-to-world linear
    part), then, when given, to each Gaussian's colour frame by the transpose of ``sh_frames``
    ``[N, 3, 3]`` (colour frame to object space). Degree 0 needs no direction.
    """
    if sh.shape[1] == 1:
        return np.maximum(C0 * sh[:, 0].astype(np.float64) + 0.5, 0.0).astype(np.float32)
    dirs = camera.view_directions(world) @ np.linalg.inv(linear).T
    if sh_frames is not None:
        dirs = np.einsum("nji,nj->ni", sh_frames, dirs)
    return sh_colours(sh, dirs)


def render(instances: list[SplatInstance], camera: Camera,
           background: np.ndarray | tuple = (0.0, 0.0, 0.0), backend: str = "auto") -> RenderOutput:
    """Render ``instances`` through ``camera`` over a display-referred ``background`` ``[3]``."""
    means, covs, colours, opacs = flatten(instances, camera)
    if not len(means):
        h, w = camera.height, camera.width
        return RenderOutput(np.broadcast_to(np.asarray(background, np.float32)[:3], (h, w, 3)).copy(),
                            np.zeros((h, w), np.float32), np.full((h, w), BACKGROUND_DEPTH, np.float32))
    if resolve_backend(backend) == "torch":
        from . import raster_torch

        return raster_torch.rasterize(means, covs, colours, opacs, camera, background)
    from . import raster_numpy

    return raster_numpy.rasterize(means, covs, colours, opacs, camera, background)
