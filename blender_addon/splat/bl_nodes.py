"""Viewport display of splat objects: a Geometry Nodes modifier that shows each Gaussian as a point.

Unbound splats: "Mesh to Points" with the radius of each Gaussian. Bound splats: each point is first
moved onto its triangle of the target mesh, live, with the same frame maths as ``splat.binding``
(centre + s·(x·m.x + y·m.y + z·m.z)), using Sample Index on the target's evaluated geometry, so shape
keys and drivers move the points as they move the renderer's Gaussians. The points carry the material
``MATERIAL`` (an Emission of the ``Col`` point attribute, the Gaussians' linear DC colour), so they show
their colours in Material Preview and Rendered viewports, and the material's viewport display colour is a
neutral skin tone for Solid mode. The modifier is off for final renders (the Gaussian Splat engine draws
the Gaussians; Cycles and EEVEE draw nothing for them).
"""

from __future__ import annotations

from typing import Any

import bpy

MODIFIER = "AUTH Splat Points"
GROUP_FREE = "AUTH Splat Points"
GROUP_BOUND = "AUTH Splat Bound Points"
MATERIAL = "AUTH Splat Points"
COLOUR_ATTRIBUTE = "Col"


def _math(nodes: Any, links: Any, op: str, a: Any, b: Any = None, vector: bool = True, out: int = 0) -> Any:
    node = nodes.new("ShaderNodeVectorMath" if vector else "ShaderNodeMath")
    node.operation = op
    for i, src in enumerate((a, b)):
        if src is None:
            continue
        if isinstance(src, (int, float)):
            node.inputs[i].default_value = src
        else:
            links.new(src, node.inputs[i])
    return node.outputs[out]


def _new_group(name: str, with_object: bool) -> Any:
    group = bpy.data.node_groups.new(name, "GeometryNodeTree")
    group.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    if with_object:
        group.interface.new_socket("Target", in_out="INPUT", socket_type="NodeSocketObject")
    group.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    return group


def _named(nodes: Any, name: str, data_type: str) -> Any:
    node = nodes.new("GeometryNodeInputNamedAttribute")
    node.data_type = data_type
    node.inputs["Name"].default_value = name
    return node.outputs["Attribute"]


def points_material() -> Any:
    """The material of the viewport points (created once per file): Emission of the ``Col`` attribute."""
    mat: bpy.types.Material | None = bpy.data.materials.get(MATERIAL)
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(MATERIAL)
    if mat.node_tree is None:  # Blender before 5.0 creates materials without nodes
        mat.use_nodes = True
    mat.diffuse_color = (0.7, 0.45, 0.35, 1.0)  # Solid-mode viewport display colour
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    attr = nodes.new("ShaderNodeAttribute")
    attr.attribute_type = "GEOMETRY"
    attr.attribute_name = COLOUR_ATTRIBUTE
    emission = nodes.new("ShaderNodeEmission")
    emission.inputs["Strength"].default_value = 1.0
    out = nodes.new("ShaderNodeOutputMaterial")
    links.new(attr.outputs["Color"], emission.inputs["Color"])
    links.new(emission.outputs["Emission"], out.inputs["Surface"])
    return mat


def _points(nodes: Any, links: Any, geometry: Any, radius: Any) -> Any:
    to_points = nodes.new("GeometryNodeMeshToPoints")
    links.new(geometry, to_points.inputs["Mesh"])
    links.new(radius, to_points.inputs["Radius"])
    set_material = nodes.new("GeometryNodeSetMaterial")
    links.new(to_points.outputs["Points"], set_material.inputs["Geometry"])
    set_material.inputs["Material"].default_value = points_material()
    return set_material.outputs["Geometry"]


def free_group() -> Any:
    """The node group for unbound splats (created once per file)."""
    group: bpy.types.NodeTree | None = bpy.data.node_groups.get(GROUP_FREE)
    if group is not None:
        return group
    group = _new_group(GROUP_FREE, with_object=False)
    nodes, links = group.nodes, group.links
    gin, gout = nodes.new("NodeGroupInput"), nodes.new("NodeGroupOutput")
    sx = nodes.new("ShaderNodeSeparateXYZ")
    links.new(_named(nodes, "scale", "FLOAT_VECTOR"), sx.inputs[0])
    radius = _math(nodes, links, "EXPONENT", sx.outputs[0], vector=False)
    links.new(_points(nodes, links, gin.outputs[0], radius), gout.inputs[0])
    return group


def bound_group() -> Any:
    """The node group for bound splats (created once per file)."""
    group: bpy.types.NodeTree | None = bpy.data.node_groups.get(GROUP_BOUND)
    if group is not None:
        return group
    group = _new_group(GROUP_BOUND, with_object=True)
    nodes, links = group.nodes, group.links
    gin, gout = nodes.new("NodeGroupInput"), nodes.new("NodeGroupOutput")
    info = nodes.new("GeometryNodeObjectInfo")
    info.transform_space = "RELATIVE"
    links.new(gin.outputs[1], info.inputs["Object"])
    position = nodes.new("GeometryNodeInputPosition")
    corners = []
    for k in range(3):
        sample = nodes.new("GeometryNodeSampleIndex")
        sample.data_type = "FLOAT_VECTOR"
        sample.domain = "POINT"
        links.new(info.outputs["Geometry"], sample.inputs["Geometry"])
        links.new(position.outputs[0], sample.inputs["Value"])
        links.new(_named(nodes, f"auth_bind_v{k}", "INT"), sample.inputs["Index"])
        corners.append(sample.outputs[0])
    p0, p1, p2 = corners
    edge = _math(nodes, links, "SUBTRACT", p1, p0)
    normal_raw = _math(nodes, links, "CROSS_PRODUCT", edge, _math(nodes, links, "SUBTRACT", p2, p0))
    elen = _math(nodes, links, "LENGTH", edge, out=1)
    nlen = _math(nodes, links, "LENGTH", normal_raw, out=1)
    x = _math(nodes, links, "NORMALIZE", edge)
    z = _math(nodes, links, "NORMALIZE", normal_raw)
    y = _math(nodes, links, "CROSS_PRODUCT", z, x)
    centre = _math(nodes, links, "SCALE", _math(nodes, links, "ADD", _math(nodes, links, "ADD", p0, p1), p2))
    centre.node.inputs["Scale"].default_value = 1.0 / 3.0
    height = _math(nodes, links, "DIVIDE", nlen, elen, vector=False)
    scale = _math(nodes, links, "MULTIPLY", _math(nodes, links, "ADD", elen, height, vector=False), 0.5,
                  vector=False)
    local = nodes.new("ShaderNodeSeparateXYZ")
    links.new(_named(nodes, "auth_bind_mean", "FLOAT_VECTOR"), local.inputs[0])
    terms = [_scaled(nodes, links, axis, local.outputs[i]) for i, axis in enumerate((x, y, z))]
    offset = _math(nodes, links, "ADD", _math(nodes, links, "ADD", terms[0], terms[1]), terms[2])
    world = _math(nodes, links, "ADD", centre, _scaled(nodes, links, offset, scale))
    set_pos = nodes.new("GeometryNodeSetPosition")
    links.new(gin.outputs[0], set_pos.inputs["Geometry"])
    links.new(world, set_pos.inputs["Position"])
    sx = nodes.new("ShaderNodeSeparateXYZ")
    links.new(_named(nodes, "auth_bind_scale", "FLOAT_VECTOR"), sx.inputs[0])
    radius = _math(nodes, links, "MULTIPLY", _math(nodes, links, "EXPONENT", sx.outputs[0], vector=False),
                   scale, vector=False)
    links.new(_points(nodes, links, set_pos.outputs[0], radius), gout.inputs[0])
    return group


def _scaled(nodes: Any, links: Any, vec: Any, factor: Any) -> Any:
    node = nodes.new("ShaderNodeVectorMath")
    node.operation = "SCALE"
    links.new(vec, node.inputs[0])
    links.new(factor, node.inputs["Scale"])
    return node.outputs[0]


def ensure_modifier(obj: Any, target: Any | None) -> Any:
    """Give splat object ``obj`` its viewport-points modifier (bound to ``target`` when given)."""
    mod = obj.modifiers.get(MODIFIER) or obj.modifiers.new(MODIFIER, "NODES")
    mod.node_group = bound_group() if target is not None else free_group()
    if target is not None:
        ident = mod.node_group.interface.items_tree["Target"].identifier
        mod[ident] = target
    mod.show_render = False
    obj.data.update()
    return mod
