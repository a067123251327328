"""Helpers of the splat blender tests: an uncompressed EXR reader and scene builders."""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from tests.blender.conftest import EXTENSION_MODULE


def ext(name: str) -> ModuleType:
    """A module of the installed extension, e.g. ``ext("splat.model")``."""
    __import__(f"{EXTENSION_MODULE}.{name}")
    return sys.modules[f"{EXTENSION_MODULE}.{name}"]


def read_exr(path: Path) -> dict[str, np.ndarray]:
    """Channels ``{name: [H, W] float32}`` (row 0 at the top) of an uncompressed (multi-part) EXR."""
    raw = Path(path).read_bytes()
    assert raw[:4] == b"v/1\x01", "not an EXR file"
    multipart = bool(raw[5] & 0x10)
    pos, parts = 8, []
    while raw[pos] != 0:
        attrs = {}
        while raw[pos] != 0:
            name_end = raw.index(b"\0", pos)
            type_end = raw.index(b"\0", name_end + 1)
            size = struct.unpack_from("<i", raw, type_end + 1)[0]
            attrs[raw[pos:name_end].decode()] = raw[type_end + 5:type_end + 5 + size]
            pos = type_end + 5 + size
        pos += 1
        parts.append(attrs)
        if not multipart:
            break
    if multipart:
        pos += 1
    out = {}
    for attrs in parts:
        assert attrs["compression"] == b"\0", "set exr_codec = 'NONE'"
        x0, y0, x1, y1 = struct.unpack("<4i", attrs["dataWindow"])
        w, h = x1 - x0 + 1, y1 - y0 + 1
        chl, names, p = attrs["channels"], [], 0
        while chl[p] != 0:
            e = chl.index(b"\0", p)
            names.append((chl[p:e].decode(), struct.unpack_from("<i", chl, e + 1)[0]))
            p = e + 17
        offsets = struct.unpack_from(f"<{h}Q", raw, pos)
        pos += 8 * h
        imgs = {n: np.zeros((h, w), np.float32) for n, _ in names}
        for off in offsets:
            q = off + (4 if multipart else 0)
            y = struct.unpack_from("<i", raw, q)[0]
            q += 8
            for n, kind in names:
                dtype, nbytes = ("<f4", 4) if kind == 2 else ("<f2", 2)
                imgs[n][y - y0] = np.frombuffer(raw, dtype, w, q)
                q += nbytes * w
        out.update(imgs)
    return out


def add_camera(bpy: ModuleType, location: tuple[float, float, float] = (0.0, -4.0, 0.0),
               size: tuple[int, int] = (32, 32)) -> Any:
    """A 50 mm camera at ``location`` looking along +Y, made the scene camera; render size ``size``."""
    scene = bpy.context.scene
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(cam)
    cam.location = location
    cam.rotation_euler = (np.pi / 2, 0.0, 0.0)
    scene.camera = cam
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    return cam


def render_exr(bpy: ModuleType, path: Path) -> dict[str, np.ndarray]:
    """Render the scene with its engine to an uncompressed 32-bit multilayer EXR and read it back."""
    scene = bpy.context.scene
    settings = scene.render.image_settings
    settings.media_type = "MULTI_LAYER_IMAGE"
    settings.file_format = "OPEN_EXR_MULTILAYER"
    settings.exr_codec = "NONE"
    settings.color_depth = "32"
    scene.render.filepath = str(path)
    assert bpy.ops.render.render(write_still=True) == {"FINISHED"}
    return read_exr(path)


def uv_sphere_with_key(bpy: ModuleType) -> tuple[Any, Any]:
    """A UV sphere (radius 1) with a Basis and a "Stretch" shape key (top half lifted, twisted)."""
    bpy.ops.mesh.primitive_uv_sphere_add(radius=1.0, segments=24, ring_count=12)
    obj = bpy.context.active_object
    obj.shape_key_add(name="Basis")
    key = obj.shape_key_add(name="Stretch", from_mix=False)
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    key.data.foreach_get("co", co)
    co = co.reshape(-1, 3)
    top = np.maximum(co[:, 2], 0)
    angle = 0.6 * top
    x, y = co[:, 0].copy(), co[:, 1].copy()
    co[:, 0] = x * np.cos(angle) - y * np.sin(angle)
    co[:, 1] = x * np.sin(angle) + y * np.cos(angle)
    co[:, 2] += 0.5 * top
    key.data.foreach_set("co", co.ravel())
    key.value = 0.0
    return obj, key
