"""AU shape keys of the default head: recipes over CC0 face units, zone masks, exact lip closure (pure).

Each AU is a documented linear recipe of the ARKit-named CC0 face units on hm08 (``RECIPES``), multiplied by
its zone mask (``zones.zone_mask``). Sided AUs use the unit's Left/Right shapes; ARKit "Left" is the
character's left (+x), checked on the data (``eyeBlinkLeft`` moves the +x eye).

Mapping choices where public AU-to-ARKit tables disagree (DESIGN.md §3):

- **AU17 Chin Raiser** -> ``mouthShrugLower`` (pushes the chin boss and lower lip up), not ``mouthClose``.
- **AU23 Lip Tightener** -> 0.6 x MakeHuman ``mouth-compression`` + 0.25 x ``mouthRollUpper`` + 0.25 x
  ``mouthRollLower``: the lips narrow and thin without pressing (ARKit has no tightener; ``mouthPress`` is
  kept for AU24 so the two stay distinguishable).
- **AU24 Lip Pressor** -> ``mouthPressLeft/Right`` plus an exact closure field: at AU24 = 1 the upper and
  lower lip edges (the lip contact ring) meet on their common mid curve, so the lips close with no gap
  and no interpenetration whatever the rest pose (``closure_field``).
- **AU25 Lips Part** -> -0.3 x ``mouthClose`` (the inverse of mouthClose: the lips separate, the jaw stays).
- **AU26 Jaw Drop** -> 0.6 x ``jawOpen``; **AU27 Mouth Stretch** -> ``jawOpen`` + 0.3 x ``mouthStretch``.
- **AU28 Lip Suck** -> ``mouthRollUpper`` + ``mouthRollLower``.
- **AU43 Eyes Closed** and **AU45 Blink** -> ``eyeBlinkLeft/Right`` (same shape; they differ in timing).

Amplitudes at 1.0 (FACS "maximum" intensity, measured on the landmarks by ``rigs.emotion_metrics``): the CC0
units are conservative, so the upper-face and blend AUs that carry the emotions are scaled to what FACS
describes at E intensity, each checked for tearing and interpenetration (``tests/pure/test_rig_emotions.py``):

- **AU01** 1.8 x ``browInnerUp``: inner brows up ~7.5 mm (the unit alone gave 4 mm, barely visible).
- **AU02** 1.4 x ``browOuterUp``: outer brows up ~9 mm.
- **AU04** 1.2 x ``browDown``: brows down 4-6.5 mm and drawn together ~8 mm (knitting); 1.3 folded upper-lid
  faces over under anger (with AU07).
- **AU06** 1.4 x ``cheekSquint`` (masked to the cheek: ``TERM_MASK_ZONE``) + 0.8 x ``eyeSquint``: the cheek
  rises and pushes the lower lid up, so the eye narrows (~2.4 mm); ``cheekSquint`` alone barely touches the
  lid, and unmasked near the eye it folds faces at the lateral canthus. AU06 keeps its blend-zone *rule* (a
  speech/expression mix) but is *masked* like an upper AU (``MASK_ZONE``: 1 - mouth weight), because the
  lower lid it narrows lies in the upper zone; it never touches the lips.
- **AU09** 1.5 x ``noseSneer``: nose wrinkle with the medial brow drop FACS lists for it.
- **AU15** 1.3 x ``mouthFrown``: mouth corners down ~6.5 mm.
"""

from __future__ import annotations

import numpy as np

from au_contract import ACTION_UNITS, AU_BY_CODE

from ..naming import shape_key_names
from .head_source import HeadSource
from .topology import graph_distance
from .zones import side_weights, smoothstep, zone_mask

#: AU -> [(unit name, coefficient)]; "{S}" is replaced by Left/Right for sided AUs.
RECIPES: dict[str, list[tuple[str, float]]] = {
    "AU01": [("browInnerUp", 1.8)],
    "AU02": [("browOuterUp{S}", 1.4)],
    "AU04": [("browDown{S}", 1.2)],
    "AU05": [("eyeWide{S}", 1.0)],
    "AU06": [("cheekSquint{S}", 1.4), ("eyeSquint{S}", 0.8)],
    "AU07": [("eyeSquint{S}", 1.0)],
    "AU09": [("noseSneer{S}", 1.5)],
    "AU10": [("mouthUpperUp{S}", 1.0)],
    "AU12": [("mouthSmile{S}", 1.0)],
    "AU14": [("mouthDimple{S}", 1.0)],
    "AU15": [("mouthFrown{S}", 1.3)],
    "AU16": [("mouthLowerDown{S}", 1.0)],
    "AU17": [("mouthShrugLower", 1.0)],
    "AU18": [("mouthPucker", 1.0)],
    "AU20": [("mouthStretch{S}", 1.0)],
    "AU22": [("mouthFunnel", 1.0)],
    "AU23": [("mouth-compression", 0.6), ("mouthRollUpper", 0.25), ("mouthRollLower", 0.25)],
    "AU24": [("mouthPress{S}", 1.0)],
    "AU25": [("mouthClose", -0.3)],
    "AU26": [("jawOpen", 0.6)],
    "AU27": [("jawOpen", 1.0), ("mouthStretchLeft", 0.3), ("mouthStretchRight", 0.3)],
    "AU28": [("mouthRollUpper", 1.0), ("mouthRollLower", 1.0)],
    "AU43": [("eyeBlink{S}", 1.0)],
    "AU45": [("eyeBlink{S}", 1.0)],
}
#: AUs masked like another zone than their rule zone (see the module docstring): AU06 acts on the lower lid.
MASK_ZONE: dict[str, str] = {"AU06": "U"}
#: Recipe terms additionally masked by another zone's mask: (AU, unit name) -> zone.
TERM_MASK_ZONE: dict[tuple[str, str], str] = {("AU06", "cheekSquint{S}"): "B"}
#: Blend-zone AUs that move the lips without opening or closing them: on the lip contact ring their upper and
#: lower edges move together (the unit's differential part is removed with the linearised closure correction,
#: faded over ``CLOSURE_RADIUS``), so an emotion's smile, dimple or frown never breaks an AU24 closure.
COMMON_MODE_AUS: tuple[str, ...] = ("AU12", "AU14", "AU15")
#: Width (dm) of the left/right crossover of split shape keys (AU24's closure field).
SIDE_BLEND = 0.08
#: Radius (dm) over which the closure correction of the lip edge fades into the lips.
CLOSURE_RADIUS = 0.09


def _unit(src: HeadSource, name: str) -> np.ndarray:
    if name in src.units:
        return src.units[name]
    return src.extra_units[name]


def mask_zone(code: str) -> str:
    """The zone whose mask (``zones.zone_mask``) an AU's shape keys are multiplied by: its own, or
    ``MASK_ZONE``'s."""
    return MASK_ZONE.get(code, AU_BY_CODE[code].zone)


def recipe_delta(src: HeadSource, code: str, side: str | None,
                 zone_weights: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Displacement [V, 3] (dm) of one AU (one side for sided AUs) from ``RECIPES``, before the AU's own zone
    mask; with ``zone_weights`` the terms of ``TERM_MASK_ZONE`` get their extra mask."""
    word = {"L": "Left", "R": "Right", None: ""}[side]
    out = np.zeros_like(src.verts)
    for name, coeff in RECIPES[code]:
        term = coeff * _unit(src, name.replace("{S}", word))
        zone = TERM_MASK_ZONE.get((code, name))
        if zone is not None and zone_weights is not None:
            term = term * zone_mask(zone, zone_weights)[:, None]
        out += term
    return out


def _arc_yz(verts: np.ndarray, arc: list[int], x: np.ndarray) -> np.ndarray:
    """(y, z) of an arc interpolated at lateral positions x. Returns [N, 2]."""
    a = np.asarray(arc)
    order = np.argsort(verts[a, 0], kind="stable")
    xs = verts[a[order], 0]
    return np.stack([np.interp(x, xs, verts[a[order], 1]), np.interp(x, xs, verts[a[order], 2])], axis=1)


def closure_field(src: HeadSource, posed: np.ndarray) -> np.ndarray:
    """Displacement [V, 3] that closes the lips of the pose ``posed`` [V, 3] exactly.

    The lip ring's upper arc and lower arc are both moved (in y and z, x kept) onto their mid curve
    ``0.5 * (upper(x) + lower(x))``; skin and mouth-bag vertices follow the correction of the arc nearest
    to them through the mesh, faded over ``CLOSURE_RADIUS`` so the lips move as a whole and keep their order.
    """
    ring = src.lip_ring
    out = np.zeros_like(posed)
    corr: dict[str, np.ndarray] = {}
    # The mid curve is piecewise linear over the coarser arc's x positions, so the vertices of the finer arc
    # land exactly on the coarser arc's polyline (no chord gap between the two lip edges).
    coarse = np.asarray(min(ring.upper, ring.lower, key=len))
    xc = posed[coarse, 0]
    order_c = np.argsort(xc, kind="stable")
    mid_c = 0.5 * (_arc_yz(posed, ring.upper, xc) + _arc_yz(posed, ring.lower, xc))[order_c]
    for name, arc in (("upper", ring.upper), ("lower", ring.lower)):
        a = np.asarray(arc)
        x = posed[a, 0]
        mid = np.stack([np.interp(x, xc[order_c], mid_c[:, k]) for k in (0, 1)], axis=1)
        corr[name] = mid - posed[a, 1:3]
        out[a, 1:3] = corr[name]
    body = src.body_mask
    label = np.full(len(posed), -1)
    d_up = graph_distance(src.topo, ring.upper[1:-1], body)
    d_lo = graph_distance(src.topo, ring.lower[1:-1], body)
    label = np.where((d_up >= 0) & ((d_lo < 0) | (d_up <= d_lo)), 0, 1)
    ring_set = np.zeros(len(posed), dtype=bool)
    ring_set[ring.vertices] = True
    for lab, name, arc in ((0, "upper", ring.upper), (1, "lower", ring.lower)):
        sel = np.nonzero(body & ~ring_set & (label == lab))[0]
        a = np.asarray(arc)
        order = np.argsort(posed[a, 0], kind="stable")
        xs = posed[a[order], 0]
        dist = np.min(np.linalg.norm(posed[sel][:, None, :] - posed[a][None, :, :], axis=2), axis=1)
        fade = 1.0 - smoothstep(0.0, CLOSURE_RADIUS, dist)
        for k in (0, 1):
            c = np.interp(posed[sel, 0], xs, corr[name][order, k])
            out[sel, 1 + k] = c * fade
    return out


def au_deltas(src: HeadSource, zone_weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Masked displacement [V, 3] (dm, MakeHuman axes) of every AU shape key, by shape-key name."""
    out: dict[str, np.ndarray] = {}
    rest_closure = closure_field(src, src.verts)
    for au in ACTION_UNITS:
        mask = zone_mask(mask_zone(au.code), zone_weights)[:, None]
        if au.code == "AU24":
            press = (recipe_delta(src, "AU24", "L") + recipe_delta(src, "AU24", "R")) * mask
            full = press + closure_field(src, src.verts + press)
            sides = side_weights(src.verts[:, 0], SIDE_BLEND)
            for name, lr in zip(shape_key_names("AU24"), ("L", "R"), strict=True):
                out[name] = full * sides[lr][:, None]
            continue
        names = shape_key_names(au.code)
        sides_of: tuple[str | None, ...] = ("L", "R") if AU_BY_CODE[au.code].sided else (None,)
        for name, side in zip(names, sides_of, strict=True):
            delta = recipe_delta(src, au.code, side, zone_weights) * mask
            if au.code in COMMON_MODE_AUS:
                delta = delta + closure_field(src, src.verts + delta) - rest_closure
            out[name] = delta
    return out
