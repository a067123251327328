"""Closure consistency: opening AUs give way to closure events, the closure-only AUs follow them, nothing
else changes."""

from __future__ import annotations

import numpy as np

from au_contract import MODEL_AUS
from model_server.closure import (
    BILABIAL_EVENT_MIN,
    BILABIAL_FADE,
    CLOSURE_ONLY_AUS,
    EVENT_FADE,
    EVENT_MIN,
    GATE_EASE_S,
    OPENING_AUS,
    RELATIVE_FULL,
    RELATIVE_START,
    closure_gate,
    enforce_closures,
    peak_resample,
)

IDX = {c: i for i, c in enumerate(MODEL_AUS)}
FPS = 100.0
#: The columns a closure event may leave as they are: all but the opening and closure-only AUs.
KEPT = [IDX[c] for c in MODEL_AUS if c not in OPENING_AUS and c not in CLOSURE_ONLY_AUS]
OPEN = [IDX[c] for c in OPENING_AUS]


def _tracks(**values: list[float] | np.ndarray) -> np.ndarray:
    n = len(next(iter(values.values())))
    out = np.zeros((n, len(MODEL_AUS)), np.float32)
    for code, column in values.items():
        out[:, IDX[code]] = column
    return out


def _bump(peak: float, centre: int = 50, width_frames: float = 6.0, n: int = 100) -> np.ndarray:
    t = np.arange(n)
    return (peak * np.exp(-0.5 * ((t - centre) / width_frames) ** 2)).astype(np.float32)


def test_every_closure_event_seals_at_its_peak_whatever_its_height() -> None:
    for peak in (EVENT_MIN, 0.6, 0.8, 1.0):
        t = _tracks(AU24=_bump(peak), AU26=np.full(100, 0.4), AU25=np.full(100, 0.2))
        out = enforce_closures(t, MODEL_AUS, FPS)
        for code in OPENING_AUS:
            assert out[50, IDX[code]] == 0.0, (peak, code)


def test_the_neighbouring_vowel_keeps_its_opening() -> None:
    # A closure peak at frame 50; where C has fallen below 60 % of the peak, and the gate's easing
    # (GATE_EASE_S, reaching 4 sigmas) has died out, nothing is attenuated.
    c = _bump(0.8)
    t = _tracks(AU24=c, AU26=np.full(100, 0.5))
    out = enforce_closures(t, MODEL_AUS, FPS)
    reach = int(np.ceil(4 * GATE_EASE_S * FPS))
    gated = np.nonzero(c >= RELATIVE_START * 0.8)[0]
    far = np.nonzero((np.arange(100) < gated[0] - reach) | (np.arange(100) > gated[-1] + reach))[0]
    assert len(far) > 40
    np.testing.assert_array_equal(out[far, IDX["AU26"]], 0.5)
    near = np.nonzero(c >= RELATIVE_FULL * 0.8)[0]
    assert np.all(out[near, IDX["AU26"]] == 0.0)


def test_the_lips_ease_shut_rather_than_snap_within_a_frame() -> None:
    # At 30 fps a closure whose strength jumps from nothing to full in one frame: without easing the jaw
    # would drop from 0.5 to 0 between two frames; eased, the frame before the seal is already partly
    # closed, the one after it partly open again, and the sealed frames stay sealed.
    fps = 30.0
    c = np.zeros(30, np.float32)
    c[12:16] = 0.8
    out = enforce_closures(_tracks(AU24=c, AU26=np.full(30, 0.5)), MODEL_AUS, fps)[:, IDX["AU26"]]
    assert np.all(out[12:16] == 0.0)
    assert 0.0 < out[11] < 0.5 and 0.0 < out[16] < 0.5
    assert out[11] < out[10] <= 0.5 and out[16] < out[17] <= 0.5
    gate = closure_gate(c, fps)
    assert np.all(np.diff(gate[:13]) >= 0) and np.all(np.diff(gate[15:]) <= 0)


def test_weak_closure_evidence_neither_seals_nor_presses() -> None:
    weak = EVENT_MIN - EVENT_FADE
    t = _tracks(AU24=_bump(weak), AU23=_bump(weak * 0.5, centre=20), AU26=np.full(100, 0.6),
                AU25=np.full(100, 0.7), AU14=np.full(100, 0.1))
    out = enforce_closures(t, MODEL_AUS, FPS)
    np.testing.assert_array_equal(out[:, OPEN + KEPT], t[:, OPEN + KEPT])
    # no event, no pressing: the closure-only AUs go
    assert not out[:, [IDX[c] for c in CLOSURE_ONLY_AUS]].any()


def test_other_aus_are_untouched_and_any_closure_au_counts() -> None:
    for closing in ("AU23", "AU24", "AU28"):
        t = _tracks(**{closing: _bump(0.8)}, AU26=np.full(100, 0.4), AU12=np.full(100, 0.3),
                    AU18=np.full(100, 0.5))
        out = enforce_closures(t, MODEL_AUS, FPS)
        assert out[50, IDX["AU26"]] == 0.0
        np.testing.assert_array_equal(out[:, KEPT], t[:, KEPT])
        assert out[50, IDX[closing]] == t[50, IDX[closing]]  # at the peak even AU24 keeps its value


def test_gate_is_bounded_and_works_at_video_rates() -> None:
    for fps in (23.976, 30.0, 100.0):
        n = int(fps)
        c = _bump(0.7, centre=n // 2, width_frames=0.06 * fps, n=n)
        g = closure_gate(c, fps)
        assert g.shape == (n,) and g.min() >= 0.0 and g.max() == 1.0
        assert g[n // 2] == 1.0 and g[0] == 0.0


def test_input_is_not_modified_and_empty_input_works() -> None:
    t = _tracks(AU24=[1.0], AU26=[0.5])
    enforce_closures(t, MODEL_AUS, FPS)
    assert t[0, IDX["AU26"]] == 0.5
    empty = np.zeros((0, len(MODEL_AUS)), np.float32)
    assert enforce_closures(empty, MODEL_AUS, FPS).shape == (0, len(MODEL_AUS))


def test_bilabial_evidence_seals_a_closure_the_aus_missed() -> None:
    # The closure AUs barely rise (0.2, under EVENT_MIN), but the phone-class output hears a bilabial.
    t = _tracks(AU24=_bump(0.2), AU26=np.full(100, 0.4))
    without = enforce_closures(t, MODEL_AUS, FPS)
    np.testing.assert_array_equal(without[:, OPEN], t[:, OPEN])
    heard = enforce_closures(t, MODEL_AUS, FPS, bilabial=_bump(BILABIAL_EVENT_MIN))
    assert heard[50, IDX["AU26"]] == 0.0
    assert heard[50, IDX["AU24"]] == np.float32(0.2)  # the heard closure presses with what the AUs gave
    assert heard[5, IDX["AU26"]] == np.float32(0.4)  # far from the bilabial, the vowel keeps its opening
    weak = enforce_closures(t, MODEL_AUS, FPS, bilabial=_bump(BILABIAL_EVENT_MIN - BILABIAL_FADE - 0.01))
    np.testing.assert_array_equal(weak[:, OPEN + KEPT], t[:, OPEN + KEPT])


def test_with_bilabial_evidence_a_closure_au_peak_alone_is_not_a_closure() -> None:
    # A strong AU24 peak (a rounded vowel the AUs took for a closure) where the phone-class output hears no
    # bilabial: the lips stay open; weights without that output (bilabial=None) still seal it.
    t = _tracks(AU24=_bump(0.8), AU26=np.full(100, 0.4))
    heard = enforce_closures(t, MODEL_AUS, FPS, bilabial=np.zeros(100, np.float32))
    np.testing.assert_array_equal(heard[:, OPEN + KEPT], t[:, OPEN + KEPT])
    assert not heard[:, IDX["AU24"]].any()  # nor do the lips press in it
    assert enforce_closures(t, MODEL_AUS, FPS)[50, IDX["AU26"]] == 0.0


def test_the_lip_pressor_and_dimpler_act_only_where_a_closure_event_shuts_the_lips() -> None:
    # A rounded vowel the network half took for a closure (AU24 0.3 over frames 10-40) and a bilabial the
    # phone-class output hears at frame 70: the pressor and dimpler follow the gate (they widen the mouth
    # corners on the default head, so a stray AU24 made rounded vowels wide), the other AUs do not move.
    au24 = np.zeros(100, np.float32)
    au24[10:40] = 0.3
    au24 += _bump(0.8, centre=70)
    t = _tracks(AU24=au24, AU14=0.25 * au24, AU18=np.full(100, 0.6), AU26=np.full(100, 0.4))
    evidence = _bump(0.6, centre=70)
    out = enforce_closures(t, MODEL_AUS, FPS, bilabial=evidence)
    gate = closure_gate(np.maximum(au24, 0.0), FPS, evidence)
    for code in CLOSURE_ONLY_AUS:
        np.testing.assert_allclose(out[:, IDX[code]], t[:, IDX[code]] * gate, rtol=1e-6)
    assert not out[10:40, IDX["AU24"]].any() and out[70, IDX["AU24"]] == t[70, IDX["AU24"]]
    np.testing.assert_array_equal(out[:, KEPT], t[:, KEPT])
    np.testing.assert_allclose(out[:, IDX["AU26"]], 0.4 * (1.0 - gate), rtol=1e-6)


def test_peak_resample_keeps_a_brief_peak_at_any_scene_rate() -> None:
    evidence = np.zeros(200, np.float32)
    evidence[101:104] = 0.9  # 30 ms at 100 Hz
    for fps in (12.0, 23.976, 24.0, 30.0, 60.0, 100.0):
        n = int(2.0 * fps)
        out = peak_resample(evidence, fps, n)
        assert out.shape == (n,) and out.max() == np.float32(0.9), fps
        times = np.nonzero(out > 0)[0] / fps
        assert times.min() >= 1.01 - 1.0 / fps and times.max() <= 1.03 + 1.0 / fps, (fps, times)
    assert peak_resample(np.zeros(0, np.float32), 30.0, 5).tolist() == [0.0] * 5
