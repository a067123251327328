"""How strongly each emotion reads on the default head: landmark measures through the zone rules (pure).

The face is posed exactly as the rig's drivers pose it: every shape key's value is its zone-rule driver
(``zone_rules.shape_key_driver``) evaluated on the control-object properties (AU props, emotion props,
blend weight, prosody cap), and the mesh is ``rest + sum value * delta``. The server evaluates the same
rules with numpy (``zone_rules.evaluate_rules``), so these millimetres are also what
``predict --emotion`` puts in the landmarks. Measures are taken on the 68 iBUG
landmark vertices (Blender axes: +x = character's left, +z up, face towards -y), in millimetres, as the
change from the neutral face:

- ``corner_raise``: mean rise of the mouth corners (48, 54);
- ``corner_spread``: widening of the mouth (distance 48-54);
- ``inner_brow_raise`` / ``outer_brow_raise``: mean rise of the inner (21, 22) / outer (17, 26) brow points;
- ``brow_knit``: how much closer the inner brow points come (distance 21-22);
- ``eye_aperture``: change of the mean lid opening (37-41, 38-40, 43-47, 44-46; negative = narrower);
- ``jaw_drop``: fall of the chin (8); ``upper_lip_raise``: rise of the upper lip centre (51);
- ``nose_wrinkle``: rise of the nostril wings (31, 35).

Used by ``tests/pure/test_rig_emotions.py`` (a regression to faint emotions fails) and by
``python -m rigs.head_build.emotion_metrics`` (prints the table).
"""

from __future__ import annotations

import numpy as np

from au_contract import (
    ACTION_UNITS,
    BLEND_WEIGHT_DEFAULT,
    BLEND_WEIGHT_PROP,
    EMOTION_PROPS,
    PROSODY_CAP_DEFAULT,
    PROSODY_CAP_PROP,
)
from au_contract.zone_rules import evaluate, shape_key_driver

from ..naming import shape_key_names, split_shape_key_name
from .default_head import HeadData

MEASURES: tuple[str, ...] = ("corner_raise", "corner_spread", "inner_brow_raise", "outer_brow_raise",
                             "brow_knit", "eye_aperture", "jaw_drop", "upper_lip_raise", "nose_wrinkle")
_LID_PAIRS = ((37, 41), (38, 40), (43, 47), (44, 46))


def control_props(emotion: str | None = None, strength: float = 1.0, **aus: float) -> dict[str, float]:
    """Control-object properties with the defaults of a fresh rig, one emotion and optional AU values.

    Args:
        emotion: an emotion of ``EMOTION_PROPS`` (e.g. ``"HAPPINESS"``) or None.
        strength: the emotion property's value, 0..1.
        aus: AU code -> value (e.g. ``AU24=1.0``).
    """
    props = {BLEND_WEIGHT_PROP: BLEND_WEIGHT_DEFAULT, PROSODY_CAP_PROP: PROSODY_CAP_DEFAULT, **aus}
    if emotion is not None:
        props[EMOTION_PROPS[emotion]] = strength
    return props


def shape_key_values(props: dict[str, float]) -> dict[str, float]:
    """Value of every AU shape key of the default head, as its driver computes it from ``props``."""
    out = {}
    for au in ACTION_UNITS:
        for name in shape_key_names(au.code):
            _, side = split_shape_key_name(name)
            out[name] = evaluate(shape_key_driver(au.code, side), props)
    return out


def pose(head: HeadData, props: dict[str, float]) -> np.ndarray:
    """Posed vertex positions [V, 3] (m, float64) of ``head`` under control properties ``props``."""
    out = head.verts.astype(np.float64).copy()
    for name, value in shape_key_values(props).items():
        if value != 0.0:
            out += value * head.shape_deltas[name].astype(np.float64)
    return out


def _landmark_measures(lm: np.ndarray) -> dict[str, float]:
    """Absolute quantities (m) of one landmark set [68, 3] that the measures are differences of."""
    return {
        "corner_raise": float(lm[[48, 54], 2].mean()),
        "corner_spread": float(np.linalg.norm(lm[54] - lm[48])),
        "inner_brow_raise": float(lm[[21, 22], 2].mean()),
        "outer_brow_raise": float(lm[[17, 26], 2].mean()),
        "brow_knit": -float(np.linalg.norm(lm[22] - lm[21])),
        "eye_aperture": float(np.mean([lm[u, 2] - lm[lo, 2] for u, lo in _LID_PAIRS])),
        "jaw_drop": -float(lm[8, 2]),
        "upper_lip_raise": float(lm[51, 2]),
        "nose_wrinkle": float(lm[[31, 35], 2].mean()),
    }


def measure(head: HeadData, props: dict[str, float]) -> dict[str, float]:
    """Every measure of ``MEASURES`` (mm, change from the neutral face) under control properties ``props``."""
    rest = _landmark_measures(head.verts.astype(np.float64)[head.landmarks])
    posed = _landmark_measures(pose(head, props)[head.landmarks])
    return {k: 1000.0 * (posed[k] - rest[k]) for k in MEASURES}


def emotion_table(head: HeadData, strength: float = 1.0) -> dict[str, dict[str, float]]:
    """``measure`` for every emotion at ``strength`` with no speech: emotion -> measure -> mm."""
    return {e: measure(head, control_props(e, strength)) for e in EMOTION_PROPS}


def main() -> int:
    """Print the emotion table of the default head (CLI: ``python -m rigs.head_build.emotion_metrics``)."""
    from .default_head import build_head_data

    table = emotion_table(build_head_data())
    print(f"{'emotion':10s}" + "".join(f"{m:>17s}" for m in MEASURES))
    for e, row in table.items():
        print(f"{e:10s}" + "".join(f"{row[m]:17.2f}" for m in MEASURES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
