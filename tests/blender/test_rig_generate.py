"""The rig generator in real Blender: generation, drivers, zones, landmark basis, lip closure, adapters."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from au_contract import (
    ACTION_UNITS,
    AU_CODES,
    BLEND_WEIGHT_DEFAULT,
    BLEND_WEIGHT_PROP,
    CONTROL_MARKER_PROP,
    EMOTION_PROPS,
    PROSODY_CAP_PROP,
)
from rigs.arkit import ARKIT_52
from rigs.head_build.au_shapes import mask_zone
from rigs.naming import ZONE_GROUPS, all_shape_key_names
from rigs.regions import REGION_ATTRIBUTE


def _generate(bpy: ModuleType) -> tuple:
    assert bpy.ops.au_talking_head.generate_rig() == {"FINISHED"}
    control = bpy.context.scene.au_talking_head.rig
    return control, control["face_mesh"]


def _evaluated(bpy: ModuleType, obj) -> np.ndarray:
    obj.update_tag()
    bpy.context.view_layer.update()
    dg = bpy.context.evaluated_depsgraph_get()
    mesh = obj.evaluated_get(dg).to_mesh()
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    obj.evaluated_get(dg).to_mesh_clear()
    return co.reshape(-1, 3).astype(np.float64)


def _set(bpy: ModuleType, control, **props: float) -> None:
    for k, v in props.items():
        control[k] = v
    control.update_tag()
    bpy.context.view_layer.update()


def _weights(face, name: str) -> np.ndarray:
    group = face.vertex_groups[name].index
    out = np.zeros(len(face.data.vertices))
    for v in face.data.vertices:
        for g in v.groups:
            if g.group == group:
                out[v.index] = g.weight
    return out


def test_generate_contract(fresh: ModuleType) -> None:
    bpy = fresh
    control, face = _generate(bpy)
    assert control.type == "EMPTY" and face.type == "MESH"
    assert control[CONTROL_MARKER_PROP] == 1
    for au in ACTION_UNITS:
        ui = control.id_properties_ui(au.code).as_dict()
        assert (ui["min"], ui["max"], ui["description"]) == (0.0, 1.0, au.label)
    for prop in EMOTION_PROPS.values():
        assert control[prop] == 0.0
    assert control[BLEND_WEIGHT_PROP] == pytest.approx(BLEND_WEIGHT_DEFAULT)
    assert control[PROSODY_CAP_PROP] == pytest.approx(0.35)
    keys = face.data.shape_keys.key_blocks
    assert set(all_shape_key_names()) <= set(keys.keys())
    for group in ZONE_GROUPS.values():
        assert group in face.vertex_groups
    attr = face.data.attributes[REGION_ATTRIBUTE]
    assert (attr.data_type, attr.domain) == ("INT", "FACE")
    assert len(face["landmark_vertices"]) == 68
    drivers = face.data.shape_keys.animation_data.drivers
    assert len(drivers) == len(all_shape_key_names())
    assert all(fc.driver.is_simple_expression and fc.driver.is_valid for fc in drivers)
    # one undo step
    bpy.ops.ed.undo_push(message="after rig")
    assert bpy.data.objects.get(face.name) is not None


def test_every_au_moves_only_its_zones_through_the_control(fresh: ModuleType) -> None:
    bpy = fresh
    control, face = _generate(bpy)
    rest = _evaluated(bpy, face)
    w = {z: _weights(face, g) for z, g in ZONE_GROUPS.items()}
    for au in ACTION_UNITS:
        _set(bpy, control, **{au.code: 1.0})
        moved = np.linalg.norm(_evaluated(bpy, face) - rest, axis=1)
        _set(bpy, control, **{au.code: 0.0})
        assert moved.max() > 1e-3, f"{au.code} does not move the face"
        allowed = (w["U"] + w["B"]) if mask_zone(au.code) == "U" else (w["M"] + w["B"])
        assert not np.any((moved > 1e-6) & (allowed <= 0.0)), f"{au.code} moves outside its zones"


def test_landmark_basis_reproduces_evaluated_landmarks(fresh: ModuleType) -> None:
    bpy = fresh
    from rigs.head_build.default_head import build_head_data

    control, face = _generate(bpy)
    head = build_head_data()
    codes, neutral, basis = head.basis()
    lm = np.asarray(face["landmark_vertices"])
    rng = np.random.default_rng(1)
    for _ in range(3):
        aus = rng.uniform(0.0, 1.0, len(codes))
        _set(bpy, control, **dict(zip(codes, aus.tolist(), strict=True)))
        got = _evaluated(bpy, face)[lm]
        expect = neutral + np.tensordot(aus, basis, axes=1)
        assert np.abs(got - expect).max() <= 1e-5 * float(face["head_size"])


def test_lip_pressor_closes_lips_on_evaluated_mesh_even_under_surprise(fresh: ModuleType) -> None:
    bpy = fresh
    from rigs.head_build.head_source import load_head_source

    control, face = _generate(bpy)
    ring = load_head_source().lip_ring
    up, lo = np.asarray(ring.upper), np.asarray(ring.lower)
    for emotion in (0.0, 1.0):
        _set(bpy, control, AU24=1.0, AU26=0.0, **{EMOTION_PROPS["SURPRISE"]: emotion})
        co = _evaluated(bpy, face)
        order = np.argsort(co[lo, 0])
        for k in (1, 2):  # the upper lip edge lies on the lower lip edge (piecewise linear in x)
            on_lower = np.interp(co[up, 0], co[lo[order], 0], co[lo[order], k])
            assert np.abs(co[up, k] - on_lower).max() < 1e-6
    _set(bpy, control, AU24=0.0)
    co = _evaluated(bpy, face)
    assert np.abs(co[up[len(up) // 2], 2] - co[lo[len(lo) // 2], 2]) > 1e-3  # surprise opens when not closed


def _arkit_mesh(bpy: ModuleType, names: list[str]):
    bpy.ops.mesh.primitive_grid_add(x_subdivisions=8, y_subdivisions=8, size=0.2)
    obj = bpy.context.active_object
    obj.shape_key_add(name="Basis")
    for i, name in enumerate(names):
        kb = obj.shape_key_add(name=name, from_mix=False)
        kb.data[i % len(kb.data)].co.z += 0.01
    return obj


def test_arkit_adapter_drives_the_52_names(fresh: ModuleType) -> None:
    bpy = fresh
    control, _ = _generate(bpy)
    obj = _arkit_mesh(bpy, [f"blendShape.{n}" for n in ARKIT_52])
    assert bpy.ops.au_talking_head.adapt_rig(target=obj.name) == {"FINISHED"}
    keys = obj.data.shape_keys.key_blocks
    drivers = obj.data.shape_keys.animation_data.drivers
    assert all(fc.driver.is_simple_expression for fc in drivers)
    _set(bpy, control, AU26=1.0, AU12=1.0, AU45=1.0)
    assert keys["blendShape.jawOpen"].value == pytest.approx(0.6, abs=1e-5)
    assert keys["blendShape.mouthSmileLeft"].value == pytest.approx(1.0)
    assert keys["blendShape.eyeBlinkRight"].value == pytest.approx(1.0)
    driven = {fc.data_path.split('"')[1] for fc in drivers}
    assert "blendShape.tongueOut" not in driven and len(driven) == 51  # all but tongueOut (needs phones)


def test_custom_map_and_unmapped_report(fresh: ModuleType, tmp_path: Path) -> None:
    bpy = fresh
    from rigs.bl_adapt import adapt_mesh

    obj = _arkit_mesh(bpy, ["Jaw_Open", "Smile_L", "Smile_R"])
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"AU26": "Jaw_Open", "AU12": ["Smile_L", "Smile_R"], "AU45": "Blink_L"}))
    tmap = adapt_mesh(bpy.context, obj, str(path))
    assert set(tmap.unmapped) == set(AU_CODES) - {"AU26", "AU12"}
    assert tmap.unknown == ["Blink_L"]
    control = bpy.context.scene.au_talking_head.rig
    assert control is not None and control[CONTROL_MARKER_PROP] == 1
    _set(bpy, control, AU26=0.5)
    assert obj.data.shape_keys.key_blocks["Jaw_Open"].value == pytest.approx(0.5)
    bad = tmp_path / "bad.json"
    bad.write_text('{"AU99": "x"}')
    with pytest.raises(RuntimeError, match="unknown AU 'AU99'"):  # an ERROR report raises in background mode
        bpy.ops.au_talking_head.adapt_rig(target=obj.name, mapping_path=str(bad))


def test_render_settings_add_the_studio_and_painted_head(fresh: ModuleType) -> None:
    from rigs import head_paint
    from rigs.bl_studio import LIGHTS

    scene = fresh.context.scene
    _, face = _generate(fresh)
    assert scene.camera is not None and scene.world is not None
    lights = {o.name for o in scene.objects if o.type == "LIGHT"}
    assert lights == set(LIGHTS)
    # the camera looks at the face: the head's centre projects near the image centre
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    fresh.context.view_layer.update()
    ndc = world_to_camera_view(scene, scene.camera, face.matrix_world @ Vector((0.0, 0.0, 0.0)))
    assert 0.3 < ndc.x < 0.7 and 0.3 < ndc.y < 0.8 and ndc.z > 0
    for name in (head_paint.BROW_ATTRIBUTE, head_paint.HAIR_ATTRIBUTE):
        values = np.empty(len(face.data.vertices), np.float32)
        face.data.attributes[name].data.foreach_get("value", values)
        assert values.min() >= 0.0 and values.max() == pytest.approx(1.0, abs=0.05)
    skin = face.data.materials[0]
    assert skin.node_tree.nodes["Principled BSDF"].inputs["Subsurface Weight"].is_linked


def test_render_settings_off_leave_the_scene_alone(fresh: ModuleType) -> None:
    scene = fresh.context.scene
    assert fresh.ops.au_talking_head.generate_rig(render_settings=False) == {"FINISHED"}
    assert scene.camera is None and scene.world is None
    assert not [o for o in scene.objects if o.type == "LIGHT"]
