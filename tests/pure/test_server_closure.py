"""Closure consistency: opening AUs give way to a clear lip closure, nothing else changes."""

from __future__ import annotations

import numpy as np

from model_server.closure import GATE_FULL, GATE_START, OPENING_AUS, closure_gate, enforce_closures
from rigs.au_contract import MODEL_AUS

IDX = {c: i for i, c in enumerate(MODEL_AUS)}


def _tracks(**values: list[float]) -> np.ndarray:
    n = len(next(iter(values.values())))
    out = np.zeros((n, len(MODEL_AUS)), np.float32)
    for code, column in values.items():
        out[:, IDX[code]] = column
    return out


def test_gate_is_a_clamped_ramp() -> None:
    c = np.array([0.0, GATE_START, (GATE_START + GATE_FULL) / 2, GATE_FULL, 1.0], np.float32)
    np.testing.assert_allclose(closure_gate(c), [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-6)


def test_a_clear_closure_shuts_every_opening_au() -> None:
    t = _tracks(AU24=[0.8, 0.8], AU26=[0.4, 0.4], AU25=[0.2, 0.2], AU16=[0.1, 0.1], AU27=[0.1, 0.1],
                AU12=[0.3, 0.3], AU18=[0.5, 0.5])
    out = enforce_closures(t, MODEL_AUS)
    for code in OPENING_AUS:
        assert np.all(out[:, IDX[code]] == 0.0), code
    # closure, spreading and rounding untouched
    for code in ("AU24", "AU12", "AU18"):
        np.testing.assert_array_equal(out[:, IDX[code]], t[:, IDX[code]])


def test_weak_closure_evidence_changes_nothing() -> None:
    t = _tracks(AU24=[0.0, 0.1, GATE_START], AU23=[0.2, 0.0, 0.0], AU26=[0.6, 0.5, 0.4], AU25=[0.7, 0.6, 0.5])
    np.testing.assert_array_equal(enforce_closures(t, MODEL_AUS), t)


def test_any_closure_au_gates_and_partial_closure_attenuates_partially() -> None:
    mid = (GATE_START + GATE_FULL) / 2
    for closing in ("AU23", "AU24", "AU28"):
        t = _tracks(**{closing: [mid]}, AU26=[0.6])
        assert enforce_closures(t, MODEL_AUS)[0, IDX["AU26"]] == np.float32(0.3)


def test_input_is_not_modified_and_empty_input_works() -> None:
    t = _tracks(AU24=[1.0], AU26=[0.5])
    enforce_closures(t, MODEL_AUS)
    assert t[0, IDX["AU26"]] == 0.5
    assert enforce_closures(np.zeros((0, len(MODEL_AUS)), np.float32), MODEL_AUS).shape == (0, len(MODEL_AUS))
