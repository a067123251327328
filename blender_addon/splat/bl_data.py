"""Gaussian-splat objects in Blender: storage as mesh point attributes, binding, the splat twin.

A splat object is a mesh object with one vertex per Gaussian (position = mean, object space) and POINT
attributes: ``opacity`` (FLOAT, 0..1), ``scale`` (FLOAT_VECTOR, logs), ``rotation`` (QUATERNION,
w x y z), ``f_dc`` and ``f_rest_<i>`` (FLOAT_VECTOR: RGB of SH coefficient 0 and i+1), ``Col``
(FLOAT_COLOR, linear DC colour for the viewport). Its mesh carries ``SPLAT_KEY`` (the SH degree).
A bound splat also has ``auth_bind_v0..2`` (INT), ``auth_bind_mean``, ``auth_bind_rot``,
``auth_bind_scale``, ``auth_bind_sh_rot`` (QUATERNION, the colour-frame rotation; see ``splat.binding``)
and the object property ``TARGET_KEY`` pointing at the mesh object it follows. Vertices alone never
render in Cycles/EEVEE; the viewport shows them as coloured points through a Geometry Nodes modifier
(``bl_splat_nodes``) that is off for final renders.
"""

from __future__ import annotations

import logging
from typing import Any

import bpy
import numpy as np

from rigs import regions, splat_twin
from rigs.naming import RIG_HASH_PROP

from . import binding as bnd
from . import bl_nodes as bl_splat_nodes
from .colour import srgb_to_linear
from .model import (
    C0,
    GaussianSet,
    SplatError,
    matrices_to_quats,
    quats_to_matrices,
    sh_count,
    transform_gaussians,
)
from .render import SplatInstance

log = logging.getLogger(__name__)

SPLAT_KEY = "auth_splat_sh_degree"
TARGET_KEY = "auth_splat_target"
BIND_INTS = ("auth_bind_v0", "auth_bind_v1", "auth_bind_v2")


def _set(mesh: Any, name: str, kind: str, values: np.ndarray) -> None:
    attr = mesh.attributes.get(name) or mesh.attributes.new(name, kind, "POINT")
    key = {"FLOAT": "value", "INT": "value", "FLOAT_VECTOR": "vector", "QUATERNION": "value",
           "FLOAT_COLOR": "color"}[kind]
    dtype = np.int32 if kind == "INT" else np.float32
    attr.data.foreach_set(key, np.ascontiguousarray(values, dtype).ravel())


def _get(mesh: Any, name: str, width: int, dtype: type = np.float32) -> np.ndarray:
    attr = mesh.attributes.get(name)
    if attr is None:
        raise SplatError(f"splat mesh '{mesh.name}' lacks the attribute '{name}': re-import the splat")
    key = {"FLOAT": "value", "INT": "value", "FLOAT_VECTOR": "vector", "QUATERNION": "value",
           "FLOAT_COLOR": "color"}[attr.data_type]
    out: np.ndarray = np.empty(len(mesh.vertices) * width, dtype)
    attr.data.foreach_get(key, out)
    return out.reshape(-1, width) if width > 1 else out


def is_splat(obj: Any) -> bool:
    """Whether ``obj`` (original or evaluated) is a Gaussian-splat object."""
    data = getattr(obj, "data", None)
    return getattr(obj, "type", "") == "MESH" and data is not None and SPLAT_KEY in data


def write_gaussians(mesh: Any, gaussians: GaussianSet) -> None:
    """Store ``gaussians`` on an empty mesh (vertices are added)."""
    n = len(gaussians)
    mesh.vertices.add(n)
    mesh.vertices.foreach_set("co", gaussians.means.ravel())
    _set(mesh, "opacity", "FLOAT", gaussians.opacities)
    _set(mesh, "scale", "FLOAT_VECTOR", gaussians.log_scales)
    _set(mesh, "rotation", "QUATERNION", gaussians.quats)
    _set(mesh, "f_dc", "FLOAT_VECTOR", gaussians.sh[:, 0])
    for i in range(gaussians.sh.shape[1] - 1):
        _set(mesh, f"f_rest_{i}", "FLOAT_VECTOR", gaussians.sh[:, i + 1])
    rgb = srgb_to_linear(np.clip(0.5 + C0 * gaussians.sh[:, 0], 0, 1))
    _set(mesh, "Col", "FLOAT_COLOR", np.concatenate([rgb, np.ones((n, 1), np.float32)], 1))
    mesh[SPLAT_KEY] = gaussians.sh_degree
    mesh.update()


def read_gaussians(mesh: Any) -> GaussianSet:
    """The Gaussians stored on a splat mesh (object space)."""
    k = sh_count(int(mesh[SPLAT_KEY]))
    means = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", means)
    sh = np.empty((len(mesh.vertices), k, 3), np.float32)
    sh[:, 0] = _get(mesh, "f_dc", 3)
    for i in range(k - 1):
        sh[:, i + 1] = _get(mesh, f"f_rest_{i}", 3)
    return GaussianSet(means.reshape(-1, 3), _get(mesh, "rotation", 4), _get(mesh, "scale", 3),
                       _get(mesh, "opacity", 1), sh)


def write_binding(obj: Any, binding: bnd.Binding, target: Any) -> None:
    """Store ``binding`` on splat object ``obj`` and point it at mesh object ``target``."""
    mesh = obj.data
    for i, name in enumerate(BIND_INTS):
        _set(mesh, name, "INT", binding.tri_verts[:, i])
    _set(mesh, "auth_bind_mean", "FLOAT_VECTOR", binding.local_means)
    _set(mesh, "auth_bind_rot", "QUATERNION", binding.local_quats)
    _set(mesh, "auth_bind_scale", "FLOAT_VECTOR", binding.local_log_scales)
    if binding.sh_quats is not None:
        _set(mesh, "auth_bind_sh_rot", "QUATERNION", binding.sh_quats)
    obj[TARGET_KEY] = target
    bl_splat_nodes.ensure_modifier(obj, target)


def read_binding(mesh: Any) -> bnd.Binding | None:
    """The binding stored on a splat mesh, or None when it is not bound.

    Splats bound before the colour-frame rotation was stored get it from their stored rotations:
    the mesh keeps each Gaussian as it was when bound, so ``Q = R_local R_storedᵀ`` (exact for the splat
    twin, whose stored Gaussians are its rest pose in mesh space; approximate for other bound splats).
    """
    if "auth_bind_mean" not in mesh.attributes:
        return None
    tri = np.stack([_get(mesh, name, 1, np.int32) for name in BIND_INTS], 1)
    local_quats = _get(mesh, "auth_bind_rot", 4)
    if "auth_bind_sh_rot" in mesh.attributes:
        sh_quats = _get(mesh, "auth_bind_sh_rot", 4)
    else:
        stored = quats_to_matrices(_get(mesh, "rotation", 4))
        sh_quats = matrices_to_quats(quats_to_matrices(local_quats) @ np.swapaxes(stored, 1, 2))
    return bnd.Binding(tri, _get(mesh, "auth_bind_mean", 3), local_quats, _get(mesh, "auth_bind_scale", 3),
                       sh_quats)


def mesh_vertices(mesh: Any) -> np.ndarray:
    """Vertex positions ``[V, 3]`` (float64) of a mesh (evaluated meshes include shape keys)."""
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3).astype(np.float64)


_CO_BUFFERS: dict[int, np.ndarray] = {}


def mesh_vertices_f32(mesh: Any) -> np.ndarray:
    """Vertex positions ``[V, 3]`` float32 read into a buffer reused from frame to frame.

    The returned array is overwritten by the next call for a mesh of the same size: use it at once.
    """
    n = len(mesh.vertices)
    buf = _CO_BUFFERS.get(n)
    if buf is None:
        if len(_CO_BUFFERS) > 8:
            _CO_BUFFERS.clear()
        buf = _CO_BUFFERS[n] = np.empty(n * 3, np.float32)
    mesh.vertices.foreach_get("co", buf)
    return buf.reshape(n, 3)


def rest_vertices(mesh: Any) -> np.ndarray:
    """Rest positions ``[V, 3]``: the reference shape key when there is one, else the vertices."""
    keys = mesh.shape_keys
    if keys is not None and keys.reference_key is not None:
        co = np.empty(len(mesh.vertices) * 3, np.float32)
        keys.reference_key.data.foreach_get("co", co)
        return co.reshape(-1, 3).astype(np.float64)
    return mesh_vertices(mesh)


def mesh_triangles(mesh: Any) -> tuple[np.ndarray, np.ndarray]:
    """Triangles ``[T, 3]`` (vertex indices) and their polygon index ``[T]`` of a mesh."""
    mesh.calc_loop_triangles()
    tris = np.empty(len(mesh.loop_triangles) * 3, np.int32)
    mesh.loop_triangles.foreach_get("vertices", tris)
    poly = np.empty(len(mesh.loop_triangles), np.int32)
    mesh.loop_triangles.foreach_get("polygon_index", poly)
    return tris.reshape(-1, 3), poly


def create_object(context: Any, name: str, gaussians: GaussianSet) -> Any:
    """A new splat object holding ``gaussians``, linked to the active collection, with viewport points."""
    mesh = bpy.data.meshes.new(name)
    write_gaussians(mesh, gaussians)
    obj = bpy.data.objects.new(name, mesh)
    context.collection.objects.link(obj)
    bl_splat_nodes.ensure_modifier(obj, None)
    return obj


def bound_target(obj: Any) -> Any:
    """The mesh object a splat object follows, or None."""
    target = obj.get(TARGET_KEY)
    return target if getattr(target, "type", None) == "MESH" else None


def collect_instances(depsgraph: Any) -> list[SplatInstance]:
    """Every visible splat object of ``depsgraph``, posed for its frame.

    Bound splats follow the evaluated mesh of their target (shape keys, drivers and modifiers that keep
    the vertex count applied) and are placed by the target's world matrix; unbound ones use their own.
    """
    out = []
    for inst in depsgraph.object_instances:
        obj = inst.object
        if not is_splat(obj.original) or inst.is_instance:
            continue
        original = obj.original
        gaussians = read_gaussians(original.data)
        binding = read_binding(original.data)
        target = bound_target(original)
        if binding is not None and target is not None:
            evaluated = target.evaluated_get(depsgraph)
            posed = bnd.pose(binding, mesh_vertices_f32(evaluated.data))
            out.append(SplatInstance(gaussians, np.array(evaluated.matrix_world, np.float64), posed))
        else:
            out.append(SplatInstance(gaussians, np.array(inst.matrix_world, np.float64)))
    return out


def bind_to_mesh(splat_obj: Any, mesh_obj: Any, depsgraph: Any) -> int:
    """Bind every Gaussian of ``splat_obj`` to the nearest triangle of ``mesh_obj`` as evaluated now.

    Returns:
        The number of Gaussians bound.

    Raises:
        SplatError: when either object is of the wrong kind or the mesh has no faces.
    """
    from mathutils.bvhtree import BVHTree

    if not is_splat(splat_obj):
        raise SplatError(f"'{splat_obj.name}' is not a Gaussian-splat object (import one first)")
    if getattr(mesh_obj, "type", None) != "MESH" or is_splat(mesh_obj):
        raise SplatError("bind_splat needs a mesh object (the rig's face) as target")
    evaluated = mesh_obj.evaluated_get(depsgraph)
    verts = mesh_vertices(evaluated.data)
    tris, _ = mesh_triangles(evaluated.data)
    if not len(tris):
        raise SplatError(f"'{mesh_obj.name}' has no faces to bind to")
    to_mesh = np.linalg.inv(np.array(mesh_obj.matrix_world)) @ np.array(splat_obj.matrix_world)
    gaussians = transform_gaussians(read_gaussians(splat_obj.data), to_mesh)
    tree = BVHTree.FromPolygons(verts.tolist(), tris.tolist())
    nearest = np.empty(len(gaussians), np.int64)
    for i, co in enumerate(gaussians.means.tolist()):
        hit = tree.find_nearest(co)
        nearest[i] = hit[2] if hit[2] is not None else 0
    # The SH were fitted in the splat object's frame: its rotation relative to the mesh (polar part).
    u, _, vt = np.linalg.svd(to_mesh[:3, :3])
    sh_rotation = u @ vt if np.linalg.det(u @ vt) > 0 else np.eye(3)
    binding = bnd.bind(gaussians, verts, tris[nearest], sh_rotation)
    write_binding(splat_obj, binding, mesh_obj)
    return len(gaussians)


def twin_base(face_obj: Any, seed: int = 0, count: int = splat_twin.DEFAULT_COUNT
              ) -> tuple[splat_twin.TwinSample, bnd.Binding, np.ndarray, np.ndarray]:
    """The splat twin of a head mesh as sampled, before any fitted file is applied.

    Returns:
        The sample, its binding on the mesh's rest shape, the rest vertices ``[V, 3]`` and each
        Gaussian's region code ``[N]``.
    """
    mesh = face_obj.data
    verts = rest_vertices(mesh)
    tris, poly = mesh_triangles(mesh)
    codes = np.zeros(len(mesh.polygons), np.int32)
    attr = mesh.attributes.get(regions.REGION_ATTRIBUTE)
    if attr is not None and attr.domain == "FACE":
        attr.data.foreach_get("value", codes)
    sample = splat_twin.sample_twin(verts, tris, codes[poly], count=count, seed=seed)
    binding = bnd.bind_on_surface(verts, tris[sample.tri_index], sample.bary, sample.radii,
                                  elongation=sample.elongation, tangents=sample.tangents)
    return sample, binding, verts, codes[poly][sample.tri_index]


def add_splat_twin(context: Any, face_obj: Any, seed: int = 0, count: int = splat_twin.DEFAULT_COUNT,
                   ply_path: str | None = None) -> Any:
    """Create the Gaussian-splat twin of a head mesh, bound to it, and make the scene render it.

    Args:
        context: Blender context (its scene's engine becomes the splat engine, view transform Standard).
        face_obj: the head mesh; its FACE attribute ``regions.REGION_ATTRIBUTE`` picks colours (all skin
            when absent).
        seed: sampling seed.
        count: number of Gaussians.
        ply_path: optionally also write the twin as a standard 3DGS PLY with binding columns.

    Returns:
        The new splat object, in the face object's collections.
    """
    from .ply import write_ply

    sample, binding, verts, _ = twin_base(face_obj, seed, count)
    fitted = splat_twin.load_fitted(str(face_obj.get(RIG_HASH_PROP, "")), count, seed)
    sh = None  # [N, K, 3] when fitted; else the sample's constant colours
    if fitted is not None:  # the default head: fitted to Cycles renders of its mesh
        sh = fitted.apply(sample, binding.local_means, binding.local_log_scales)
    means, rots, log_scales = bnd.apply(binding, verts)
    quats = matrices_to_quats(rots)
    gaussians = (GaussianSet.from_rgb(means, quats, log_scales, sample.opacities, sample.rgb) if sh is None
                 else GaussianSet(means, quats, log_scales, sample.opacities, sh))
    name = f"{face_obj.name} Splat"
    splat_mesh = bpy.data.meshes.new(name)
    write_gaussians(splat_mesh, gaussians)
    obj = bpy.data.objects.new(name, splat_mesh)
    for coll in face_obj.users_collection:
        coll.objects.link(obj)
    obj.matrix_world = face_obj.matrix_world.copy()
    write_binding(obj, binding, face_obj)
    if ply_path:
        write_ply(ply_path, gaussians, binding)
    scene = context.scene
    scene.render.engine = "AU_TALKING_HEAD_SPLAT"
    scene.view_settings.view_transform = "Standard"
    log.info("splat twin of %s: %d Gaussians", face_obj.name, len(gaussians))
    return obj
