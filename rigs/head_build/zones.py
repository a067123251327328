"""Zone weights of the default head (DESIGN.md §4) and the mask each AU shape key is multiplied by (pure).

Three smooth weights per vertex that sum to one: ``upper`` (eyes, brows, forehead, nose bridge: a vertical
ramp from the lower nose to just under the eyes), ``mouth`` (lips, mouth bag, teeth, tongue, chin: a soft
ellipse around the mouth and chin, in front of the neck) and ``blend`` (the rest: cheeks, nasolabial folds,
jaw sides, neck). An AU of zone M or B may move ``mouth + blend`` (= 1 - upper); an AU of zone U may move
``upper + blend`` (= 1 - mouth): mouth AUs never touch the eyes, upper AUs never touch the lips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """Hermite 0..1 ramp between e0 and e1 (elementwise)."""
    t = np.clip((np.asarray(x, dtype=np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class FaceFrame:
    """Reference heights and sizes of a face (MakeHuman dm, +Y up, face +Z), from its landmarks."""

    eye_y: float
    subnasale_y: float
    mouth_y: float
    chin_y: float
    chin_z: float
    mouth_half_width: float


def zone_weights(verts: np.ndarray, frame: FaceFrame) -> dict[str, np.ndarray]:
    """Per-vertex zone weights ``{"M": [V], "U": [V], "B": [V]}`` in [0, 1], summing to 1."""
    x, y, z = verts[:, 0], verts[:, 1], verts[:, 2]
    span = frame.eye_y - frame.subnasale_y
    upper = smoothstep(frame.subnasale_y + 0.25 * span, frame.eye_y - 0.15 * span, y)
    centre_y = 0.5 * (frame.subnasale_y + frame.chin_y)
    a = 1.5 * frame.mouth_half_width
    b = 0.5 * (frame.subnasale_y - frame.chin_y) + 0.06
    r = np.sqrt((x / a) ** 2 + ((y - centre_y) / b) ** 2)
    front = smoothstep(frame.chin_z - 1.1, frame.chin_z - 0.8, z)
    mouth = (1.0 - smoothstep(0.8, 1.25, r)) * front * (1.0 - upper)
    blend = np.clip(1.0 - upper - mouth, 0.0, 1.0)
    return {"M": mouth, "U": upper, "B": blend}


def zone_mask(zone: str, weights: dict[str, np.ndarray]) -> np.ndarray:
    """The mask an AU of ``zone`` is multiplied by: M/B -> 1 - upper, U -> 1 - mouth. [V] in [0, 1]."""
    if zone in ("M", "B"):
        return np.clip(weights["M"] + weights["B"], 0.0, 1.0)
    if zone == "U":
        return np.clip(weights["U"] + weights["B"], 0.0, 1.0)
    raise ValueError(f"unknown zone {zone!r}: expected 'M', 'U' or 'B'")


def side_weights(x: np.ndarray, half_width: float) -> dict[str, np.ndarray]:
    """Smooth left/right split for sided shape keys: ``{"L": w, "R": 1 - w}``, w rising over the midline.

    x: [V] lateral coordinate (+x = character's left); half_width: width of the crossover on each side.
    """
    left = smoothstep(-half_width, half_width, x)
    return {"L": left, "R": 1.0 - left}
