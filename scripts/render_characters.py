"""Render the characters of issue 16 speaking the demo clip: an open vowel and a lip closure per character.

Usage: ``.venv/bin/python scripts/render_characters.py [--out docs/characters.png] [--size 256]
[--samples 8]``.

In the ``bpy`` module, without the extension installed: the characters the tests use are built (the ARKit-52
grid face, a grid face carrying only Oculus visemes, Rigify's Human face, the default head), each adapted
with ``rigs.bl_adapt.adapt_character``; the speech model runs in-process on ``assets/demo_speech.wav``
(``model_server.pipeline.predict_tracks``, 30 fps) and every control object takes the AU values of two
frames: the most open vowel (largest AU26 with AU24 low) and the most pressed bilabial middle (p/b/m of
``assets/demo_speech.phones.json``). Cycles on the CPU, few samples; tiles composed with Pillow. The grid
faces are flat: the mouth is the dark slit between the lips. Rigify's face has no skin here: its face
deform bones are drawn as thin boxes (each moved by its bone). Not part of the test suite: a person looks.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402
import numpy as np  # noqa: E402
from mathutils import Vector  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from au_contract import AU_CODES, CONTROL_MARKER_PROP  # noqa: E402
from rigs.arkit import ARKIT_52  # noqa: E402
from rigs.bl_adapt import adapt_character  # noqa: E402
from rigs.bl_build import build_default_rig  # noqa: E402
from tests.blender.character_helpers import build_face  # noqa: E402

FPS = 30
DEMO = ROOT / "assets" / "demo_speech.wav"
PHONES = json.loads((ROOT / "assets" / "demo_speech.phones.json").read_text())["phones"]
#: The Oculus visemes carried by the viseme face, each with the ARKit displacement that looks like it.
VISEMES = {"sil": "mouthShrugUpper", "PP": "mouthPressLeft", "FF": "mouthRollLower", "TH": "tongueOut",
           "DD": "mouthLowerDownLeft", "kk": "mouthLowerDownRight", "CH": "mouthFunnel",
           "SS": "mouthStretchLeft", "nn": "mouthShrugLower", "RR": "mouthPucker", "aa": "jawOpen",
           "E": "mouthStretchRight", "I": "mouthSmileLeft", "O": "mouthFunnel", "U": "mouthPucker"}
#: Half-width (metres) of the box drawn along each of Rigify's face deform bones.
BONE_RADIUS = 0.0022
FACE_BONES = ("DEF-lip", "DEF-jaw", "DEF-chin", "DEF-lid", "DEF-brow", "DEF-cheek", "DEF-nose",
              "DEF-forehead")


def _frames(tracks: Any) -> list[tuple[str, int]]:
    """(caption, frame index) of the most open vowel and the most pressed bilabial middle."""
    ch = tracks.channels
    open_score = np.where(ch["AU24"] <= 0.15, ch["AU26"], -1.0)
    open_f = int(np.argmax(open_score))
    bilabials = [p for p in PHONES if p["phone"] in ("p", "b", "m")]
    mids = [min(round(0.5 * (p["start_s"] + p["end_s"]) * FPS), tracks.frame_count - 1) for p in bilabials]
    press = [max(ch["AU23"][f], ch["AU24"][f], ch["AU28"][f]) for f in mids]
    k = int(np.argmax(press))
    return [(f"open vowel, {open_f / FPS:.2f} s", open_f),
            (f"/{bilabials[k]['phone']}/ closure, {mids[k] / FPS:.2f} s", mids[k])]


def _rigify_face() -> tuple[Any, list[Any]]:
    """Rigify's Human face and a tube mesh over its face deform bones (what the camera sees)."""
    import addon_utils

    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    bpy.ops.pose.rigify_generate()
    rig = bpy.context.active_object
    bpy.ops.object.mode_set(mode="OBJECT")
    bones = [b for b in rig.data.bones if b.name.startswith(FACE_BONES)]
    verts: list[tuple[float, float, float]] = []
    faces: list[tuple[int, int, int, int]] = []
    for i, b in enumerate(bones):  # a thin box along each bone, moved by that bone alone
        head, tail = b.head_local, b.tail_local
        u = (tail - head).orthogonal().normalized() * BONE_RADIUS
        v = (tail - head).normalized().cross(u)
        corners = ((-1, -1), (1, -1), (1, 1), (-1, 1))
        verts += [tuple(p + a * u + c * v) for p in (head, tail) for a, c in corners]
        o = 8 * i
        faces += [(o, o + 1, o + 2, o + 3), (o + 4, o + 7, o + 6, o + 5)]
        faces += [(o + k, o + 4 + k, o + 4 + (k + 1) % 4, o + (k + 1) % 4) for k in range(4)]
    mesh = bpy.data.meshes.new("RigifyFaceBones")
    mesh.from_pydata(verts, [], faces)
    obj = bpy.data.objects.new("RigifyFaceBones", mesh)
    bpy.context.scene.collection.objects.link(obj)
    for i, b in enumerate(bones):
        obj.vertex_groups.new(name=b.name).add(list(range(8 * i, 8 * i + 8)), 1.0, "REPLACE")
    obj.modifiers.new("Armature", "ARMATURE").object = rig
    for metarig in [o for o in bpy.data.objects if o.type == "ARMATURE" and o is not rig]:
        metarig.hide_render = True
    return rig, [obj]


def _characters() -> list[tuple[str, list[Any]]]:
    """(name, objects the camera frames) of each character, all adapted to their own control object."""
    out = []
    arkit = build_face(bpy, "ARKitFace", {n: n for n in ARKIT_52})
    adapt_character(bpy.context, arkit)
    out.append(("ARKit-52 grid face", [arkit]))
    visemes = build_face(bpy, "VisemeFace", {f"viseme_{v}": s for v, s in VISEMES.items()})
    visemes.location.x = 0.3
    adapt_character(bpy.context, visemes)
    out.append(("Oculus viseme face", [visemes]))
    rig, shown = _rigify_face()
    adapt_character(bpy.context, rig)
    out.append(("Rigify Human face", shown))
    _, head = build_default_rig(bpy.context)
    head.location.x = -0.4
    out.append(("default head", [head]))
    return out


def _framing(objects: list[Any]) -> tuple[tuple[float, float, float], float]:
    """(camera location, ortho scale) of an orthographic camera looking +Y at the objects' evaluated box."""
    bpy.context.view_layer.update()
    deps = bpy.context.evaluated_depsgraph_get()
    pts = []
    for obj in objects:
        ev = obj.evaluated_get(deps)
        pts += [ev.matrix_world @ Vector(c) for c in ev.bound_box]
    lo = Vector([min(p[i] for p in pts) for i in range(3)])
    hi = Vector([max(p[i] for p in pts) for i in range(3)])
    mid = (lo + hi) / 2
    return (mid.x, lo.y - 1.0, mid.z), 1.25 * max(hi.x - lo.x, hi.z - lo.z)


def _scene(size: int, samples: int) -> Any:
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device, scene.cycles.samples, scene.cycles.use_denoising = "CPU", samples, False
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.image_settings.file_format = "PNG"
    scene.view_settings.view_transform = "Standard"
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    cam.data.type, cam.data.clip_end = "ORTHO", 10.0
    cam.rotation_euler = (math.radians(90.0), 0.0, 0.0)
    scene.collection.objects.link(cam)
    scene.camera = cam
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.data.energy = 3.0
    sun.rotation_euler = (math.radians(60.0), math.radians(-25.0), math.radians(-20.0))
    scene.collection.objects.link(sun)
    scene.world = bpy.data.worlds.new("World")
    scene.world.color = (0.25, 0.27, 0.3)
    return cam


def _pose(tracks: Any, frame: int) -> None:
    """Every control object takes the AU values of one generated frame (not keyed)."""
    for ctl in [o for o in bpy.data.objects if o.get(CONTROL_MARKER_PROP)]:
        for code in AU_CODES:
            ctl[code] = float(tracks.channels[code][frame])
        ctl.update_tag()


def main() -> int:
    parser = argparse.ArgumentParser(description="Render the adapted characters at two frames of the demo")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "characters.png")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    from model_server.pipeline import PredictOptions, predict_tracks

    start = time.time()
    tracks = predict_tracks(DEMO, PredictOptions(fps=FPS, seed=0))
    bpy.ops.wm.read_homefile(use_empty=True)
    cam = _scene(args.size, args.samples)
    characters = _characters()
    shots = _frames(tracks)
    framings = [_framing(shown) for _, shown in characters]  # at rest, the same for both rows
    tmp = Path(tempfile.mkdtemp(prefix="auth-characters-"))
    pad = 20
    width, height = len(characters) * args.size, len(shots) * (args.size + pad) + pad
    sheet = Image.new("RGB", (width, height), (20, 20, 22))
    draw = ImageDraw.Draw(sheet)
    for col, (name, _) in enumerate(characters):
        draw.text((col * args.size + 4, 4), name, fill=(235, 235, 235))
    for row, (caption, frame) in enumerate(shots):
        _pose(tracks, frame)
        for col, (name, shown) in enumerate(characters):
            visible = {o.name for o in shown}
            for _, objs in characters:
                for o in objs:
                    o.hide_render = o.name not in visible
            cam.location, cam.data.ortho_scale = framings[col]
            bpy.context.scene.render.filepath = str(tmp / f"{row}_{col}.png")
            bpy.ops.render.render(write_still=True)
            y = pad + row * (args.size + pad)
            sheet.paste(Image.open(tmp / f"{row}_{col}.png").convert("RGB"), (col * args.size, y))
            draw.text((col * args.size + 4, y + args.size + 4), caption, fill=(200, 200, 200))
            print(f"[{row * len(characters) + col + 1}/{len(shots) * len(characters)}] {name}, {caption} "
                  f"({time.time() - start:.0f} s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out} ({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
