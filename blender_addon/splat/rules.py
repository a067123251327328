"""The compositing rules shared by every rasterizer (DESIGN.md §6), and the render output.

Per pixel, front to back by camera depth (ties: input order): ``power = -½ dᵀ Σ⁻¹ d``; a Gaussian
counts only inside its 3σ ellipse (``power >= -4.5``, so results never depend on tiling);
``α = min(0.99, o·exp(power))``; ``α < 1/255`` is skipped; a Gaussian that would bring the
transmittance ``T`` below ``1e-4`` is not added and ends the pixel; ``C = Σ cᵢ αᵢ Tᵢ + T·background``.
Depth is the alpha-weighted mean camera z of the added Gaussians (``BACKGROUND_DEPTH`` where none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.99
T_MIN = 1e-4
CUTOFF_POWER = -4.5
TILE = 16
BACKGROUND_DEPTH = 1e10


@dataclass
class RenderOutput:
    """A rendered image, row 0 at the top.

    Attributes:
        rgb: ``[H, W, 3]`` float32 display-referred colour composited over the background.
        alpha: ``[H, W]`` float32 coverage ``1 - T``.
        depth: ``[H, W]`` float32 camera z (``BACKGROUND_DEPTH`` where nothing was hit).
    """

    rgb: np.ndarray
    alpha: np.ndarray
    depth: np.ndarray


def finish(acc: np.ndarray, trans: np.ndarray, background: np.ndarray) -> RenderOutput:
    """Turn accumulated ``[H, W, 4]`` (rgb, weighted z) and final ``T`` ``[H, W]`` into the output."""
    alpha = 1.0 - trans
    rgb = acc[..., :3] + trans[..., None] * np.asarray(background, np.float32)[:3]
    depth = np.where(alpha > 0, acc[..., 3] / np.maximum(alpha, 1e-12), BACKGROUND_DEPTH)
    return RenderOutput(rgb.astype(np.float32), alpha.astype(np.float32), depth.astype(np.float32))
