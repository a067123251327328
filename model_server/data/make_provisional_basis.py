"""Write a PROVISIONAL ``landmark_basis.npz`` (hand-built, not measured) so the pipeline runs now.

The rig generator replaces this file with one exported from the real default head: per AU, the
displacement of each of the 68 iBUG landmarks at AU = 1. This script only draws a plausible adult face
from simple curves and moves its points by hand-chosen amounts per AU (FACS descriptions), so that
landmark tracks have the right layout, units and directions. Run it again to regenerate the file:

    .venv/bin/python model_server/data/make_provisional_basis.py

Space: Blender axes, metres: +X is the character's left, the face looks towards -Y, +Z is up; the
origin is between the eyes at the depth of the ears. iBUG 68 order: 0-16 jaw line (from the
character's right ear to the left one), 17-21 right brow (outer to inner), 22-26 left brow (inner to
outer), 27-30 nose bridge, 31-35 nostrils, 36-41 right eye, 42-47 left eye, 48-59 outer lip,
60-67 inner lip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rigs.au_contract import AU_CODES  # noqa: E402

HEAD_SIZE_M = 0.23  # crown to chin of an adult head
DEFAULT_PATH = Path(__file__).with_name("landmark_basis.npz")


def _depth(x: np.ndarray | float, z: np.ndarray | float) -> np.ndarray:
    """Y of the face surface at (x, z): the face bulges forward (-Y) at the centre."""
    return np.asarray(-0.085 + 9.0 * np.square(x) + 2.0 * np.square(np.minimum(z, 0.0)), np.float64)


def neutral_face() -> np.ndarray:
    """[68, 3] neutral landmarks in metres."""
    pts = np.zeros((68, 3))
    i = np.arange(17)
    pts[0:17, 0] = -0.068 * np.cos(np.pi * i / 16)
    pts[0:17, 2] = 0.030 - 0.115 * np.sin(np.pi * i / 16)
    j = np.arange(5)
    pts[17:22, 0] = np.linspace(-0.058, -0.012, 5)
    pts[17:22, 2] = 0.040 + 0.008 * np.sin(np.pi * (j + 1) / 6)
    pts[22:27, 0] = -pts[21:16:-1, 0]
    pts[22:27, 2] = pts[21:16:-1, 2]
    pts[27:31, 2] = np.linspace(0.025, -0.012, 4)
    pts[31:36, 0] = np.linspace(-0.016, 0.016, 5)
    pts[31:36, 2] = -0.02 + 0.002 * np.abs(np.linspace(-2, 2, 5))
    for eye, sign in ((36, -1.0), (42, 1.0)):
        outer, inner = sign * 0.048, sign * 0.016
        xs = [outer, outer + (inner - outer) / 3, outer + 2 * (inner - outer) / 3, inner]
        zs_up = [0.022, 0.027, 0.027, 0.022]
        zs_lo = [0.022, 0.018, 0.018, 0.022]
        order = [0, 1, 2, 3, 2, 1] if sign < 0 else [3, 2, 1, 0, 1, 2]
        lids = [zs_up, zs_up, zs_up, zs_up, zs_lo, zs_lo]
        for k, (idx, lid) in enumerate(zip(order, lids, strict=True)):
            pts[eye + k, 0] = xs[idx]
            pts[eye + k, 2] = lid[idx]
    # Outer lip: 48 right corner, 49-53 upper lip, 54 left corner, 55-59 lower lip (back to the right).
    upper_x = np.linspace(-0.025, 0.025, 7)
    pts[48:55, 0] = upper_x
    pts[48:55, 2] = -0.045 + np.array([0.0, 0.006, 0.010, 0.009, 0.010, 0.006, 0.0])
    pts[55:60, 0] = np.linspace(0.018, -0.018, 5)
    pts[55:60, 2] = -0.045 - np.array([0.006, 0.010, 0.012, 0.010, 0.006])
    # Inner lip: 60 right corner, 61-63 upper, 64 left corner, 65-67 lower; closed mouth.
    pts[60, 0], pts[64, 0] = -0.021, 0.021
    pts[61:64, 0] = [-0.010, 0.0, 0.010]
    pts[65:68, 0] = [0.010, 0.0, -0.010]
    pts[60:68, 2] = -0.045
    pts[:, 1] = _depth(pts[:, 0], pts[:, 2])
    pts[27:31, 1] -= np.linspace(0.005, 0.025, 4)  # the nose sticks out
    pts[31:36, 1] -= 0.012 + 0.01 * (1 - np.abs(np.linspace(-1, 1, 5)))
    pts[48:68, 1] -= 0.008  # the lips too
    return pts


def au_basis(neutral: np.ndarray) -> dict[str, np.ndarray]:
    """AU code -> [68, 3] displacement at AU = 1 (metres)."""
    x = neutral[:, 0]
    out = {code: np.zeros((68, 3)) for code in AU_CODES}
    right_brow, left_brow = list(range(17, 22)), list(range(22, 27))
    inner_brow, mid_brow, outer_brow = [20, 21, 22, 23], [19, 24], [17, 18, 25, 26]
    upper_lids, lower_lids = [37, 38, 43, 44], [40, 41, 46, 47]
    corners = [48, 54, 60, 64]
    upper_outer, lower_outer = [49, 50, 51, 52, 53], [55, 56, 57, 58, 59]
    upper_inner, lower_inner = [61, 62, 63], [65, 66, 67]
    lips = list(range(48, 68))
    side = np.sign(x)

    def move(code: str, idx: list[int], dx: float = 0.0, dy: float = 0.0, dz: float = 0.0,
             outward: float = 0.0) -> None:
        out[code][idx, 0] += dx + outward * side[idx]
        out[code][idx, 1] += dy
        out[code][idx, 2] += dz

    move("AU01", inner_brow, dz=0.008)
    move("AU01", mid_brow, dz=0.004)
    move("AU02", outer_brow, dz=0.008)
    move("AU02", mid_brow, dz=0.005)
    move("AU04", right_brow + left_brow, dz=-0.006)
    move("AU04", inner_brow, outward=-0.003)
    move("AU05", upper_lids, dz=0.003)
    move("AU06", lower_lids, dz=0.002)
    move("AU06", corners, dz=0.002, outward=0.002)
    move("AU07", lower_lids, dz=0.0025)
    move("AU07", upper_lids, dz=-0.001)
    move("AU09", list(range(31, 36)), dz=0.003)
    move("AU09", inner_brow, dz=-0.003)
    move("AU09", [50, 51, 52], dz=0.002)
    move("AU10", upper_outer, dz=0.004)
    move("AU10", upper_inner, dz=0.003)
    move("AU12", corners, dy=0.004, dz=0.006, outward=0.008)
    move("AU14", corners, dy=0.004, outward=0.004)
    move("AU15", corners, dz=-0.006)
    move("AU16", lower_outer + lower_inner, dz=-0.006)
    move("AU17", [7, 8, 9], dz=0.004)
    move("AU17", lower_outer, dy=-0.002, dz=0.003)
    out["AU18"][lips, 0] = -0.3 * x[lips]
    move("AU18", lips, dy=-0.008)
    move("AU20", corners, dz=-0.002, outward=0.008)
    move("AU22", lips, dy=-0.006)
    move("AU22", upper_inner, dz=0.003)
    move("AU22", lower_inner, dz=-0.003)
    move("AU23", upper_outer, dz=-0.002)
    move("AU23", lower_outer, dz=0.002)
    move("AU23", corners, outward=-0.002)
    move("AU24", upper_outer, dz=-0.002)
    move("AU24", lower_outer, dz=0.002)
    move("AU24", lips, dy=0.001)
    move("AU25", upper_inner, dz=0.003)
    move("AU25", lower_inner + lower_outer, dz=-0.005)
    chin = np.clip(1.0 - np.abs(np.arange(17) - 8) / 5.0, 0.0, 1.0)
    for code, depth in (("AU26", 0.015), ("AU27", 0.026)):
        out[code][0:17, 2] -= depth * chin
        move(code, lower_outer + lower_inner, dz=-0.9 * depth)
        move(code, upper_inner, dz=0.1 * depth)
    move("AU27", corners, outward=-0.004)
    move("AU28", lips, dy=0.005)
    move("AU28", upper_inner + upper_outer, dz=-0.002)
    move("AU28", lower_inner + lower_outer, dz=0.002)
    for code in ("AU43", "AU45"):
        for up, lo in ((37, 41), (38, 40), (43, 47), (44, 46)):
            out[code][up, 2] = 0.9 * (neutral[lo, 2] - neutral[up, 2])
    return out


def main(path: Path = DEFAULT_PATH) -> Path:
    """Write the provisional basis file and return its path."""
    neutral = neutral_face()
    basis = au_basis(neutral)
    np.savez_compressed(
        path,
        au_codes=np.array(AU_CODES),
        neutral=neutral.astype(np.float32),
        basis=np.stack([basis[c] for c in AU_CODES]).astype(np.float32),
        head_size=np.float32(HEAD_SIZE_M),
        source=np.array("provisional: hand-built by model_server/data/make_provisional_basis.py; "
                        "to be replaced by the rig generator's export of the default head"),
    )
    return path


if __name__ == "__main__":
    print(f"wrote {main()}")
