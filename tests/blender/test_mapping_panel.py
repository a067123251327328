"""The mapping editor: rows and report after Adapt Character, draw() with a recording layout, a weight edit
that the driven shape follows, the au-map/1 save/load round trip, and the live preview that keys nothing
(real bpy, the installed zip, evaluated shape-key values)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from rigs.arkit import ARKIT_52, MAP_PROP, load_custom_map
from tests.blender.character_helpers import build_face
from tests.blender.conftest import EXTENSION_MODULE
from tests.blender.test_panel import RecordingLayout


def _face(bpy: ModuleType) -> object:
    obj = build_face(bpy, "Face", {n: n for n in ARKIT_52})
    assert bpy.ops.au_talking_head.adapt_rig(target=obj.name) == {"FINISHED"}  # type: ignore[attr-defined]
    return obj


def _value(bpy: ModuleType, obj: object, key: str) -> float:
    """The evaluated value of one shape key now (no frame change: a preview is not animation)."""
    bpy.context.view_layer.update()
    keys = obj.data.shape_keys.evaluated_get(bpy.context.evaluated_depsgraph_get())  # type: ignore[attr-defined]
    return float(keys.key_blocks[key].value)


def _row(mapping: object, au: str, target: str) -> object:
    return next(r for r in mapping.rows if r.au == au and r.target == target)  # type: ignore[attr-defined]


def _draw(bpy: ModuleType) -> list[tuple[str, tuple, dict]]:
    calls: list[tuple[str, tuple, dict]] = []
    panel = bpy.types.VIEW3D_PT_au_talking_head_mapping
    panel.draw(SimpleNamespace(layout=RecordingLayout(calls)), bpy.context)
    return calls


def test_adapt_fills_the_editor_and_draw_shows_rows_files_preview_and_report(fresh: ModuleType) -> None:
    bpy = fresh
    mapping = bpy.context.scene.au_talking_head_mapping
    calls = _draw(bpy)
    assert not any(name == "label" and "Drove" in kw.get("text", "") for name, _, kw in calls)
    obj = _face(bpy)
    assert mapping.character == obj and not mapping.bones
    assert mapping.report.startswith("Drove 51 of 52 shape keys of 'Face'")
    jaw = _row(mapping, "AU26", "jawOpen")
    assert jaw.editable and jaw.weight == pytest.approx(0.6)
    derived = {r.target: r.role for r in mapping.rows if not r.editable}
    assert "lip closure" in derived["mouthClose"] and "gaze" in derived["eyeLookUpLeft"]
    calls = _draw(bpy)
    lists = [args for name, args, _ in calls if name == "template_list"]
    assert lists and lists[0][0] == "AUTH_UL_mapping" and lists[0][3] == "rows"
    ops = [args[0] for name, args, _ in calls if name == "operator"]
    assert {"au_talking_head.load_au_map", "au_talking_head.save_au_map",
            "au_talking_head.show_mapping"} <= set(ops)
    assert "au_talking_head.record_au_pose" not in ops
    props = [args[1] for name, args, _ in calls if name == "prop"]
    assert {"preview", "preview_au", "preview_value"} <= set(props)
    labels = [kw.get("text", "") for name, _, kw in calls if name == "label"]
    assert "Drove 51 of 52 shape keys of 'Face' [ARKit-52 (52)]" in labels
    assert any(label.startswith("at rest: tongueOut") for label in labels)
    # an armature's mapping offers recording instead of AU map files
    mapping.bones = True
    ops = [args[0] for name, args, _ in _draw(bpy) if name == "operator"]
    assert "au_talking_head.record_au_pose" in ops and "au_talking_head.load_au_map" not in ops


def test_editing_a_weight_drives_the_shape_and_the_map_round_trips(fresh: ModuleType, tmp_path: Path) -> None:
    bpy = fresh
    obj = _face(bpy)
    mapping = bpy.context.scene.au_talking_head_mapping
    control = bpy.context.scene.au_talking_head.rig
    control["AU26"] = 1.0
    control.update_tag()  # a property set from Python does not tag the depsgraph by itself
    before = _value(bpy, obj, "jawOpen")
    assert before == pytest.approx(0.6, abs=0.02)
    _row(mapping, "AU26", "jawOpen").weight = 0.3
    assert _value(bpy, obj, "jawOpen") == pytest.approx(before / 2, abs=0.01)
    stored = json.loads(obj[MAP_PROP])  # type: ignore[index]
    assert stored["map"] == {"AU26": {"jawOpen": 0.3}, "AU27": {"jawOpen": 1.0}}, "only the edited key"
    assert "(edited)" in _row(mapping, "AU26", "jawOpen").role
    saved = tmp_path / "face_map.json"
    assert bpy.ops.au_talking_head.save_au_map(filepath=str(saved)) == {"FINISHED"}
    table = load_custom_map(saved)  # a full table: Adapt Character's AU Map reads it too
    assert table["AU26"]["jawOpen"] == pytest.approx(0.3)
    assert table["AU12"] == {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0}
    _row(mapping, "AU26", "jawOpen").weight = 0.9
    assert _value(bpy, obj, "jawOpen") == pytest.approx(0.9, abs=0.02)
    assert bpy.ops.au_talking_head.load_au_map(filepath=str(saved)) == {"FINISHED"}
    assert _row(mapping, "AU26", "jawOpen").weight == pytest.approx(0.3)
    assert _value(bpy, obj, "jawOpen") == pytest.approx(before / 2, abs=0.01)
    bad = tmp_path / "bad.json"
    bad.write_text('{"AU99": {"jawOpen": 1}}')
    with pytest.raises(RuntimeError, match="unknown AU 'AU99'"):
        bpy.ops.au_talking_head.load_au_map(filepath=str(bad))


def test_preview_shows_an_au_without_keying_and_puts_the_value_back(fresh: ModuleType) -> None:
    bpy = fresh
    obj = _face(bpy)
    mapping = bpy.context.scene.au_talking_head_mapping
    control = bpy.context.scene.au_talking_head.rig
    control["AU26"] = 0.1
    control.keyframe_insert('["AU26"]', frame=1)
    bpy.context.scene.frame_set(1)
    rest = _value(bpy, obj, "jawOpen")
    mapping.preview_au, mapping.preview_value = "AU26", 0.8
    mapping.preview = True
    assert control["AU26"] == pytest.approx(0.8)
    assert _value(bpy, obj, "jawOpen") == pytest.approx(0.6 * 0.8, abs=0.02), "the face does not show it"
    mapping.preview_value = 0.4
    assert _value(bpy, obj, "jawOpen") == pytest.approx(0.6 * 0.4, abs=0.02)
    mapping.preview_au = "AU12"  # moving on to another AU puts AU26 back
    assert control["AU26"] == pytest.approx(0.1) and control["AU12"] == pytest.approx(0.4)
    assert _value(bpy, obj, "mouthSmileLeft") > 0.3
    mapping.preview = False
    assert control["AU12"] == pytest.approx(0.0) and _value(bpy, obj, "jawOpen") == pytest.approx(rest)
    bl_curves = importlib.import_module(f"{EXTENSION_MODULE}.animation.bl_curves")
    keyed = {fc.data_path: len(fc.keyframe_points) for fc in bl_curves.fcurves(control.animation_data.action)}
    assert keyed == {'["AU26"]': 1}, f"the preview keyed: {keyed}"
