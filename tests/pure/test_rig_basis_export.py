"""The server's landmark basis file is the rig generator's export of the default head (not stale), one slice
per shape key, and it moves the landmarks as the rig's shape keys move the mesh."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from au_contract import AU_CODES
from au_contract.basis import BASIS_KEYS, load_basis
from au_contract.zone_rules import SHAPE_KEYS, evaluate_rules
from rigs.head_build.default_head import HeadData, build_head_data
from rigs.head_build.emotion_metrics import control_props, pose
from rigs.head_build.export_basis import DEFAULT_OUT, export


@pytest.fixture(scope="module")
def head() -> HeadData:
    return build_head_data()


def test_export_format_and_committed_file_is_current(tmp_path: Path, head: HeadData) -> None:
    fresh = np.load(export(tmp_path / "basis.npz"))
    assert set(fresh.files) == set(BASIS_KEYS)
    keys = tuple(zip(fresh["au_codes"].tolist(), [s or None for s in fresh["sides"].tolist()], strict=True))
    assert keys == SHAPE_KEYS
    assert fresh["neutral"].shape == (68, 3) and fresh["neutral"].dtype == np.float32
    assert fresh["basis"].shape == (len(SHAPE_KEYS), 68, 3) and fresh["basis"].dtype == np.float32
    assert 0.2 < float(fresh["head_size"]) < 0.3
    # the two sides of a sided AU sum to the per-AU basis of the head (what the AU property moves)
    codes, _, per_au = head.basis()
    assert tuple(codes) == AU_CODES
    loaded = load_basis(tmp_path / "basis.npz")
    np.testing.assert_allclose(loaded.contract_matrix().reshape(-1, 68, 3), per_au, atol=1e-7)
    left, right = SHAPE_KEYS.index(("AU12", "L")), SHAPE_KEYS.index(("AU12", "R"))
    lift = fresh["basis"][[left, right], 54, 2]  # corner 54 is the character's left (+x)
    assert lift[0] > 1e-3 > abs(lift[1]), "AU12_L lifts corner 54, AU12_R does not"
    committed = np.load(DEFAULT_OUT)
    stale = "the committed basis is stale: re-run `python -m rigs.head_build.export_basis`"
    assert str(committed["source"]) == str(fresh["source"]), stale
    for key in ("au_codes", "sides"):
        assert committed[key].tolist() == fresh[key].tolist(), stale
    for key in ("neutral", "basis"):
        np.testing.assert_allclose(committed[key], fresh[key], atol=1e-7)


@pytest.mark.parametrize("emotion", ["CONTEMPT", "SURPRISE"])
def test_key_basis_gives_the_posed_mesh_landmarks(head: HeadData, emotion: str) -> None:
    """Zone rules (numpy) + per-key basis == the rig's drivers (expressions) posing the mesh, emotion on."""
    aus = {"AU12": 0.3, "AU24": 0.1, "AU26": 0.5, "AU01": 0.2, "AU45": 0.4}
    props = control_props(emotion, 0.7, **aus)
    want = pose(head, props)[head.landmarks]
    row = np.array([[aus.get(c, 0.0) for c in AU_CODES]])
    basis = load_basis()
    got = basis.evaluate_keys(evaluate_rules(row, {emotion: 0.7}))[0]
    assert np.abs(got - want).max() <= 1e-6 * basis.head_size_m
