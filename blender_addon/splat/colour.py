"""Colour: splat colours are display-referred (sRGB-encoded); Blender's Combined pass is scene linear.

The engine composites in display space (as the Gaussians were trained), then decodes to linear with the
sRGB transfer function. With the scene's view transform set to "Standard" the rendered image then shows
the splat colours unchanged (AgX, Blender 5.0's default, tone-maps them).
"""

from __future__ import annotations

import numpy as np


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """Decode sRGB-encoded values (any shape, values >= 0) to linear, float32."""
    c = np.maximum(np.asarray(c, np.float32), 0.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    """Encode linear values (any shape, values >= 0) with the sRGB transfer function, float32."""
    c = np.maximum(np.asarray(c, np.float32), 0.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055).astype(np.float32)


def display_to_scene_linear(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Premultiplied display colour ``[..., 3]`` with coverage ``[...]`` to premultiplied linear.

    The colour is un-premultiplied, decoded, and premultiplied again, so a half-covered pixel of a
    mid-grey Gaussian keeps the Gaussian's linear colour at half coverage.
    """
    a = np.asarray(alpha, np.float32)[..., None]
    straight = np.where(a > 0, rgb / np.maximum(a, 1e-8), 0.0)
    return (srgb_to_linear(straight) * a).astype(np.float32)
