"""Drive a user's mesh (ARKit-52 shape keys or a custom JSON map) from an AU control object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy

from au_contract import CONTROL_MARKER_PROP
from au_contract.zone_rules import weighted_driver

from .arkit import TargetMap, arkit_target_map, custom_target_map, load_custom_map, side_of
from .bl_drivers import add_control_props, add_driver
from .character_rules import closure_driver, gated_weighted_driver
from .errors import AdaptError
from .naming import CONTROL_OBJECT, CONTROL_REF_PROP, FACE_MESH_PROP


def ensure_control(context: Any) -> Any:
    """The scene's control object, or a new one (with every contract property) when there is none."""
    settings = getattr(context.scene, "au_talking_head", None)
    control = getattr(settings, "rig", None) if settings is not None else None
    if control is not None and control.get(CONTROL_MARKER_PROP):
        return control
    control = bpy.data.objects.new(CONTROL_OBJECT, None)
    control.empty_display_type = "CIRCLE"
    context.scene.collection.objects.link(control)
    add_control_props(control)
    if settings is not None:
        settings.rig = control
    return control


def adapt_mesh(context: Any, target: Any, mapping_path: str = "", control: Any = None) -> TargetMap:
    """Add zone-rule drivers to ``target``'s shape keys so the control object's AUs animate it.

    Args:
        target: a mesh object with shape keys.
        mapping_path: optional custom JSON map (``rigs.arkit``); empty = detect ARKit-52 names.
        control: the control object; default: the scene's rig, created if missing.

    Returns:
        The map used, with ``unmapped`` AUs (no target found) and ``unknown`` names of a custom map.

    Raises:
        AdaptError: if the target is not a mesh with shape keys or nothing could be mapped.
        rigs.arkit.MappingError: if the custom map is invalid.
    """
    if target is None or target.type != "MESH" or target.data.shape_keys is None:
        raise AdaptError("Pick a mesh object that has shape keys (ARKit-52 names or a custom JSON map).")
    keys = target.data.shape_keys.key_blocks
    names = [kb.name for kb in keys][1:]
    if mapping_path:
        tmap = custom_target_map(load_custom_map(Path(bpy.path.abspath(mapping_path))), names)
    else:
        tmap = arkit_target_map(names)
    if not tmap.targets:
        raise AdaptError(f"No shape key of '{target.name}' matches "
                         + ("the custom map" if mapping_path else "an ARKit-52 name") + "; nothing to drive.")
    control = control if control is not None else ensure_control(context)
    for name, weights in tmap.targets.items():
        spec = gated_weighted_driver(weights, side_of(name)) if tmap.gate_opening else weighted_driver(
            weights, side_of(name))
        add_driver(keys[name], "value", spec, control)
    for name, jaw_weights in tmap.closures.items():
        add_driver(keys[name], "value", closure_driver(jaw_weights), control)
    target[CONTROL_REF_PROP] = control.name
    face = control.get(FACE_MESH_PROP)
    if not (isinstance(face, bpy.types.Object) and face.name in bpy.data.objects):
        control[FACE_MESH_PROP] = target  # the mesh that ``bake`` (and the batch renderer) use by default
    return tmap
