"""Rig type ``facs_head``: the default CC0 head mesh with AU shape keys, zone groups, regions, landmarks,
its materials (``bl_head_materials``) and painted brow and hair weights (``head_paint``).

Publishes ``ctx.data["head"]`` (the pure ``HeadData``) and ``ctx.data["face"]`` (the mesh object).
"""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np

from .. import head_paint
from ..bl_head_materials import assign_materials
from ..head_data import HeadData, default_head_data
from ..naming import FACE_OBJECT, LANDMARK_PROP, RIG_HASH_PROP
from ..regions import REGION_ATTRIBUTE


class Rig:
    """The default FACS head."""

    def __init__(self, ctx: Any) -> None:
        self.head: HeadData | None = None
        self.obj: Any = None

    def prepare(self, ctx: Any) -> None:
        self.head = default_head_data()
        ctx.data["head"] = self.head

    def generate_objects(self, ctx: Any) -> None:
        head = self.head
        assert head is not None
        mesh = bpy.data.meshes.new(FACE_OBJECT)
        mesh.vertices.add(len(head.verts))
        mesh.vertices.foreach_set("co", head.verts.ravel())
        n_faces = len(head.faces)
        mesh.loops.add(n_faces * 4)
        mesh.loops.foreach_set("vertex_index", head.faces.ravel())
        mesh.polygons.add(n_faces)
        mesh.polygons.foreach_set("loop_start", np.arange(0, n_faces * 4, 4, dtype=np.int32))
        mesh.polygons.foreach_set("use_smooth", np.ones(n_faces, dtype=bool))
        mesh.update(calc_edges=True)
        mesh.validate(clean_customdata=False)
        attr = mesh.attributes.new(REGION_ATTRIBUTE, "INT", "FACE")
        attr.data.foreach_set("value", head.regions.astype(np.int32))
        assign_materials(mesh, head.verts, head.faces, head.regions)
        skin = head_paint.skin_vertices(head.faces, head.regions, len(head.verts))
        for name, weights in ((head_paint.BROW_ATTRIBUTE, head_paint.brow_weights(head.verts, head.landmarks,
                                                                                  skin)),
                              (head_paint.HAIR_ATTRIBUTE, head_paint.hair_weights(head.verts, skin)),
                              (head_paint.TOOTH_ANGLE_ATTRIBUTE,
                               head_paint.tooth_angles(head.verts, head.faces, head.regions)),
                              (head_paint.LASH_ATTRIBUTE,
                               head_paint.lash_tips(head.verts, head.faces, head.regions))):
            paint = mesh.attributes.new(name, "FLOAT", "POINT")
            paint.data.foreach_set("value", weights)
        mesh.polygons.foreach_set("material_index", head.regions.astype(np.int32))
        obj = bpy.data.objects.new(FACE_OBJECT, mesh)
        ctx.collection.objects.link(obj)
        for name, weights in head.zone_groups.items():
            group = obj.vertex_groups.new(name=name)
            for w in np.unique(np.round(weights, 4)):
                if w <= 0.0:
                    continue
                idx = np.nonzero(np.round(weights, 4) == w)[0].tolist()
                group.add(idx, float(w), "REPLACE")
        obj[LANDMARK_PROP] = [int(i) for i in head.landmarks]
        obj["head_size"] = head.head_size
        obj[RIG_HASH_PROP] = head.content_hash()
        self.obj = obj
        ctx.data["face"] = obj

    def generate_shape_keys(self, ctx: Any) -> None:
        head, obj = self.head, self.obj
        assert head is not None
        obj.shape_key_add(name="Basis", from_mix=False)
        for name, delta in head.shape_deltas.items():
            kb = obj.shape_key_add(name=name, from_mix=False)
            kb.points.foreach_set("co", (head.verts + delta).astype(np.float32).ravel())
            kb.slider_min, kb.slider_max = 0.0, 1.0
