"""Materials of the default head (Cycles and EEVEE): procedural skin, painted brows and hair, eyes, mouth.

One material per face region (``rigs.regions``), all procedural (no image textures; see docs/assets.md):

- skin (and the brow band): Principled BSDF with subsurface scattering, a mottled base colour and pores
  (noise textures in object space, metres), eyebrows and a short haircut mixed in by the point
  attributes of ``rigs.head_paint`` with streaky wave textures for hair strands;
- eyes: a wet sclera and an iris with pupil, fibres and a dark limbal ring drawn by the distance from
  each eyeball's axis, both with a clear coat, so the key light leaves a catch-light;
- lips, teeth, tongue, mouth interior, lashes: tuned Principled settings.
"""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np

from .head_paint import BROW_ATTRIBUTE, HAIR_ATTRIBUTE
from .regions import REGION_NAMES

#: Base colours (linear RGB) by region code; skin 0, lips 1, eye white 2, iris 3, brow 4 (= skin, the
#: brow is painted), teeth 5, tongue 6, mouth interior 7, eyelash 8.
REGION_COLOURS: dict[int, tuple[float, float, float]] = {
    0: (0.56, 0.34, 0.25), 1: (0.42, 0.15, 0.14), 2: (0.74, 0.70, 0.66), 3: (0.09, 0.17, 0.27),
    4: (0.56, 0.34, 0.25), 5: (0.72, 0.68, 0.58), 6: (0.42, 0.12, 0.13), 7: (0.10, 0.02, 0.025),
    8: (0.015, 0.010, 0.008),
}
#: (roughness, subsurface weight, coat weight) by region code.
REGION_SURFACE: dict[int, tuple[float, float, float]] = {
    0: (0.5, 0.15, 0.0), 1: (0.35, 0.2, 0.0), 2: (0.1, 0.05, 1.0), 3: (0.1, 0.0, 1.0), 4: (0.5, 0.15, 0.0),
    5: (0.25, 0.1, 0.0), 6: (0.4, 0.3, 0.0), 7: (0.6, 0.0, 0.0), 8: (0.5, 0.0, 0.0),
}
BROW_COLOUR = (0.030, 0.019, 0.012)
HAIR_COLOURS = ((0.022, 0.013, 0.008), (0.075, 0.045, 0.026))
SSS_RADIUS = (1.0, 0.35, 0.2)
SSS_SCALE_M = 0.003


def _node(tree: Any, kind: str, **inputs: Any) -> Any:
    node = tree.nodes.new(kind)
    for name, value in inputs.items():
        node.inputs[name.replace("_", " ")].default_value = value
    return node


def _mix(tree: Any, fac: Any, a: Any, b: Any) -> Any:
    """A colour Mix node: ``a`` to ``b`` by ``fac`` (sockets or values); returns its colour output."""
    node = tree.nodes.new("ShaderNodeMix")
    node.data_type = "RGBA"
    sockets = [s for s in node.inputs if s.type == "RGBA"]
    for socket, value in ((node.inputs[0], fac), (sockets[0], a), (sockets[1], b)):
        if isinstance(value, bpy.types.NodeSocket):
            tree.links.new(value, socket)
        else:
            socket.default_value = value
    return next(s for s in node.outputs if s.type == "RGBA")


def _math(tree: Any, op: str, a: Any, b: Any = 0.0, c: Any = 0.0) -> Any:
    node = tree.nodes.new("ShaderNodeMath")
    node.operation = op
    for socket, value in zip(node.inputs, (a, b, c), strict=False):
        if isinstance(value, bpy.types.NodeSocket):
            tree.links.new(value, socket)
        else:
            socket.default_value = value
    return node.outputs[0]


def _strands(tree: Any, coord: Any, axis: str, scale: float) -> Any:
    """A streaky 0..1 texture of hair strands running across ``axis``."""
    wave = _node(tree, "ShaderNodeTexWave", Scale=scale, Distortion=6.0, Detail=4.0)
    wave.wave_type, wave.bands_direction = "BANDS", axis
    tree.links.new(coord, wave.inputs["Vector"])
    return wave.outputs["Fac"]


def _skin_colour(tree: Any, code: int, coord: Any) -> tuple[Any, Any]:
    """Skin base colour with mottling, brows and hair mixed in; returns (colour, hair weight) sockets."""
    base = REGION_COLOURS[code]
    mottle = _node(tree, "ShaderNodeTexNoise", Scale=45.0, Detail=3.0)
    tree.links.new(coord, mottle.inputs["Vector"])
    colour = _mix(tree, mottle.outputs["Fac"], (*tuple(0.88 * c for c in base), 1.0),
                  (*tuple(1.1 * c for c in base), 1.0))
    brow = tree.nodes.new("ShaderNodeAttribute")
    brow.attribute_name = BROW_ATTRIBUTE
    brow_fac = _math(tree, "MULTIPLY", brow.outputs["Fac"],
                     _math(tree, "MULTIPLY_ADD", _strands(tree, coord, "Z", 180.0), 0.5, 0.6))
    colour = _mix(tree, _math(tree, "MINIMUM", brow_fac, 1.0), colour, (*BROW_COLOUR, 1.0))
    hair = tree.nodes.new("ShaderNodeAttribute")
    hair.attribute_name = HAIR_ATTRIBUTE
    hair_col = _mix(tree, _strands(tree, coord, "Y", 120.0), (*HAIR_COLOURS[0], 1.0), (*HAIR_COLOURS[1], 1.0))
    return _mix(tree, hair.outputs["Fac"], colour, hair_col), hair.outputs["Fac"]


def _iris_colour(tree: Any, coord: Any, centres: np.ndarray, radius: float) -> Any:
    """Pupil, iris fibres and limbal ring by the distance from the nearer eyeball's axis (+Y)."""
    xyz = tree.nodes.new("ShaderNodeSeparateXYZ")
    tree.links.new(coord, xyz.inputs[0])
    dx = _math(tree, "SUBTRACT", _math(tree, "ABSOLUTE", xyz.outputs["X"]), float(abs(centres[:, 0]).mean()))
    dz = _math(tree, "SUBTRACT", xyz.outputs["Z"], float(centres[:, 2].mean()))
    r2 = _math(tree, "ADD", _math(tree, "MULTIPLY", dx, dx), _math(tree, "MULTIPLY", dz, dz))
    r = _math(tree, "SQRT", r2)
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    tree.links.new(_math(tree, "DIVIDE", r, radius), ramp.inputs["Fac"])
    els = ramp.color_ramp.elements
    stops = ((0.0, (0.004, 0.004, 0.004)), (0.36, (0.004, 0.004, 0.004)), (0.42, (0.05, 0.09, 0.12)),
             (0.6, (0.16, 0.26, 0.34)), (0.82, (0.07, 0.13, 0.21)), (0.97, (0.015, 0.02, 0.03)))
    els[0].position, els[0].color = stops[0][0], (*stops[0][1], 1.0)
    els[1].position, els[1].color = stops[-1][0], (*stops[-1][1], 1.0)
    for pos, col in stops[1:-1]:
        els.new(pos).color = (*col, 1.0)
    fibres = _node(tree, "ShaderNodeTexNoise", Scale=2500.0, Detail=2.0)
    tree.links.new(coord, fibres.inputs["Vector"])
    return _mix(tree, _math(tree, "MULTIPLY", fibres.outputs["Fac"], 0.35), ramp.outputs["Color"],
                (0.02, 0.03, 0.04, 1.0))


def build_material(code: int, centres: np.ndarray, iris_radius: float) -> Any:
    """The material of region ``code`` (created, or reused by name and rebuilt)."""
    name = f"AUTH_{REGION_NAMES[code]}"
    mat = bpy.data.materials.get(name) or bpy.data.materials.new(name)
    mat.diffuse_color = (*REGION_COLOURS[code], 1.0)
    if mat.node_tree is None:  # Blender < 5.0 creates materials without nodes
        mat.use_nodes = True
    tree = mat.node_tree
    tree.nodes.clear()
    rough, sss, coat = REGION_SURFACE[code]
    bsdf = _node(tree, "ShaderNodeBsdfPrincipled", Roughness=rough, Subsurface_Weight=sss,
                 Subsurface_Radius=SSS_RADIUS, Subsurface_Scale=SSS_SCALE_M, Coat_Weight=coat,
                 Coat_Roughness=0.03, Base_Color=(*REGION_COLOURS[code], 1.0))
    out = tree.nodes.new("ShaderNodeOutputMaterial")
    tree.links.new(bsdf.outputs[0], out.inputs["Surface"])
    coord = tree.nodes.new("ShaderNodeTexCoord").outputs["Object"]
    if code in (0, 4):
        colour, hair = _skin_colour(tree, code, coord)
        tree.links.new(colour, bsdf.inputs["Base Color"])
        tree.links.new(_math(tree, "MULTIPLY_ADD", hair, -sss, sss), bsdf.inputs["Subsurface Weight"])
        pores = _node(tree, "ShaderNodeTexNoise", Scale=900.0, Detail=2.0)
        tree.links.new(coord, pores.inputs["Vector"])
        bump = _node(tree, "ShaderNodeBump", Strength=0.12, Distance=0.0003)
        tree.links.new(pores.outputs["Fac"], bump.inputs["Height"])
        tree.links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    elif code == 3:
        tree.links.new(_iris_colour(tree, coord, centres, iris_radius), bsdf.inputs["Base Color"])
    return mat


def assign_materials(mesh: Any, verts: np.ndarray, faces: np.ndarray, regions: np.ndarray) -> None:
    """Append one material per region code to ``mesh`` (index = code)."""
    from .head_paint import eye_centres

    centres = eye_centres(verts, faces, regions)
    iris = np.unique(faces[regions == 3].ravel())
    radius = 0.005
    if len(iris):
        d = verts[iris] - centres[(verts[iris, 0] > 0).astype(int)]
        radius = float(np.sqrt(d[:, 0] ** 2 + d[:, 2] ** 2).max())
    for code in sorted(REGION_NAMES):
        mesh.materials.append(build_material(code, centres, radius))
