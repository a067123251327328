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

from .head_paint import BROW_ATTRIBUTE, HAIR_ATTRIBUTE, LASH_ATTRIBUTE, TOOTH_ANGLE_ATTRIBUTE
from .regions import REGION_NAMES

#: Base colours (linear RGB) by region code; skin 0, lips 1, eye white 2, iris 3, brow 4 (= skin, the
#: brow is painted), teeth 5, tongue 6, mouth interior 7, eyelash 8, hair 9, body 10 and scalp 11 (= skin).
REGION_COLOURS: dict[int, tuple[float, float, float]] = {
    0: (0.56, 0.34, 0.25), 1: (0.42, 0.15, 0.14), 2: (0.74, 0.70, 0.66), 3: (0.09, 0.17, 0.27),
    4: (0.56, 0.34, 0.25), 5: (0.72, 0.68, 0.58), 6: (0.42, 0.12, 0.13), 7: (0.10, 0.02, 0.025),
    8: (0.015, 0.010, 0.008), 9: (0.040, 0.024, 0.015), 10: (0.56, 0.34, 0.25), 11: (0.56, 0.34, 0.25),
    12: (0.45, 0.13, 0.13), 13: (0.52, 0.28, 0.22),
}
#: (roughness, subsurface weight, coat weight) by region code.
REGION_SURFACE: dict[int, tuple[float, float, float]] = {
    0: (0.5, 0.15, 0.0), 1: (0.35, 0.2, 0.0), 2: (0.1, 0.05, 1.0), 3: (0.1, 0.0, 1.0), 4: (0.5, 0.15, 0.0),
    5: (0.25, 0.1, 0.0), 6: (0.4, 0.3, 0.0), 7: (0.6, 0.0, 0.0), 8: (0.5, 0.0, 0.0), 9: (0.62, 0.0, 0.0),
    10: (0.5, 0.15, 0.0), 11: (0.5, 0.15, 0.0), 12: (0.3, 0.3, 0.4), 13: (0.12, 0.1, 1.0),
}
SKIN_CODES = (0, 4, 10, 11)
HAIR_CODE = 9
TEETH_CODE = 5
#: Teeth: angular width of one tooth seen from the arch's centre (rad; ``head_paint.tooth_angles``) and the
#: colour of the gaps between teeth.
TOOTH_ANGLE, TOOTH_GAP_COLOUR = 0.34, (0.20, 0.12, 0.09)
LASH_CODE = 8
#: Lashes per radian around the eye (the sine's frequency: one lash every pi / LASHES_PER_RAD).
LASHES_PER_RAD = 55.0
#: Share of each lash card, from the root, that is a dense dark line (then fading out towards the tips).
LASH_LINE = 0.5
#: Eyebrow hairs: noise frequency along the brow (per m) and how many times finer across it.
BROW_HAIR_FREQ, BROW_STROKE = 260.0, 9.0
#: Hair strands: how many around the crown (per radian), how strongly they wander, and their bump.
HAIR_STRANDS_PER_RAD, HAIR_WANDER, HAIR_BUMP = 45.0, 0.6, 0.5
BROW_COLOUR = (0.030, 0.019, 0.012)
HAIR_COLOURS = ((0.016, 0.010, 0.006), (0.10, 0.062, 0.036))
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


def _brow_hairs(tree: Any, coord: Any) -> Any:
    """0.45..1 coverage of eyebrow hairs: short strokes along x (noise stretched ``BROW_STROKE`` times
    across), thresholded into separate hairs over a lighter base."""
    mapping = tree.nodes.new("ShaderNodeMapping")
    mapping.vector_type = "POINT"
    mapping.inputs["Scale"].default_value = (BROW_HAIR_FREQ, BROW_HAIR_FREQ, BROW_HAIR_FREQ * BROW_STROKE)
    tree.links.new(coord, mapping.inputs["Vector"])
    noise = _node(tree, "ShaderNodeTexNoise", Scale=1.0, Detail=2.0)
    tree.links.new(mapping.outputs["Vector"], noise.inputs["Vector"])
    ramp = tree.nodes.new("ShaderNodeMapRange")
    ramp.interpolation_type = "SMOOTHSTEP"
    tree.links.new(noise.outputs["Fac"], ramp.inputs["Value"])
    ramp.inputs["From Min"].default_value, ramp.inputs["From Max"].default_value = 0.4, 0.65
    ramp.inputs["To Min"].default_value, ramp.inputs["To Max"].default_value = 0.45, 1.0
    return ramp.outputs["Result"]


def _lash_surface(tree: Any, coord: Any, bsdf: Any, out: Any, centres: np.ndarray) -> None:
    """Eyelash cards as separate lashes: radial strokes around each eye (seen from the front), thick at the
    root and gone at the tip (``head_paint.LASH_ATTRIBUTE``), transparent between them."""
    xyz = tree.nodes.new("ShaderNodeSeparateXYZ")
    tree.links.new(coord, xyz.inputs[0])
    dx = _math(tree, "SUBTRACT", _math(tree, "ABSOLUTE", xyz.outputs["X"]), float(abs(centres[:, 0]).mean()))
    dz = _math(tree, "SUBTRACT", xyz.outputs["Z"], float(centres[:, 2].mean()))
    angle = _math(tree, "ARCTAN2", dz, dx)
    phase = _math(tree, "ABSOLUTE", _math(tree, "SINE", _math(tree, "MULTIPLY", angle, LASHES_PER_RAD)))
    tip = tree.nodes.new("ShaderNodeAttribute")
    tip.attribute_name = LASH_ATTRIBUTE
    width = _math(tree, "MULTIPLY_ADD", tip.outputs["Fac"], -0.95, 1.0)  # 1 at the root, 0.05 at the tip
    alpha = _math(tree, "SUBTRACT", 1.0, _math(tree, "MINIMUM", _math(tree, "DIVIDE", phase, width), 1.0))
    line = tree.nodes.new("ShaderNodeMapRange")  # the dense lash line: solid, then fading out to the tips
    line.interpolation_type = "SMOOTHSTEP"
    tree.links.new(tip.outputs["Fac"], line.inputs["Value"])
    line.inputs["From Min"].default_value, line.inputs["From Max"].default_value = LASH_LINE, 1.0
    line.inputs["To Min"].default_value, line.inputs["To Max"].default_value = 0.97, 0.0
    alpha = _math(tree, "MAXIMUM", alpha, line.outputs["Result"])
    mix = tree.nodes.new("ShaderNodeMixShader")
    tree.links.new(alpha, mix.inputs["Fac"])
    tree.links.new(tree.nodes.new("ShaderNodeBsdfTransparent").outputs[0], mix.inputs[1])
    tree.links.new(bsdf.outputs[0], mix.inputs[2])
    tree.links.new(mix.outputs[0], out.inputs["Surface"])


def _skin_colour(tree: Any, code: int, coord: Any) -> tuple[Any, Any]:
    """Skin base colour with mottling, brows and hair mixed in; returns (colour, hair weight) sockets."""
    base = REGION_COLOURS[code]
    mottle = _node(tree, "ShaderNodeTexNoise", Scale=45.0, Detail=3.0)
    tree.links.new(coord, mottle.inputs["Vector"])
    colour = _mix(tree, mottle.outputs["Fac"], (*tuple(0.88 * c for c in base), 1.0),
                  (*tuple(1.1 * c for c in base), 1.0))
    brow = tree.nodes.new("ShaderNodeAttribute")
    brow.attribute_name = BROW_ATTRIBUTE
    brow_fac = _math(tree, "MULTIPLY", brow.outputs["Fac"], _brow_hairs(tree, coord))
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


def _hair_surface(tree: Any, coord: Any, bsdf: Any, axis: tuple[float, float]) -> None:
    """Short combed hair: strands that run in vertical planes through the crown's vertical ``axis`` (x, y)
    (radiating from the crown, down the sides), as colour streaks and a bump, wandering by a noise."""
    xyz = tree.nodes.new("ShaderNodeSeparateXYZ")
    tree.links.new(coord, xyz.inputs[0])
    azimuth = _math(tree, "ARCTAN2", _math(tree, "SUBTRACT", xyz.outputs["Y"], axis[1]),
                    _math(tree, "SUBTRACT", xyz.outputs["X"], axis[0]))
    wander = _node(tree, "ShaderNodeTexNoise", Scale=30.0, Detail=2.0)
    tree.links.new(coord, wander.inputs["Vector"])
    angle = _math(tree, "MULTIPLY_ADD", wander.outputs["Fac"], HAIR_WANDER / 10.0, azimuth)
    strands = _node(tree, "ShaderNodeTexNoise", Scale=1.0, Detail=3.0, Roughness=0.7)
    combine = tree.nodes.new("ShaderNodeCombineXYZ")
    tree.links.new(_math(tree, "MULTIPLY", angle, HAIR_STRANDS_PER_RAD), combine.inputs["X"])
    tree.links.new(_math(tree, "MULTIPLY", xyz.outputs["Z"], 8.0), combine.inputs["Y"])
    tree.links.new(combine.outputs[0], strands.inputs["Vector"])
    colour = _mix(tree, strands.outputs["Fac"], (*HAIR_COLOURS[0], 1.0), (*HAIR_COLOURS[1], 1.0))
    tree.links.new(colour, bsdf.inputs["Base Color"])
    bump = _node(tree, "ShaderNodeBump", Strength=HAIR_BUMP, Distance=0.0004)
    tree.links.new(strands.outputs["Fac"], bump.inputs["Height"])
    tree.links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])


def _teeth_colour(tree: Any) -> Any:
    """Separate teeth: dark gaps where the angle around the dental arch (the point attribute
    ``head_paint.TOOTH_ANGLE_ATTRIBUTE``) crosses a tooth boundary (one on the midline, between the front
    incisors), every ``TOOTH_ANGLE``."""
    attr = tree.nodes.new("ShaderNodeAttribute")
    attr.attribute_name = TOOTH_ANGLE_ATTRIBUTE
    angle = attr.outputs["Fac"]
    phase = _math(tree, "ABSOLUTE", _math(tree, "SINE", _math(tree, "MULTIPLY", angle, np.pi / TOOTH_ANGLE)))
    gap = _math(tree, "SUBTRACT", 1.0, _math(tree, "SMOOTH_MIN", _math(tree, "DIVIDE", phase, 0.3), 1.0, 0.3))
    return _mix(tree, _math(tree, "MAXIMUM", gap, 0.0), (*REGION_COLOURS[TEETH_CODE], 1.0),
                (*TOOTH_GAP_COLOUR, 1.0))


def build_material(code: int, centres: np.ndarray, iris_radius: float,
                   hair_axis: tuple[float, float] = (0.0, 0.0)) -> Any:
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
    if code in SKIN_CODES:
        colour, hair = _skin_colour(tree, code, coord)
        tree.links.new(colour, bsdf.inputs["Base Color"])
        tree.links.new(_math(tree, "MULTIPLY_ADD", hair, -sss, sss), bsdf.inputs["Subsurface Weight"])
        pores = _node(tree, "ShaderNodeTexNoise", Scale=900.0, Detail=2.0)
        tree.links.new(coord, pores.inputs["Vector"])
        bump = _node(tree, "ShaderNodeBump", Strength=0.12, Distance=0.0003)
        tree.links.new(pores.outputs["Fac"], bump.inputs["Height"])
        tree.links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    elif code == HAIR_CODE:
        _hair_surface(tree, coord, bsdf, hair_axis)
    elif code == TEETH_CODE:
        tree.links.new(_teeth_colour(tree), bsdf.inputs["Base Color"])
    elif code == LASH_CODE:
        _lash_surface(tree, coord, bsdf, out, centres)
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
    hair = verts[np.unique(faces[regions == HAIR_CODE].ravel())]
    hair_axis = (0.0, 0.0)
    if len(hair):  # the crown's vertical axis: the middle of the haircut's footprint
        mid = 0.5 * (hair.min(0) + hair.max(0))
        hair_axis = (float(mid[0]), float(mid[1]))
    for code in sorted(REGION_NAMES):
        mesh.materials.append(build_material(code, centres, radius, hair_axis))
