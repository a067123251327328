"""Does the splat twin look like its mesh? Cycles vs the Gaussian Splat engine, same camera, PSNR.

Usage: ``.venv/bin/python bench/bench_splat_match.py [--size 256] [--samples 64] [--out docs/splat_match]
[--sheet docs/splat_match.png]`` (which runs this file in the bpy module).

Builds the batch default scene (``batch_render.bl_scene.build_default_scene``: generated rig with its
splat twin, camera, world, lights), then for each view (front, and the camera turned -30 / +30 degrees
about the vertical axis through the head) and each expression (neutral; jaw open: AU26 0.7 + AU25 1;
blink: AU45 1) renders the head with Cycles (CPU, denoised, transparent film composited over the world
colour) and with the splat engine (numpy backend), both as display-referred sRGB under the Standard
view transform. Prints one row per image: PSNR in dB over the head's pixels (where either render's
alpha exceeds 0.5), and the mean and minimum. Writes each pair (``<view>_<expr>_cycles.png``,
``..._splat.png``) to ``--out`` and a contact sheet (rows: images; columns: Cycles, splat, 4x abs diff).
Not part of the test suite (about a minute per Cycles image on a 2-core CPU at 64 samples).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

VIEWS = {"front": 0.0, "left30": -30.0, "right30": 30.0}
EXPRESSIONS: dict[str, dict[str, float]] = {
    "neutral": {}, "jaw_open": {"AU26": 0.7, "AU25": 1.0}, "blink": {"AU45": 1.0}}


def build_scene(size: int) -> bpy.types.Scene:
    """The batch default scene at ``size`` x ``size``."""
    import blender_addon
    from batch_render import bl_scene, jobs

    blender_addon.register()
    bl_scene.build_default_scene(jobs.BatchOptions(items=[]))
    scene = bpy.context.scene
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    bpy.context.view_layer.update()  # matrix_world of the new camera
    return scene


def render_splat(scene: bpy.types.Scene) -> tuple[np.ndarray, np.ndarray]:
    """The splat engine's frame: display-referred RGB ``[H, W, 3]`` and alpha ``[H, W]``."""
    from blender_addon.splat.bl_engine import render_frame

    out, _, _ = render_frame(bpy.context.evaluated_depsgraph_get(), "numpy")
    return np.clip(out.rgb, 0, 1), out.alpha


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """PSNR in dB of two ``[H, W, 3]`` images in [0, 1] over the ``[H, W]`` mask's pixels."""
    mse = float(np.mean((a[mask] - b[mask]) ** 2))
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


def to_u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def contact_sheet(rows: list[tuple[str, np.ndarray, np.ndarray]], path: Path) -> None:
    """Rows of Cycles | splat | 4x absolute difference, each labelled."""
    from PIL import ImageDraw

    h, w = rows[0][1].shape[:2]
    sheet = Image.new("RGB", (3 * w, len(rows) * h), (0, 0, 0))
    draw = ImageDraw.Draw(sheet)
    for i, (label, cyc, spl) in enumerate(rows):
        for j, img in enumerate((cyc, spl, np.clip(4 * np.abs(cyc - spl), 0, 1))):
            sheet.paste(Image.fromarray(to_u8(img)), (j * w, i * h))
        draw.text((4, i * h + 4), label, fill=(255, 255, 255))
    draw.text((w + 4, 4), "splat", fill=(255, 255, 255))
    draw.text((2 * w + 4, 4), "|diff| x4", fill=(255, 255, 255))
    sheet.save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "splat_match")
    parser.add_argument("--sheet", type=Path, default=ROOT / "docs" / "splat_match.png")
    args = parser.parse_args()
    scene = build_scene(args.size)
    from batch_render import bl_scene
    from rigs import bl_studio
    from rigs.head_build.bl_fit_splats import render_cycles, set_expression

    base = np.array(scene.camera.matrix_world)
    pivot = bl_studio.orbit_pivot(scene, bl_scene.face_mesh(scene))
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="auth-splat-match-"))
    rows, scores = [], []
    print(f"{'image':<20} {'PSNR dB':>8} {'head px':>8} {'cycles s':>9} {'splat s':>8}")
    for view, degrees in VIEWS.items():
        bl_studio.orbit_camera(scene, base, pivot, degrees)
        for expr, values in EXPRESSIONS.items():
            set_expression(scene, values)
            t0 = time.perf_counter()
            cyc, a_cyc = render_cycles(scene, args.samples, tmp)
            t1 = time.perf_counter()
            spl, a_spl = render_splat(scene)
            t2 = time.perf_counter()
            mask = (a_cyc > 0.5) | (a_spl > 0.5)
            score = psnr(cyc, spl, mask)
            scores.append(score)
            name = f"{view}_{expr}"
            Image.fromarray(to_u8(cyc)).save(args.out / f"{name}_cycles.png")
            Image.fromarray(to_u8(spl)).save(args.out / f"{name}_splat.png")
            rows.append((f"{name} {score:.1f} dB", cyc, spl))
            print(f"{name:<20} {score:8.2f} {int(mask.sum()):8d} {t1 - t0:9.1f} {t2 - t1:8.2f}", flush=True)
    contact_sheet(rows, args.sheet)
    ok = np.mean(scores) >= 30.0 and min(scores) >= 27.0
    print(f"mean {np.mean(scores):.2f} dB, min {min(scores):.2f} dB (target: mean >= 30, every image >= 27): "
          f"{'met' if ok else 'NOT met'}")
    print(f"pairs in {args.out}, contact sheet {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
