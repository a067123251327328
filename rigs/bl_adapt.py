"""Drive a user's mesh (any recognised name set, visemes, or a custom JSON map) from an AU control object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy

from au_contract import CONTROL_MARKER_PROP

from .arkit import MAP_PROP, load_custom_map, map_from_text
from .bl_bones import BonePlan, adapt_armature, find_armature, poses_for
from .bl_drivers import add_control_props, add_driver
from .bone_poses import load_poses
from .errors import AdaptError
from .gaze import BEHAVIOUR_PROPS
from .mapping import CharacterPlan, plan_character
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


def ensure_behaviour_props(control: Any) -> None:
    """The gaze/jaw behaviour properties of ``rigs.gaze`` on ``control`` (keyframable, -1..1 or 0..1)."""
    for name, (lo, hi, description) in BEHAVIOUR_PROPS.items():
        if name in control.keys():  # noqa: SIM118 (ID keys)
            continue
        control[name] = 0.0
        ui = control.id_properties_ui(name)
        ui.update(min=lo, max=hi, soft_min=lo, soft_max=hi, default=0.0, description=description)
        control.property_overridable_library_set(f'["{name}"]', True)
    control.update_tag()  # a driver reading a property the evaluated copy lacks is flagged invalid for good


def revalidate(owner: Any) -> None:
    """Clear the "invalid" flag of ``owner``'s drivers (set when one ran before its property existed)."""
    ad = getattr(owner, "animation_data", None)
    for fc in ad.drivers if ad is not None else ():
        if not fc.driver.is_valid:
            fc.driver.expression = fc.driver.expression


def adapt_mesh(context: Any, target: Any, mapping_path: str = "", control: Any = None) -> CharacterPlan:
    """Add drivers to ``target``'s shape keys so the control object's AUs (and gaze) animate it.

    Args:
        target: a mesh object with shape keys.
        mapping_path: optional custom JSON map (``rigs.arkit``); empty = recognise the name sets of
            ``rigs.name_sets`` (ARKit-52, Character Creator, VRM, visemes ...), with the mapping editor's
            weights kept on the mesh (``MAP_PROP``) on top.
        control: the control object; default: the scene's rig, created if missing.

    Returns:
        The plan used: drivers, keys at rest with reasons, unrecognised names, AUs without a target.

    Raises:
        AdaptError: if the target is not a mesh with shape keys or nothing could be mapped.
        rigs.arkit.MappingError: if the custom map is invalid.
    """
    if target is None or target.type != "MESH" or target.data.shape_keys is None:
        kind = "nothing" if target is None else f"'{target.name}' ({target.type.lower()})"
        raise AdaptError(f"Adapt Character needs a mesh with shape keys, got {kind}: pick the face mesh "
                         "(ARKit-52, Character Creator, VRM, viseme names or a custom JSON map) or a Rigify "
                         "face armature.")
    keys = target.data.shape_keys.key_blocks
    names = [kb.name for kb in keys][1:]
    custom = load_custom_map(Path(bpy.path.abspath(mapping_path))) if mapping_path else None
    edits = map_from_text(str(target[MAP_PROP])) if target.get(MAP_PROP) else None  # the mapping editor's
    plan = plan_character(names, custom, edits)
    if not plan.drivers:
        hint = "; ".join(f"{k} -> {v}" for k, v in plan.unrecognised.items() if v)
        raise AdaptError(
            f"No shape key of '{target.name}' matches "
            + ("the custom map" if mapping_path else "a known name set (ARKit-52, Character Creator, VRM, "
               "Oculus/Preston Blair visemes, Daz)")
            + "; nothing to drive." + (f" Close names: {hint}." if hint else "")
            + " Map the shapes yourself with a JSON AU map (the Mapping panel saves one).")
    control = control if control is not None else ensure_control(context)
    ensure_behaviour_props(control)
    for name, spec in plan.drivers.items():
        add_driver(keys[name], "value", spec, control)
    revalidate(target.data.shape_keys)
    target[CONTROL_REF_PROP] = control.name
    face = control.get(FACE_MESH_PROP)
    if not (isinstance(face, bpy.types.Object) and face.name in bpy.data.objects):
        control[FACE_MESH_PROP] = target  # the mesh that ``bake`` (and the batch renderer) use by default
    return plan


def adapt_character(context: Any, target: Any, mapping_path: str = "") -> CharacterPlan | BonePlan:
    """Adapt a mesh with shape keys (:func:`adapt_mesh`) or a bone-based face (its armature).

    A mesh without shape keys that an armature moves, or the armature itself, is driven through per-AU
    bone poses: Rigify's face out of the box, any other rig through poses recorded on it or a pose preset
    (``mapping_path`` to an ``au-pose/1`` JSON file).

    Raises:
        AdaptError, MappingError: with a message that says what to pick or record.
    """
    has_keys = target is not None and target.type == "MESH" and target.data.shape_keys is not None
    arm = None if has_keys else find_armature(target)
    if arm is None:
        return adapt_mesh(context, target, mapping_path)
    if mapping_path:
        preset, poses = "pose preset", load_poses(Path(bpy.path.abspath(mapping_path)))
    else:
        preset, poses = poses_for(arm)
    control = ensure_control(context)
    ensure_behaviour_props(control)
    plan = adapt_armature(arm, control, poses, preset)
    revalidate(arm)
    revalidate(arm.data)
    return plan
