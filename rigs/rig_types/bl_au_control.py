"""Rig type ``au_control``: the control Empty with the AU/emotion/zone properties, and the zone-rule drivers
on the face mesh published by an earlier rig (``ctx.data["face"]``)."""

from __future__ import annotations

from typing import Any

import bpy

from au_contract import ACTION_UNITS
from au_contract.zone_rules import shape_key_driver

from ..bl_drivers import add_control_props, add_driver
from ..naming import CONTROL_OBJECT, CONTROL_REF_PROP, FACE_MESH_PROP, shape_key_names


class Rig:
    """The control object and its drivers."""

    def __init__(self, ctx: Any) -> None:
        self.obj: Any = None

    def generate_objects(self, ctx: Any) -> None:
        obj = bpy.data.objects.new(CONTROL_OBJECT, None)
        obj.empty_display_type = "CIRCLE"
        obj.empty_display_size = 0.04
        obj.location = (0.0, -0.16, 0.0)
        obj.rotation_euler = (1.5708, 0.0, 0.0)
        ctx.collection.objects.link(obj)
        self.obj = obj
        ctx.data["control"] = obj

    def generate_properties(self, ctx: Any) -> None:
        add_control_props(self.obj)

    def rig_drivers(self, ctx: Any) -> None:
        face = ctx.data.get("face")
        if face is None or face.data.shape_keys is None:
            return
        key = face.data.shape_keys
        for au in ACTION_UNITS:
            names = shape_key_names(au.code)
            sides = ("L", "R") if au.sided else (None,)
            for name, side in zip(names, sides, strict=True):
                add_driver(key.key_blocks[name], "value", shape_key_driver(au.code, side), self.obj)

    def finalize(self, ctx: Any) -> None:
        face = ctx.data.get("face")
        if face is not None:
            self.obj[FACE_MESH_PROP] = face
            face[CONTROL_REF_PROP] = self.obj.name
        settings = getattr(ctx.context.scene, "au_talking_head", None)
        if settings is not None:
            settings.rig = self.obj
        for ob in ctx.context.view_layer.objects:
            ob.select_set(False)
        self.obj.select_set(True)
        ctx.context.view_layer.objects.active = self.obj
