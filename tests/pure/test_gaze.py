"""The gaze layer (rigs.gaze): seeded, natural statistics, within range; drivers over h, v and vergence."""

from __future__ import annotations

import numpy as np
import pytest

from au_contract.zone_rules import evaluate, weighted_driver
from rigs.gaze import (
    GAZE_H_PROP,
    GAZE_RANGE_DEG,
    GAZE_V_PROP,
    VERGENCE_PROP,
    GazeParams,
    eye_look_driver,
    gaze_keys,
    look_at,
    saccade_s,
    vergence_for,
    with_lid_follow,
)


def test_seeded_and_deterministic() -> None:
    a, b, c = gaze_keys(30.0, 7), gaze_keys(30.0, 7), gaze_keys(30.0, 8)
    assert np.array_equal(a.h, b.h) and np.array_equal(a.times_s, b.times_s)
    assert not np.array_equal(a.h, c.h)


def test_natural_statistics() -> None:
    keys = gaze_keys(600.0, 1)
    assert 0.7 <= float(np.median(keys.fixations_s)) <= 1.1, "fixations around 0.9 s (conversation)"
    amps = keys.amplitudes_deg[1:]
    assert float(np.median(amps)) < 12.0 and amps.max() <= 2 * 20.0 + 1e-6
    assert np.all(np.diff(keys.times_s) > 0)
    assert keys.h.min() >= -1 and keys.h.max() <= 1 and keys.v.min() >= -1 and keys.v.max() <= 1
    # saccades: the main sequence, 21 + 2.2 ms per degree
    durations = np.diff(keys.times_s)[1::2]
    assert np.allclose(durations, [saccade_s(a) for a in amps])
    contact = np.mean(np.hypot(keys.h[2::2], keys.v[2::2]) * GAZE_RANGE_DEG < 3.0)
    assert 0.45 <= contact <= 0.75, "about 60 % of fixations on the target"


def test_look_at_and_vergence() -> None:
    h, v, d = look_at((0.0, 0.0, 1.6), (1.0, -1.0, 1.6))
    assert h == pytest.approx(45 / GAZE_RANGE_DEG if GAZE_RANGE_DEG > 45 else 1.0) and v == pytest.approx(0)
    assert d == pytest.approx(np.sqrt(2))
    assert vergence_for(0.3) > vergence_for(3.0) > 0
    keys = gaze_keys(5.0, 0, GazeParams(target_h=0.5, contact=1.0, jitter_deg=0.0))
    assert np.allclose(keys.h, 0.5)


def test_eye_look_drivers_turn_both_eyes_together() -> None:
    props = {GAZE_H_PROP: 0.4, GAZE_V_PROP: -0.3, VERGENCE_PROP: 0.1}
    assert evaluate(eye_look_driver("Out", "L"), props) == pytest.approx(0.3)
    assert evaluate(eye_look_driver("In", "R"), props) == pytest.approx(0.5)
    assert evaluate(eye_look_driver("In", "L"), props) == 0.0
    assert evaluate(eye_look_driver("Down", "L"), props) == pytest.approx(0.3)
    blink = with_lid_follow(weighted_driver({"AU45": 1.0}, "L"))
    assert evaluate(blink, {**props, "AU45": 0.0}) == pytest.approx(0.09), "the lid follows the look down"
    assert evaluate(blink, {**props, "AU45": 1.0}) == 1.0
