"""The batch renderer's default scene and scene geometry helpers (Blender side: imports bpy).

The default scene: the generated rig with its splat twin and the studio ``generate_rig`` adds
(``rigs.bl_studio``: a camera framing the face, three-point lights, a plain world). Also the operator
call that turns an extension error report into a ``BatchError``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import cast

import bpy

from rigs import bl_studio, regions

from . import jobs

log = logging.getLogger(__name__)

SPLAT_ENGINE = "AU_TALKING_HEAD_SPLAT"
#: Engine of the default scene when the splat engine is not registered.
FALLBACK_ENGINE = "CYCLES"
DEFAULT_RESOLUTION = (512, 512)
DEFAULT_FPS = 30
FACE_REGIONS = bl_studio.FACE_REGIONS


def ensure_registered() -> None:
    """Register the extension's classes if nothing did yet (the bpy module starts with none)."""
    if not hasattr(bpy.types.Scene, "au_talking_head"):
        from blender_addon import register

        register()


# --- scene ---------------------------------------------------------------------------------------


def build_default_scene(options: jobs.BatchOptions) -> None:
    """Replace the open file with the default scene: rig + splat twin, face camera, world, three-point light.

    Raises:
        BatchError: if the rig cannot be generated.
    """
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    _call_operator("generate_rig")
    rig = scene.au_talking_head.rig
    if rig is None:
        raise jobs.BatchError("generate_rig made no rig (scene.au_talking_head.rig is empty)")
    head = face_mesh(scene)
    if head is not None:
        bl_studio.ensure_studio(scene, head)  # generate_rig added it; a no-op then
    scene.render.resolution_x, scene.render.resolution_y = DEFAULT_RESOLUTION
    scene.render.resolution_percentage = 100
    scene.render.fps, scene.render.fps_base = DEFAULT_FPS, 1.0
    scene.render.film_transparent = False
    engine = SPLAT_ENGINE if engine_available(SPLAT_ENGINE) else FALLBACK_ENGINE
    scene.render.engine = engine  # type: ignore[assignment]  # stubs: only 'BLENDER_EEVEE'
    if scene.render.engine == "CYCLES":
        scene.cycles.device = "CPU"
        scene.cycles.samples = 16
    log.info("default scene: rig %s, head %s, engine %s", rig.name, head.name if head else None,
             scene.render.engine)


def engine_available(idname: str) -> bool:
    """True if ``idname`` is a render engine registered in this Blender."""
    items = bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items
    return idname in {i.identifier for i in items} or any(
        getattr(cls, "bl_idname", None) == idname for cls in bpy.types.RenderEngine.__subclasses__())


def face_mesh(scene: bpy.types.Scene) -> bpy.types.Object | None:
    """The head mesh of the scene: the mesh carrying the face-region attribute, else the largest mesh."""
    meshes = [o for o in scene.objects if o.type == "MESH"]
    tagged = [o for o in meshes if (a := o.data.attributes.get(regions.REGION_ATTRIBUTE)) is not None
              and a.domain == "FACE"]
    pool = tagged or meshes
    return max(pool, key=lambda o: len(o.data.vertices), default=None)


def region_points(obj: bpy.types.Object, codes: Sequence[int], evaluated: bool = True) -> list:
    """World positions of the vertices of ``obj``'s faces whose region is in ``codes``.

    All vertices when ``codes`` is empty or the mesh has no face-region attribute.
    """
    if evaluated:
        depsgraph = bpy.context.evaluated_depsgraph_get()
        eval_obj = obj.evaluated_get(depsgraph)
        mesh = eval_obj.to_mesh()
    else:
        eval_obj, mesh = obj, cast(bpy.types.Mesh, obj.data)  # a mesh object: its data is a Mesh
    try:
        attr: bpy.types.Attribute | None = mesh.attributes.get(regions.REGION_ATTRIBUTE)
        if attr is None or attr.domain != "FACE" or not codes:
            index: Sequence[int] = range(len(mesh.vertices))
        else:
            wanted = set(codes)
            index = sorted({v for poly, a in zip(mesh.polygons, attr.data, strict=True) if a.value in wanted
                            for v in poly.vertices})
        matrix = eval_obj.matrix_world
        return [matrix @ mesh.vertices[i].co for i in index]
    finally:
        if evaluated:
            eval_obj.to_mesh_clear()


def world_to_pixels(scene: bpy.types.Scene, points: list) -> list[tuple[float, float]]:
    """Project world points into the rendered image: (x right, y down) in pixels."""
    from bpy_extras.object_utils import world_to_camera_view

    width = scene.render.resolution_x * scene.render.resolution_percentage / 100
    height = scene.render.resolution_y * scene.render.resolution_percentage / 100
    out = []
    for p in points:
        ndc = world_to_camera_view(scene, scene.camera, p)
        out.append((ndc.x * width, (1.0 - ndc.y) * height))
    return out


def region_box_px(scene: bpy.types.Scene, codes: Sequence[int]) -> tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1), y down, of the head's faces in ``codes`` at the current frame."""
    head = face_mesh(scene)
    if head is None:
        raise jobs.BatchError("the scene has no head mesh")
    xy = world_to_pixels(scene, region_points(head, codes))
    xs, ys = [p[0] for p in xy], [p[1] for p in xy]
    return int(min(xs)), int(min(ys)), math.ceil(max(xs)), math.ceil(max(ys))


def _call_operator(name: str, **kwargs: object) -> None:
    """Run ``bpy.ops.au_talking_head.<name>`` synchronously; its error report becomes a BatchError."""
    op = getattr(bpy.ops.au_talking_head, name)
    try:
        result = op(**kwargs)
    except RuntimeError as exc:  # the operator reported an ERROR: its message is the useful part
        message = str(exc).removeprefix("Error: ").strip()
        raise jobs.BatchError(message) from None
    except (AttributeError, KeyError):
        raise jobs.BatchError(f"operator au_talking_head.{name} is not registered: is the extension "
                              "installed and enabled?") from None
    if "FINISHED" not in result:
        raise jobs.BatchError(f"au_talking_head.{name} did not finish ({', '.join(result)})")
