"""Closure consistency of the speech AUs (pure): during a lip closure the lips really meet.

The acoustic model learns the coarticulation targets, where a bilabial (p, b, m) sets the closure AUs
(AU23/AU24/AU28) high while the jaw keeps some of its opening from the neighbouring vowels: in real
speech the jaw stays partly lowered during "map a" and the lips stretch to stay sealed. A blend-shape
rig cannot stretch the lips like that: its jaw-drop shape (AU26, ARKit jawOpen) carries the lower lip
with it, so AU26 = 0.3 together with AU24 = 0.8 leaves a visible gap on every rig we drive.

So the track set says what the face must show. Closure *events* are found on the closure strength
``C = max(AU23, AU24, AU28)``: ``P(t)``, the running maximum of ``C`` over +-``EVENT_HALF_WINDOW_S``,
is the height of the nearest closure peak. Around a peak that is a real closure (``P >= EVENT_MIN``,
faded in from ``EVENT_MIN - EVENT_FADE``), the lip-opening AUs (AU16, AU25, AU26, AU27 and the
funneler AU22) are attenuated by ``1 - G``, where ``G`` ramps from 0 at ``C = RELATIVE_START * P`` to 1
at ``C = RELATIVE_FULL * P``. So
every detected bilabial is fully sealed at and near its peak, whatever the peak's height (0.46 to 0.82 on
the demo clip), while the neighbouring vowel, whose ``C`` has already fallen well below the peak, keeps its
opening. A fixed threshold cannot do both: mid-vowels next to bilabials still show ``C`` = 0.3, as high as
the weakest closures. Below ``EVENT_MIN - EVENT_FADE`` (a labiodental /f/, a rounded vowel) nothing
changes. ``G`` then eases in and out in time: it becomes ``max(G, Gaussian(G, GATE_EASE_S))``, so the lips
start to meet a little before the sealed frames and part a little after them, instead of snapping shut
within one frame at 30 fps (every sealed frame stays sealed; on the real-speech development set the
motion's jerk ratio falls from 1.19 to 1.09 with closure recall and depth unchanged, docs/evaluation.md).
Because this happens on the AU values themselves (not in a rig's driver), the Graph Editor shows the
closure, every character closes its lips the same way, and the landmarks stay a linear function of the
AUs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from au_contract import CLOSURE_AUS
from au_contract.zone_rules import OPENING_AUS as _CONTRACT_OPENING_AUS

from .filters import gaussian_smooth1d, moving_max

#: AUs attenuated during a closure: those that open the lips or drop the jaw (``zone_rules.OPENING_AUS``)
#: and the lip funneler AU22, whose shape parts the lips as it pushes them forward (on the default head
#: AU22 0.36 leaves a gap of 0.05 eye-distances under a full AU24 closure, a third of an open vowel's).
OPENING_AUS: tuple[str, ...] = (*_CONTRACT_OPENING_AUS, "AU22")
#: Half-width of the window in which a closure peak governs its neighbourhood (s).
EVENT_HALF_WINDOW_S = 0.06
#: Peak closure strength from which an event counts fully, and the fade below it.
EVENT_MIN = 0.45
EVENT_FADE = 0.1
#: Gate ramp relative to the event's peak: off below 60 % of the peak, full from 85 %.
RELATIVE_START = 0.6
RELATIVE_FULL = 0.85
#: Sigma of the gate's easing in time (s).
GATE_EASE_S = 0.02
_SLACK = 1.0 + 1e-4  # ramps scaled by this reach exactly 1 (0 stays 0)


def closure_gate(closure: np.ndarray, fps: float) -> np.ndarray:
    """``G``: how much a closure event shuts the lips at each frame.

    Args:
        closure: [T] closure strength ``C`` in [0, 1] at ``fps``.
        fps: frames per second of ``closure``.

    Returns:
        [T] float32 in [0, 1]: 1 at and near every closure peak of height >= EVENT_MIN, easing to 0 within
        ~3 x GATE_EASE_S of the frames it covers, 0 farther from peaks and wherever the nearest peak is below
        EVENT_MIN - EVENT_FADE.
    """
    if closure.size == 0:
        return np.zeros(0, np.float32)
    size = 2 * max(1, round(EVENT_HALF_WINDOW_S * fps)) + 1
    peak = moving_max(closure.astype(np.float32), size, mode="nearest")  # [T]
    # * _SLACK: float32 rounding must not leave a sealed closure at 0.9999999 (a 1e-7 gap is still a gap)
    event = np.clip((peak - (EVENT_MIN - EVENT_FADE)) / EVENT_FADE * _SLACK, 0.0, 1.0)
    safe = np.maximum(peak, 1e-6)
    ramp = (closure / safe - RELATIVE_START) / (RELATIVE_FULL - RELATIVE_START)
    relative = np.clip(ramp * _SLACK, 0.0, 1.0)
    gate = (event * relative).astype(np.float32)
    if gate.size < 2:
        return gate
    eased = gaussian_smooth1d(gate, GATE_EASE_S * fps, axis=0, mode="nearest", truncate=4.0)
    return np.maximum(gate, eased).astype(np.float32)


def enforce_closures(tracks: np.ndarray, codes: Sequence[str], fps: float) -> np.ndarray:
    """Return a copy of ``tracks`` where the opening AUs give way to closure events by ``1 - G``.

    Args:
        tracks: [T, K] float32 AU values in [0, 1] at ``fps``, one column per code.
        codes: the K AU codes of the columns.
        fps: frames per second of ``tracks``.

    Returns:
        [T, K] float32; only the columns of ``OPENING_AUS`` differ, and only near closure events.
    """
    index = {code: i for i, code in enumerate(codes)}
    closing = [index[c] for c in CLOSURE_AUS if c in index]
    opening = [index[c] for c in OPENING_AUS if c in index]
    out = np.array(tracks, dtype=np.float32, copy=True)
    if not closing or not opening or out.shape[0] == 0:
        return out
    keep = 1.0 - closure_gate(out[:, closing].max(axis=1), fps)  # [T]
    out[:, opening] *= keep[:, None]
    return out
