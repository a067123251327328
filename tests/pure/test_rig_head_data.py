"""The default head packaged into the extension is exactly the one built from the CC0 sources."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

import build_addon
from rigs import head_data
from rigs.head_build.default_head import build_head_data


def test_npz_round_trip_keeps_every_array_and_the_content_hash(tmp_path: Path) -> None:
    head = build_head_data()
    path = tmp_path / "head.npz"
    path.write_bytes(head_data.head_to_npz_bytes(head))
    back = head_data.head_from_npz(path)
    assert back.content_hash() == head.content_hash()
    assert set(back.shape_deltas) == set(head.shape_deltas)
    assert set(back.zone_groups) == set(head.zone_groups)
    np.testing.assert_array_equal(back.regions, head.regions)
    np.testing.assert_array_equal(back.landmarks, head.landmarks)
    assert back.head_size == head.head_size


def test_serialisation_is_deterministic() -> None:
    head = build_head_data()
    assert head_data.head_to_npz_bytes(head) == head_data.head_to_npz_bytes(head)


def test_zip_ships_the_baked_head(tmp_path: Path) -> None:
    target = build_addon.build(tmp_path)
    with zipfile.ZipFile(target) as zf:
        wheel = zf.read(next(n for n in zf.namelist() if n.startswith("wheels/au_talking_head_runtime-")))
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        data = zf.read(build_addon.GENERATED_HEAD)
    path = tmp_path / "h.npz"
    path.write_bytes(data)
    assert head_data.head_from_npz(path).content_hash() == build_head_data().content_hash()


def test_a_foreign_npz_is_rejected_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, verts=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="rebuild the extension"):
        head_data.head_from_npz(path)
