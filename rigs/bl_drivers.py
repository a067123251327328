"""Blender helpers shared by the rig types: control properties and zone-rule drivers."""

from __future__ import annotations

from typing import Any

from au_contract import (
    ACTION_UNITS,
    BLEND_WEIGHT_DEFAULT,
    BLEND_WEIGHT_PROP,
    CONTRACT_VERSION,
    CONTROL_MARKER_PROP,
    EMOTION_PROPS,
    PROSODY_CAP_DEFAULT,
    PROSODY_CAP_PROP,
)
from au_contract.zone_rules import DriverSpec


def add_float_prop(obj: Any, name: str, default: float, description: str) -> None:
    """A 0..1 float custom property with UI range and description (keyframable, overridable)."""
    obj[name] = float(default)
    ui = obj.id_properties_ui(name)
    ui.update(min=0.0, max=1.0, soft_min=0.0, soft_max=1.0, default=float(default), description=description)
    obj.property_overridable_library_set(f'["{name}"]', True)


def add_control_props(obj: Any) -> None:
    """Every property of the control-object contract (``au_contract``) on ``obj``."""
    for au in ACTION_UNITS:
        add_float_prop(obj, au.code, 0.0, au.label)
    for emotion, prop in EMOTION_PROPS.items():
        add_float_prop(obj, prop, 0.0, f"How much the face is coloured by {emotion.lower()} (0..1)")
    add_float_prop(obj, BLEND_WEIGHT_PROP, BLEND_WEIGHT_DEFAULT,
                   "Blend zone: weight of expression against speech while an emotion is active")
    add_float_prop(obj, PROSODY_CAP_PROP, PROSODY_CAP_DEFAULT,
                   "Upper zone: most that audio prosody may add on top of an active emotion")
    obj[CONTROL_MARKER_PROP] = CONTRACT_VERSION


def add_driver(owner: Any, data_path: str, spec: DriverSpec, control: Any) -> Any:
    """Drive ``owner.<data_path>`` from ``control``'s custom properties with ``spec``.

    Raises:
        RuntimeError: if Blender would not evaluate the expression without Python (not simple).
    """
    owner.driver_remove(data_path)
    fcurve = owner.driver_add(data_path)
    for mod in list(fcurve.modifiers):
        fcurve.modifiers.remove(mod)
    driver = fcurve.driver
    driver.type = "SCRIPTED"
    for name, prop in spec.variables:
        var = driver.variables.new()
        var.name = name
        var.type = "SINGLE_PROP"
        target = var.targets[0]
        target.id_type = "OBJECT"
        target.id = control
        target.data_path = f'["{prop}"]'
    driver.expression = spec.expression
    if not driver.is_simple_expression:
        raise RuntimeError(f"driver expression is not a simple expression: {spec.expression}")
    return fcurve
