"""The default studio of a generated head: a camera framing it, three-point lights and a plain background.

``generate_rig`` (with its render settings on) calls :func:`ensure_studio`; the batch renderer and the
demo build their default scene through it, so every default render sees the same light. Only what the
scene lacks is added: a scene camera, the ``AUTH Key/Fill/Rim Light`` objects, a world. The light rig is
placed relative to the head (its bounding box and front, -Y in Blender's character convention), so it
suits any head size:

- key: a soft area light above and to the camera's left, 45 degrees off the axis;
- fill: a larger, dimmer area light low on the right, lifting the shadow side;
- rim: an area light behind and above, separating the head from the background;
- world: a uniform dark blue-grey (also the splat engine's background), a little ambient light.
"""

from __future__ import annotations

import math
from typing import Any

import bpy
import numpy as np

from . import regions

CAMERA_NAME = "AUTH Camera"
WORLD_NAME = "AUTH World"
#: Scene-linear background colour (the splat engine draws it as the background too).
WORLD_COLOUR = (0.030, 0.034, 0.042)
#: Lights: name -> (direction from the head centre in camera terms (right, up, towards the camera),
#: distance in head heights, power in watts per square head height, size in head heights).
LIGHTS: dict[str, tuple[tuple[float, float, float], float, float, float]] = {
    "AUTH Key Light": ((-0.75, 0.55, 0.75), 4.0, 200.0, 1.6),
    "AUTH Fill Light": ((0.9, -0.1, 0.6), 4.0, 70.0, 3.0),
    "AUTH Rim Light": ((0.5, 0.9, -0.9), 4.0, 200.0, 1.2),
}
#: Face regions the default camera frames (the face, not the whole head).
FACE_REGIONS = (regions.LIPS, regions.EYE_WHITE, regions.IRIS, regions.BROW, regions.EYELASH)
LENS_MM = 85.0
#: How far below the face's features (brows to lips) the frame reaches, in units of their height.
BELOW_FEATURES = 0.75


def head_points(obj: Any, codes: tuple[int, ...] = ()) -> np.ndarray:
    """World rest positions ``[N, 3]`` of ``obj``'s vertices (only faces in ``codes`` when given and the
    mesh has the region attribute)."""
    mesh = obj.data
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    pts = co.reshape(-1, 3).astype(np.float64)
    attr = mesh.attributes.get(regions.REGION_ATTRIBUTE)
    if codes and attr is not None and attr.domain == "FACE":
        vals = np.empty(len(mesh.polygons), np.int32)
        attr.data.foreach_get("value", vals)
        loops = np.empty(len(mesh.loops), np.int32)
        mesh.loops.foreach_get("vertex_index", loops)
        starts = np.empty(len(mesh.polygons), np.int32)
        mesh.polygons.foreach_get("loop_start", starts)
        counts = np.diff(np.append(starts, len(loops)))
        keep = np.repeat(np.isin(vals, codes), counts)
        sel = np.unique(loops[keep])
        if len(sel):
            pts = pts[sel]
    m = np.array(obj.matrix_world)
    return pts @ m[:3, :3].T + m[:3, 3]


def frame_camera(cam: Any, head: Any) -> None:
    """Place ``cam`` in front of ``head`` (-Y side), looking along +Y, framing the crown to the top of the
    shoulders (``BELOW_FEATURES``), as wide as the head."""
    cam.data.lens = LENS_MM
    cam.data.sensor_fit = "AUTO"
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)
    everything = head_points(head, regions.HEAD_REGIONS)
    features = head_points(head, FACE_REGIONS)
    lo, hi = features.min(0), features.max(0)
    top = float(everything[:, 2].max())
    bottom = float(lo[2] - BELOW_FEATURES * (hi[2] - lo[2]))
    width = float(np.ptp(everything[:, 0]))
    half = 0.54 * max(top - bottom, width)
    distance = half / math.tan(math.atan(cam.data.sensor_width / (2 * cam.data.lens)))
    front = float(everything[:, 1].min())
    cam.location = (float(lo[0] + hi[0]) / 2, front - distance, (top + bottom) / 2)
    cam.data.clip_start = distance * 0.05
    cam.data.clip_end = distance * 20


def _aim(obj: Any, target: np.ndarray) -> None:
    from mathutils import Vector

    direction = Vector(tuple(target)) - obj.location
    obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()


def add_lights(scene: Any, head: Any) -> list[Any]:
    """Add the key, fill and rim area lights around ``head`` (replacing lights of the same names)."""
    pts = head_points(head, regions.HEAD_REGIONS)
    centre = 0.5 * (pts.min(0) + pts.max(0))
    size = float(np.ptp(pts[:, 2]))
    right, up, towards = np.array([1.0, 0, 0]), np.array([0, 0, 1.0]), np.array([0, -1.0, 0])
    out = []
    for name, (d, dist, power, light_size) in LIGHTS.items():
        old: Any = bpy.data.objects.get(name)
        if old is not None:
            bpy.data.objects.remove(old)
        data = bpy.data.lights.new(name, "AREA")
        assert isinstance(data, bpy.types.AreaLight)
        data.shape = "DISK"
        data.size = light_size * size
        data.energy = power * size * size
        obj = bpy.data.objects.new(name, data)
        scene.collection.objects.link(obj)
        vec = d[0] * right + d[1] * up + d[2] * towards
        obj.location = tuple(centre + dist * size * vec / np.linalg.norm(vec))
        _aim(obj, centre)
        out.append(obj)
    return out


def ensure_world(scene: Any) -> Any:
    """Give ``scene`` the studio world (uniform background) unless it has a world already."""
    if scene.world is not None:
        return scene.world
    world = bpy.data.worlds.get(WORLD_NAME) or bpy.data.worlds.new(WORLD_NAME)
    world.color = WORLD_COLOUR
    if world.node_tree is None:  # Blender < 5.0 creates worlds without nodes
        world.use_nodes = True
    for node in world.node_tree.nodes:
        if node.type == "BACKGROUND":
            node.inputs["Color"].default_value = (*WORLD_COLOUR, 1.0)
            node.inputs["Strength"].default_value = 1.0
    scene.world = world
    return world


def ensure_studio(scene: Any, head: Any) -> list[str]:
    """Add what ``scene`` lacks of the studio around ``head``: camera, lights, world.

    Returns:
        Names of what was added (for the operator's report).
    """
    added = []
    if scene.camera is None:
        cam = bpy.data.objects.new(CAMERA_NAME, bpy.data.cameras.new(CAMERA_NAME))
        scene.collection.objects.link(cam)
        scene.camera = cam
        frame_camera(cam, head)
        added.append("camera")
    if not any(o.type == "LIGHT" for o in scene.objects):
        add_lights(scene, head)
        added.append("three-point lights")
    if scene.world is None:
        ensure_world(scene)
        added.append("world")
    return added


def orbit_pivot(scene: Any, head: Any) -> np.ndarray:
    """The point on the scene camera's axis at the depth of ``head``'s centre (the orbit centre)."""
    pts = head_points(head, regions.HEAD_REGIONS)
    centre = 0.5 * (pts.min(0) + pts.max(0))
    m = np.array(scene.camera.matrix_world)
    loc, fwd = m[:3, 3], -m[:3, 2]
    return np.asarray(loc + fwd * float((centre - loc) @ fwd))


def orbit_camera(scene: Any, base: np.ndarray, pivot: np.ndarray, azimuth_deg: float,
                 elevation_deg: float = 0.0) -> None:
    """Place the scene camera: world matrix ``base`` ``[4, 4]`` tilted by ``elevation_deg`` about +X, then
    turned by ``azimuth_deg`` about +Z, both through ``pivot`` (positive azimuth: towards the head's +X)."""
    from mathutils import Matrix

    a, e = math.radians(azimuth_deg), -math.radians(elevation_deg)  # positive elevation: from above
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(e), -math.sin(e)], [0, math.sin(e), math.cos(e)]])
    rot = rz @ rx
    m = np.array(base, np.float64).copy()
    m[:3, :3] = rot @ m[:3, :3]
    m[:3, 3] = pivot + rot @ (m[:3, 3] - pivot)
    scene.camera.matrix_world = Matrix(m.tolist())
