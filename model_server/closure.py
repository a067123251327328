"""Closure consistency of the speech AUs (pure): during a lip closure the lips really meet.

The acoustic model learns the coarticulation targets, where a bilabial (p, b, m) sets the closure AUs
(AU23/AU24/AU28) high while the jaw keeps some of its opening from the neighbouring vowels: in real
speech the jaw stays partly lowered during "map a" and the lips stretch to stay sealed. A blend-shape
rig cannot stretch the lips like that: its jaw-drop shape (AU26, ARKit jawOpen) carries the lower lip
with it, so AU26 = 0.3 together with AU24 = 0.8 leaves a visible gap on every rig we drive.

So the track set says what the face must show: wherever the closure strength
``C = max(AU23, AU24, AU28)`` is clear, the lip-opening AUs (AU16, AU25, AU26, AU27) are attenuated by
``1 - G(C)``, with ``G`` a linear ramp from 0 at ``C = GATE_START`` to 1 at ``C = GATE_FULL``. Below
``GATE_START`` nothing changes (weak closure evidence, e.g. a labiodental /f/ or a rounded vowel); from
``GATE_FULL`` on the lips are fully shut. Because this happens on the AU values themselves (not in a
rig's driver), the Graph Editor shows the closure, every character closes its lips the same way, and the
landmarks stay a linear function of the AUs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rigs.au_contract import CLOSURE_AUS

#: AUs that open the lips or drop the jaw: attenuated during a closure.
OPENING_AUS: tuple[str, ...] = ("AU16", "AU25", "AU26", "AU27")
#: Closure strength at which the attenuation starts, and at which the opening AUs are fully off.
GATE_START = 0.3
GATE_FULL = 0.55


def closure_gate(closure: np.ndarray) -> np.ndarray:
    """``G(C)``: 0 below GATE_START, 1 from GATE_FULL, linear between. closure: [T] -> [T] float32."""
    return np.clip((closure - GATE_START) / (GATE_FULL - GATE_START), 0.0, 1.0).astype(np.float32)


def enforce_closures(tracks: np.ndarray, codes: Sequence[str]) -> np.ndarray:
    """Return a copy of ``tracks`` where the opening AUs are attenuated by ``1 - G(C)``.

    Args:
        tracks: [T, K] float32 AU values in [0, 1], one column per code.
        codes: the K AU codes of the columns; must include the closure AUs that are present.

    Returns:
        [T, K] float32; only the columns of ``OPENING_AUS`` differ, and only where ``C > GATE_START``.
    """
    index = {code: i for i, code in enumerate(codes)}
    closing = [index[c] for c in CLOSURE_AUS if c in index]
    opening = [index[c] for c in OPENING_AUS if c in index]
    out = np.array(tracks, dtype=np.float32, copy=True)
    if not closing or not opening or out.shape[0] == 0:
        return out
    keep = 1.0 - closure_gate(out[:, closing].max(axis=1))  # [T]
    out[:, opening] *= keep[:, None]
    return out
