"""Gaze as a seeded behaviour layer: fixations and saccades with natural statistics (pure, no bpy).

The control object carries three keyframable properties (``BEHAVIOUR_PROPS``): ``eye_look_h`` (-1..1, +1 =
the character looks to its own left, ``GAZE_RANGE_DEG`` degrees), ``eye_look_v`` (-1..1, +1 = up) and
``eye_vergence`` (0..1, each eye turned inwards by that share of the range), plus ``jaw_sideways`` (-1..1,
+1 = the jaw to the character's left; no AU moves the jaw sideways, so it is left for the animator).

:func:`gaze_keys` writes a speaker's gaze (Argyle & Cook; Lee, Badler & Badler 2002 "Eyes alive"):

- fixations last a log-normal time (median ``fixation_median_s``, spread ``fixation_sigma``), clipped;
- each fixation is on the look-at target (mutual gaze, probability ``contact``) with a small jitter, or an
  aversion whose amplitude follows an exponential law (mean ``aversion_mean_deg``) in a direction biased
  sideways and down (speakers look away and down while planning speech);
- saccades take the main-sequence time ``21 + 2.2 x amplitude`` ms (Carpenter 1988);
- vergence follows the target distance (``atan(ipd / 2 / distance)`` per eye).

Drivers (simple expressions): ARKit ``eyeLookOut/In/Up/Down`` from ``h``, ``v`` and vergence; the upper lids
follow the gaze down (``LID_FOLLOW`` x downward look added to the blink shapes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from au_contract.zone_rules import DriverSpec

GAZE_H_PROP = "eye_look_h"
GAZE_V_PROP = "eye_look_v"
VERGENCE_PROP = "eye_vergence"
JAW_SIDE_PROP = "jaw_sideways"
#: property -> (min, max, description) of the behaviour properties added to the control object.
BEHAVIOUR_PROPS: dict[str, tuple[float, float, str]] = {
    GAZE_H_PROP: (-1.0, 1.0, "Gaze left/right: +1 = the character's left, -1 its right (30 degrees)"),
    GAZE_V_PROP: (-1.0, 1.0, "Gaze up/down: +1 = up, -1 = down (30 degrees)"),
    VERGENCE_PROP: (0.0, 1.0, "Each eye turned inwards by this share of 30 degrees (near targets)"),
    JAW_SIDE_PROP: (-1.0, 1.0, "Jaw sideways: +1 = to the character's left (no AU does this; key it)"),
}
#: Degrees of eye rotation at ``eye_look_h`` / ``eye_look_v`` = 1 (ARKit's eyeLook shapes at 1.0).
GAZE_RANGE_DEG = 30.0
#: How much of a downward look the upper lids follow (added to the blink shapes).
LID_FOLLOW = 0.3
_VARS = ((("gh", GAZE_H_PROP), ("gv", GAZE_V_PROP), ("gc", VERGENCE_PROP)))


@dataclass(frozen=True)
class GazeParams:
    """Statistics of the gaze layer.

    Attributes:
        fixation_median_s: median fixation duration (seconds).
        fixation_sigma: log-normal spread of the fixation durations.
        contact: probability that a fixation is on the target (mutual gaze).
        aversion_mean_deg: mean amplitude of a gaze aversion (degrees).
        jitter_deg: standard deviation of a fixation's scatter around its point (degrees).
        target_h: horizontal direction of the look-at target (-1..1, 0 = straight ahead).
        target_v: vertical direction of the target (-1..1).
        target_distance_m: distance to the target (for vergence).
        ipd_m: inter-pupillary distance.
    """

    fixation_median_s: float = 0.9
    fixation_sigma: float = 0.5
    contact: float = 0.6
    aversion_mean_deg: float = 8.0
    jitter_deg: float = 0.8
    target_h: float = 0.0
    target_v: float = 0.0
    target_distance_m: float = 1.5
    ipd_m: float = 0.063


@dataclass(frozen=True)
class GazeKeys:
    """Keys of the gaze curves: a saccade is a pair of keys (leave the old point, reach the new one).

    Attributes:
        times_s: [K] key times, seconds from the start, increasing.
        h: [K] ``eye_look_h`` values. v: [K] ``eye_look_v`` values.
        vergence: the constant ``eye_vergence`` value.
        fixations_s: [N] fixation durations (for statistics).
        amplitudes_deg: [N] saccade amplitudes (degrees; 0 for the first fixation).
    """

    times_s: np.ndarray  # [K]
    h: np.ndarray  # [K]
    v: np.ndarray  # [K]
    vergence: float
    fixations_s: np.ndarray  # [N]
    amplitudes_deg: np.ndarray  # [N]


def saccade_s(amplitude_deg: float) -> float:
    """Main-sequence saccade duration (seconds) for an amplitude in degrees."""
    return (21.0 + 2.2 * abs(amplitude_deg)) / 1000.0


def vergence_for(distance_m: float, ipd_m: float = 0.063) -> float:
    """``eye_vergence`` (share of ``GAZE_RANGE_DEG``) converging both eyes on a point ``distance_m`` away."""
    return min(1.0, math.degrees(math.atan(0.5 * ipd_m / max(distance_m, 0.05))) / GAZE_RANGE_DEG)


def gaze_keys(duration_s: float, seed: int, params: GazeParams | None = None) -> GazeKeys:
    """A seeded gaze performance of ``duration_s`` seconds (same seed, same keys).

    Raises:
        ValueError: if ``duration_s`` is not positive.
    """
    if duration_s <= 0:
        raise ValueError(f"gaze needs a positive duration, got {duration_s} s")
    p = params or GazeParams()
    rng = np.random.default_rng(seed)
    times, hs, vs, fix, amps = [0.0], [p.target_h], [p.target_v], [], []
    t, h, v = 0.0, p.target_h, p.target_v
    while t < duration_s:
        dur = float(np.clip(rng.lognormal(math.log(p.fixation_median_s), p.fixation_sigma), 0.2, 4.0))
        fix.append(dur)
        t += dur
        if t >= duration_s:
            break
        if rng.random() < p.contact:
            dh, dv = rng.normal(0.0, p.jitter_deg, 2)
        else:
            amp = min(float(rng.exponential(p.aversion_mean_deg)) + 2.0, 20.0)
            ang = rng.choice([0.0, math.pi, -0.6 * math.pi, -0.4 * math.pi, 0.75 * math.pi, 0.25 * math.pi],
                             p=[0.25, 0.25, 0.15, 0.15, 0.1, 0.1])
            dh, dv = amp * math.cos(ang), amp * math.sin(ang)
        nh = float(np.clip(p.target_h + dh / GAZE_RANGE_DEG, -1.0, 1.0))
        nv = float(np.clip(p.target_v + dv / GAZE_RANGE_DEG, -1.0, 1.0))
        amp_deg = math.hypot(nh - h, nv - v) * GAZE_RANGE_DEG
        amps.append(amp_deg)
        times += [t, t + saccade_s(amp_deg)]
        hs += [h, nh]
        vs += [v, nv]
        t, h, v = t + saccade_s(amp_deg), nh, nv
    return GazeKeys(np.asarray(times), np.asarray(hs), np.asarray(vs),
                    vergence_for(p.target_distance_m, p.ipd_m), np.asarray(fix), np.asarray([0.0, *amps]))


Vec3 = tuple[float, float, float]


def look_at(eye: Vec3, target: Vec3) -> Vec3:
    """(h, v, distance_m) of ``target`` seen from ``eye`` for a face looking down -Y with +Z up (Blender's
    front view; the character's left is +X). h and v are in ``GAZE_RANGE_DEG`` units, clipped to -1..1."""
    dx, dy, dz = (target[i] - eye[i] for i in range(3))
    fwd = max(-dy, 1e-6)
    h = math.degrees(math.atan2(dx, fwd)) / GAZE_RANGE_DEG
    v = math.degrees(math.atan2(dz, math.hypot(dx, fwd))) / GAZE_RANGE_DEG
    return max(-1.0, min(1.0, h)), max(-1.0, min(1.0, v)), math.sqrt(dx * dx + dy * dy + dz * dz)


def _spec(expression: str) -> DriverSpec:
    return DriverSpec(expression, tuple(pair for pair in _VARS if pair[0] in expression))


def eye_look_driver(direction: str, side: str) -> DriverSpec:
    """Driver of an eye-look shape: ``"Out"``, ``"In"``, ``"Up"``, ``"Down"`` of eye ``"L"``/``"R"``.

    The left eye turns out (to the character's left) with +h and in with vergence; the right eye mirrors.
    """
    sign = "" if side == "L" else "-"
    turn = {"Out": f"{sign}gh-gc", "In": f"gc-{sign}gh" if sign == "" else "gc+gh",
            "Up": "gv", "Down": "-gv"}[direction]
    return _spec(f"max(0,min(1,{turn}))")


def gaze_direction_driver(direction: str) -> DriverSpec:
    """Driver of a both-eyes look shape (VRM ``lookUp``...): ``"up"``, ``"down"``, ``"left"``, ``"right"``."""
    value = {"up": "gv", "down": "-gv", "left": "gh", "right": "-gh"}[direction]
    return _spec(f"max(0,min(1,{value}))")


def with_lid_follow(spec: DriverSpec) -> DriverSpec:
    """A blink shape's driver plus ``LID_FOLLOW`` x the downward gaze (the upper lid follows the eye)."""
    expression = f"min(1,{spec.expression}+{LID_FOLLOW:g}*max(0,-gv))"
    return DriverSpec(expression, (*spec.variables, ("gv", GAZE_V_PROP)))


def jaw_side_driver(side: str, weight: float = 1.0) -> DriverSpec:
    """``jawLeft``/``jawRight`` (and ``mouthLeft``/``mouthRight`` at a lower weight) from ``jaw_sideways``."""
    sign = "" if side == "L" else "-"
    return DriverSpec(f"max(0,min(1,{weight:g}*{sign}js))", (("js", JAW_SIDE_PROP),))
