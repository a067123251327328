"""The server's landmark basis file is the rig generator's export of the default head (not stale)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from au_contract import AU_CODES
from au_contract.basis import BASIS_KEYS
from rigs.head_build.export_basis import DEFAULT_OUT, export


def test_export_format_and_committed_file_is_current(tmp_path: Path) -> None:
    fresh = np.load(export(tmp_path / "basis.npz"))
    assert set(fresh.files) == set(BASIS_KEYS)
    assert tuple(fresh["au_codes"].tolist()) == AU_CODES
    assert fresh["neutral"].shape == (68, 3) and fresh["neutral"].dtype == np.float32
    assert fresh["basis"].shape == (len(AU_CODES), 68, 3) and fresh["basis"].dtype == np.float32
    assert 0.2 < float(fresh["head_size"]) < 0.3
    committed = np.load(DEFAULT_OUT)
    assert str(committed["source"]) == str(fresh["source"]), "re-run `python -m rigs.head_build.export_basis`"
    for key in ("neutral", "basis"):
        np.testing.assert_allclose(committed[key], fresh[key], atol=1e-7)
