"""A file from a stranger animates without being trusted (DESIGN.md §4).

Generate, save the .blend, reopen it with Python auto-run disabled (the preference off and
``open_mainfile(use_scripts=False)``), and check that the shape keys still animate: the evaluated values
at several frames equal those before saving, every driver in the file is a simple expression (or a
Python-free driver type), and Blender never had to refuse a Python driver (``bpy.app.autoexec_fail``).
A control driver that does need Python proves the check can fail: after the same reopening it is refused.
Done for the default rig and for an adapted ARKit character.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.blender.addon_fixtures import Clip, espeak_clip, make_rig
from tests.blender.character_helpers import arkit_style_names, build_face

FRAMES = (1, 8, 19, 25, 37, 50, 66, 80, 95)
PYTHON_FREE_TYPES = {"AVERAGE", "SUM", "MIN", "MAX"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return espeak_clip(tmp_path_factory.mktemp("speech"), "Bob, pa, mom, map a bomb", "trust")


@pytest.fixture()
def untrusted(fresh: ModuleType) -> Iterator[ModuleType]:
    """``fresh``, with auto-run of Python scripts switched off in the preferences (restored afterwards)."""
    prefs = fresh.context.preferences.filepaths
    before = prefs.use_scripts_auto_execute
    prefs.use_scripts_auto_execute = False
    yield fresh
    prefs.use_scripts_auto_execute = before


def _drivers(bpy: ModuleType) -> list[tuple[str, object]]:
    """(owner name, F-curve) of every driver in the file."""
    out = []
    for coll in (bpy.data.objects, bpy.data.meshes, bpy.data.shape_keys, bpy.data.materials,
                 bpy.data.node_groups, bpy.data.scenes, bpy.data.cameras, bpy.data.worlds):
        for idb in coll:
            for owner in (idb, getattr(idb, "node_tree", None)):
                ad = getattr(owner, "animation_data", None) if owner is not None else None
                if ad is not None:
                    out += [(owner.name, fc) for fc in ad.drivers]
    return out


def _sample(bpy: ModuleType, meshes: list[str]) -> dict[str, np.ndarray]:
    """Evaluated shape-key values of ``meshes`` at FRAMES: mesh name -> [F, K]."""
    scene = bpy.context.scene
    out = {}
    for name in meshes:
        key = bpy.data.objects[name].data.shape_keys
        rows = []
        for f in FRAMES:
            scene.frame_set(f)
            blocks = key.evaluated_get(bpy.context.evaluated_depsgraph_get()).key_blocks
            buf = np.zeros(len(blocks), np.float32)
            blocks.foreach_get("value", buf)
            rows.append(buf[1:])
        out[name] = np.array(rows)
    return out


def _reopen_untrusted(bpy: ModuleType, path: Path) -> None:
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.ops.wm.open_mainfile(filepath=str(path), use_scripts=False) == {"FINISHED"}
    assert not bpy.context.preferences.filepaths.use_scripts_auto_execute


def _check_untrusted(bpy: ModuleType, path: Path, meshes: list[str]) -> None:
    """Save, reopen without trust, compare the evaluated shape keys; then prove Python drivers are refused."""
    drivers = _drivers(bpy)
    assert len(drivers) > 30
    needs_python = [(o, fc.data_path, fc.driver.expression) for o, fc in drivers
                    if fc.driver.type not in PYTHON_FREE_TYPES and not fc.driver.is_simple_expression]
    assert not needs_python, f"drivers that need Python auto-run: {needs_python[:5]}"
    before = _sample(bpy, meshes)
    for name in meshes:
        assert np.ptp(before[name], axis=0).max() > 0.2, f"{name}: the shape keys should animate"

    _reopen_untrusted(bpy, path)
    after = _sample(bpy, meshes)
    assert not bpy.app.autoexec_fail, f"Blender refused a Python driver: {bpy.app.autoexec_fail_message}"
    for name in meshes:
        worst = np.abs(after[name] - before[name]).max()
        assert worst <= 1e-6, f"{name}: shape keys differ by {worst:.4f} after reopening without trust"

    # the control: a driver that needs Python (attribute access) is refused in this very setting
    probe = bpy.data.objects.new("python_probe", None)
    bpy.context.scene.collection.objects.link(probe)
    fc = probe.driver_add("location", 0)
    fc.driver.type = "SCRIPTED"
    fc.driver.expression = "frame.real + 1"
    assert not fc.driver.is_simple_expression
    bpy.context.scene.frame_set(10)
    assert bpy.app.autoexec_fail and probe.location.x == 0.0, "the probe driver should need trust"


def test_default_rig_animates_without_python_trust(untrusted: ModuleType, model_server,
                                                   clip: Clip, tmp_path: Path) -> None:
    bpy = untrusted
    ctl = make_rig(bpy)
    face = ctl["face_mesh"].name
    scene = bpy.context.scene
    scene.render.fps = 30
    scene.au_talking_head.server_url = model_server.url
    assert bpy.ops.au_talking_head.generate_from_audio(filepath=str(clip.path), emotion="HAPPINESS",
                                                       strength=0.7, frame_start=1) == {"FINISHED"}
    _check_untrusted(bpy, tmp_path / "default_rig.blend", [face])


def test_adapted_character_animates_without_python_trust(untrusted: ModuleType, model_server,
                                                         clip: Clip, tmp_path: Path) -> None:
    bpy = untrusted
    # the default rig and the user's character on the same control object
    ctl = make_rig(bpy)
    face = ctl["face_mesh"].name
    names = arkit_style_names()
    character = build_face(bpy, "MyCharacter", {styled: arkit for arkit, styled in names.items()})
    assert bpy.ops.au_talking_head.adapt_rig(target=character.name) == {"FINISHED"}
    assert bpy.context.scene.au_talking_head.rig == ctl and ctl["face_mesh"].name == face
    scene = bpy.context.scene
    scene.render.fps = 30
    scene.au_talking_head.server_url = model_server.url
    assert bpy.ops.au_talking_head.generate_from_audio(filepath=str(clip.path), emotion="SURPRISE",
                                                       strength=1.0, frame_start=1) == {"FINISHED"}
    _check_untrusted(bpy, tmp_path / "character.blend", [face, character.name])
    # the character (not the rig's face mesh) bakes in the untrusted file too
    assert bpy.ops.au_talking_head.bake(frame_start=1, frame_end=60, target="MyCharacter") == {"FINISHED"}
    baked = bpy.data.objects["MyCharacter Baked"].data.shape_keys
    assert len(baked.animation_data.action.layers[0].strips[0].channelbags[0].fcurves) == 52
