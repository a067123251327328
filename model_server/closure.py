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
Weights with the phone-class output (v12 on) find the events on a better signal: the network's own
bilabial posterior (slightly smoothed, and raised to the aligned closures of a loosely matched
transcript in dialog mode) takes the place of ``C``, with its own event threshold ``BILABIAL_EVENT_MIN``.
A trusted transcript raises the closure AUs at every aligned bilabial (``model_server.dialog.blend``);
there ``C`` decides as before. The posterior tells
bilabials from other segments much better than the closure AUs (ROC area 0.93 against 0.88 on the
real-speech development set, 0.996 against 0.95 on held-out TTS), so more bilabials close and fewer
rounded vowels and labiodentals do (held-out TTS: false closures 0.090 -> 0.063).
The AUs that the articulatory model (``model_server.coarticulation``) ties to the closure alone, the lip
pressor AU24 (0.8 x closure) and the dimpler AU14 (0.2 x closure), follow the same gate: they are scaled by
``G``, so the lips press where a closure event seals them and nowhere else. The network hears rounded
vowels as half a closure (lip constriction lowers the formants much as a bilabial does) and left AU24 at
0.2-0.45 in them; AU24 widens the mouth corners on the default head (0.13 eye-distances at 1), as much
as the stretcher AU20, so the rounded vowels came out wider than the spread ones. Gated, rounding on the
real-speech development set rises 0.792 -> 0.822 and on held-out TTS 0.974 -> 0.982, with closure recall,
depth, speech r and rest unchanged (docs/evaluation.md, "Session 13"). A stray AU24 no longer gates an
emotion's mouth opening in the zone rules either.
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
#: AUs the articulatory model sets from the closure alone (lip pressor 0.8 x closure, dimpler 0.2 x closure):
#: scaled by the closure gate, so they act only where a closure event shuts the lips.
CLOSURE_ONLY_AUS: tuple[str, ...] = ("AU14", "AU24")
#: Half-width of the window in which a closure peak governs its neighbourhood (s).
EVENT_HALF_WINDOW_S = 0.06
#: Peak closure strength from which an event counts fully, and the fade below it.
EVENT_MIN = 0.45
EVENT_FADE = 0.1
#: Gate ramp relative to the event's peak: off below 60 % of the peak, full from 85 %.
RELATIVE_START = 0.6
RELATIVE_FULL = 0.85
#: Sigma of the gate's easing in time (s). 0.02 until session 10; once recordings with a DC offset moved
#: (``filters.remove_dc``), the real-speech development set's jerk ratio was 1.251, over the 1.25 bound:
#: 0.025 takes it to 1.200 (held-out TTS 1.064 -> 1.021) for false closures +0.004 and speech r -0.003
#: (0.03: 1.164, false closures +0.006, r -0.005).
GATE_EASE_S = 0.025
#: Bilabial evidence (the phone-class output's bilabial posterior, smoothed over ``BILABIAL_SMOOTH_S``,
#: raised to a matched transcript's closures): where weights have that output, its peaks are the closure
#: events instead of the closure AUs' (full from ``BILABIAL_EVENT_MIN``, faded in from ``BILABIAL_EVENT_MIN
#: - BILABIAL_FADE``). It tells bilabials from other segments far better than the closure strength does:
#: on the real-speech development set the area under the ROC curve is 0.93 against 0.88, on held-out TTS
#: 0.996 against 0.95 (docs/evaluation.md, "Session 9").
#: 0.2 for v14w; 0.15 from v16 on (session 10), whose posterior is less sure of itself on real voices: on the
#: real-speech development set v16 at 0.2 / 0.15 / 0.12 closes 0.781 / 0.811 / 0.820 of the bilabials (jerk
#: 1.116 / 1.159 / 1.192, false closures 0.130 / 0.139 / 0.145); v14w at 0.2 / 0.15: 0.796 / 0.808 (jerk
#: 1.200 / 1.243).
BILABIAL_EVENT_MIN = 0.15
#: The same in precise mode (``model_server.views``): the posterior averaged over three views of the voice
#: peaks lower where they disagree. On the real-speech development set precise mode closes 0.837 of the
#: bilabials at 0.15 (one view: 0.837) and 0.849 at 0.12 (one view at 0.12: 0.846), with deeper closures
#: and fewer false ones either way (docs/evaluation.md, "Session 17").
BILABIAL_EVENT_MIN_PRECISE = 0.12
BILABIAL_FADE = 0.05
BILABIAL_SMOOTH_S = 0.02
_SLACK = 1.0 + 1e-4  # ramps scaled by this reach exactly 1 (0 stays 0)


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 at ``x <= lo``, 1 at ``x >= hi``, linear between."""
    # * _SLACK: float32 rounding must not leave a sealed closure at 0.9999999 (a 1e-7 gap is still a gap)
    return np.clip((x - lo) / (hi - lo) * _SLACK, 0.0, 1.0)


def _peak_gate(strength: np.ndarray, size: int, event_lo: float, event_hi: float) -> np.ndarray:
    """The event of the nearest peak of ``strength`` (ramping from ``event_lo`` to ``event_hi``) times the
    ramp of the strength relative to that peak."""
    peak = moving_max(strength, size, mode="nearest")  # [T]
    relative = _ramp(strength / np.maximum(peak, 1e-6), RELATIVE_START, RELATIVE_FULL)
    return _ramp(peak, event_lo, event_hi) * relative


def closure_gate(closure: np.ndarray, fps: float, bilabial: np.ndarray | None = None,
                 bilabial_min: float = BILABIAL_EVENT_MIN) -> np.ndarray:
    """``G``: how much a closure event shuts the lips at each frame.

    Args:
        closure: [T] closure strength ``C`` in [0, 1] at ``fps``.
        fps: frames per second of ``closure``.
        bilabial: [T] bilabial evidence in [0, 1] at ``fps`` (the acoustic model's bilabial posterior,
            raised to a matched transcript's closures), or None for weights without a phone-class output.
            With it, the events are its peaks of height >= ``BILABIAL_EVENT_MIN`` and the gate follows its
            shape; the closure strength is not used.
        bilabial_min: the bilabial evidence's event threshold (:data:`BILABIAL_EVENT_MIN`, or
            :data:`BILABIAL_EVENT_MIN_PRECISE` in precise mode).

    Returns:
        [T] float32 in [0, 1]: 1 at and near every closure peak of height >= EVENT_MIN (of the bilabial
        evidence: >= BILABIAL_EVENT_MIN), easing to 0 within ~3 x GATE_EASE_S of the frames it covers, 0
        farther from peaks and wherever the nearest peak is below its event's fade.
    """
    if closure.size == 0:
        return np.zeros(0, np.float32)
    size = 2 * max(1, round(EVENT_HALF_WINDOW_S * fps)) + 1
    if bilabial is None:
        gate = _peak_gate(closure.astype(np.float32), size, EVENT_MIN - EVENT_FADE, EVENT_MIN)
    else:
        gate = _peak_gate(np.clip(bilabial, 0.0, 1.0).astype(np.float32), size,
                          bilabial_min - BILABIAL_FADE, bilabial_min)
    gate = gate.astype(np.float32)
    if gate.size < 2:
        return gate
    eased = gaussian_smooth1d(gate, GATE_EASE_S * fps, axis=0, mode="nearest", truncate=4.0)
    return np.maximum(gate, eased).astype(np.float32)


def peak_resample(values: np.ndarray, fps: float, n_frames: int, source_rate: float = 100.0) -> np.ndarray:
    """[T] evidence at ``source_rate`` -> [n_frames] at ``fps``, each frame the maximum of the source frames
    within half a frame of its time (a brief peak is kept at any scene rate; an averaging resampler would
    halve a 30 ms posterior peak at 24 fps)."""
    out = np.zeros(n_frames, np.float32)
    if values.size == 0 or n_frames == 0:
        return out
    half = int(np.ceil(0.5 * source_rate / fps))
    pooled = moving_max(np.asarray(values, np.float32), 2 * half + 1, mode="nearest")
    index = np.clip(np.rint(np.arange(n_frames) * (source_rate / fps)).astype(np.int64), 0, values.size - 1)
    return pooled[index]


def enforce_closures(tracks: np.ndarray, codes: Sequence[str], fps: float,
                     bilabial: np.ndarray | None = None, bilabial_min: float = BILABIAL_EVENT_MIN
                     ) -> np.ndarray:
    """Return a copy of ``tracks`` where the opening AUs give way to closure events by ``1 - G`` and the
    closure-only AUs (:data:`CLOSURE_ONLY_AUS`) follow them, scaled by ``G``.

    Args:
        tracks: [T, K] float32 AU values in [0, 1] at ``fps``, one column per code.
        codes: the K AU codes of the columns.
        fps: frames per second of ``tracks``.
        bilabial: [T] bilabial evidence at ``fps`` (:func:`closure_gate`), or None.
        bilabial_min: its event threshold (:func:`closure_gate`).

    Returns:
        [T, K] float32; only the columns of ``OPENING_AUS`` (near closure events) and of
        ``CLOSURE_ONLY_AUS`` (away from them) differ.
    """
    index = {code: i for i, code in enumerate(codes)}
    closing = [index[c] for c in CLOSURE_AUS if c in index]
    opening = [index[c] for c in OPENING_AUS if c in index]
    pressing = [index[c] for c in CLOSURE_ONLY_AUS if c in index]
    out = np.array(tracks, dtype=np.float32, copy=True)
    if not closing or not opening or out.shape[0] == 0:
        return out
    gate = closure_gate(out[:, closing].max(axis=1), fps, bilabial, bilabial_min)  # [T]
    out[:, opening] *= (1.0 - gate)[:, None]
    out[:, pressing] *= gate[:, None]
    return out
