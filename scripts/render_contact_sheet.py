"""Render the default head's contact sheet: neutral, each emotion prototype and each AU at 1.0.

Usage: ``.venv/bin/python scripts/render_contact_sheet.py [--out docs/contact_sheet.png] [--size 192]
[--samples 8]``. Cycles on the CPU, low samples; tiles are composed with Pillow (a dev dependency of anny).
Not part of the test suite: a person looks at the result.
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
from PIL import Image, ImageDraw  # noqa: E402

from au_contract import ACTION_UNITS, EMOTION_PROPS  # noqa: E402
from rigs.bl_build import build_default_rig  # noqa: E402


def _scene(size: int, samples: int) -> None:
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = True
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    cam_data = bpy.data.cameras.new("Camera")
    cam_data.lens = 85.0
    cam = bpy.data.objects.new("Camera", cam_data)
    cam.location = (0.0, -0.55, -0.045)
    cam.rotation_euler = (math.radians(90.0), 0.0, 0.0)
    scene.collection.objects.link(cam)
    scene.camera = cam
    lights = (("Key", (-0.35, -0.5, 0.3), 12.0, 0.4), ("Fill", (0.45, -0.4, 0.0), 4.0, 0.6),
              ("Rim", (0.0, 0.5, 0.4), 8.0, 0.3))
    for name, loc, energy, size_m in lights:
        light = bpy.data.lights.new(name, "AREA")
        light.energy, light.size = energy, size_m
        obj = bpy.data.objects.new(name, light)
        obj.location = loc
        direction = -obj.location.normalized()
        obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
        scene.collection.objects.link(obj)
    world = bpy.data.worlds.new("World")
    world.color = (0.05, 0.05, 0.06)
    scene.world = world


def main() -> int:
    parser = argparse.ArgumentParser(description="Render the rig contact sheet")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "contact_sheet.png")
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    bpy.ops.wm.read_homefile(use_empty=True)
    control, _ = build_default_rig(bpy.context)
    _scene(args.size, args.samples)
    shots: list[tuple[str, dict[str, float]]] = [("neutral", {})]
    shots += [(e.lower(), {p: 1.0}) for e, p in EMOTION_PROPS.items()]
    shots += [(au.label, {au.code: 1.0}) for au in ACTION_UNITS]
    tmp = Path(tempfile.mkdtemp(prefix="auth-sheet-"))
    tiles = []
    start = time.time()
    for i, (label, props) in enumerate(shots):
        for key in list(props):
            control[key] = props[key]
        control.update_tag()
        bpy.context.scene.render.filepath = str(tmp / f"{i:02d}.png")
        bpy.ops.render.render(write_still=True)
        for key in props:
            control[key] = 0.0
        tiles.append((label, tmp / f"{i:02d}.png"))
        print(f"[{i + 1}/{len(shots)}] {label} ({time.time() - start:.0f} s)")  # CLI progress line
    cols = 8
    rows = math.ceil(len(tiles) / cols)
    pad = 18
    sheet = Image.new("RGB", (cols * args.size, rows * (args.size + pad)), (20, 20, 22))
    draw = ImageDraw.Draw(sheet)
    for i, (label, path) in enumerate(tiles):
        x, y = (i % cols) * args.size, (i // cols) * (args.size + pad)
        sheet.paste(Image.open(path).convert("RGB"), (x, y))
        draw.text((x + 4, y + args.size + 3), label[:30], fill=(230, 230, 230))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out} ({len(tiles)} tiles, {time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
