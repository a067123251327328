"""Viseme weights solved from the AU tracks, as simple driver expressions (pure, no bpy).

The acoustic model's mouth AUs are linear in seven articulatory parameters (``model_server.coarticulation``:
AU24 = 0.8 x closure, AU28 = 0.6 x labiodental contact, AU18/AU22 = rounding/funnel, AU20 = 0.6 x spread,
AU26 = jaw, AU25 = lip separation), so the parameters come back as clamped linear maps of the AUs:

- ``P`` (lips closed, p b m) = clamp(5 x AU24 - 1): 0 below AU24 = 0.2, 1 from 0.4 on (a bilabial's AU24 is
  0.4-0.8; on the real-voice demo clip 4 x AU24 - 1 made PP win at only 55 % of the labelled p/b/m middles);
- ``F`` (lower lip on the teeth, f v) = clamp(3 x AU28 - 0.6);
- ``R`` (rounded) = clamp(1.6 x max(AU18, AU22)); ``J`` (jaw open) = clamp(2.5 x AU26 - 0.5);
- ``S`` (spread) = clamp(3 x AU20 - 0.45); ``A`` (lips apart) = clamp(5 x AU25).

A soft decision tree over those gates gives nine leaf weights that always sum to 1 (so one viseme dominates
wherever the gates are decisive, and they blend smoothly as the AU curves move, never held):

    PP = P                          FF = (1-P) F                    r = (1-P)(1-F)
    U  = r R (1-J)                  O  = r R J
    aa = r (1-R) J (1-S)            E  = r (1-R) J S                I = r (1-R)(1-J) S
    DD = r (1-R)(1-J)(1-S) A        sil = r (1-R)(1-J)(1-S)(1-A)

A closure wins over everything (``P`` first), so /p b m/ land on the closed-lip viseme. Each vendor viseme is
a weighted sum of leaves (``VISEME_SETS``); a leaf feeds at most one viseme of a set, so a set's weights also
sum to at most 1. Visemes that need the tongue (TH, kk, nn, SS, CH, RR, Preston Blair's H) cannot be told
from lip AUs; they stay at rest until the server sends phone classes, and the report says so.
"""

from __future__ import annotations

from au_contract.zone_rules import DriverSpec, evaluate

#: Gate expressions over the AU variables (``a24`` is AU24 ...).
GATES: dict[str, str] = {
    "P": "min(1,max(0,5*a24-1))",
    "F": "min(1,max(0,3*a28-0.6))",
    "R": "min(1,1.6*max(a18,a22))",
    "J": "min(1,max(0,2.5*a26-0.5))",
    "S": "min(1,max(0,3*a20-0.45))",
    "A": "min(1,5*a25)",
}
#: Leaves as products of gate factors: ``"P"`` is the gate, ``"~P"`` is ``1 - P``.
LEAVES: dict[str, tuple[str, ...]] = {
    "PP": ("P",),
    "FF": ("~P", "F"),
    "U": ("~P", "~F", "R", "~J"),
    "O": ("~P", "~F", "R", "J"),
    "aa": ("~P", "~F", "~R", "J", "~S"),
    "E": ("~P", "~F", "~R", "J", "S"),
    "I": ("~P", "~F", "~R", "~J", "S"),
    "DD": ("~P", "~F", "~R", "~J", "~S", "A"),
    "sil": ("~P", "~F", "~R", "~J", "~S", "~A"),
}
_AU_VARS = ("a18", "a20", "a22", "a24", "a25", "a26", "a27", "a28")

_TONGUE = "a tongue viseme: lip AUs cannot tell it apart; it waits for phone classes from the server"
_SAME = "a second viseme of the same mouth shape; {} carries it"

#: Vendor viseme -> {leaf: weight}, or a reason string for a viseme left at rest.
VISEME_SETS: dict[str, dict[str, dict[str, float] | str]] = {
    "oculus": {
        "sil": {"sil": 1.0}, "PP": {"PP": 1.0}, "FF": {"FF": 1.0}, "DD": {"DD": 1.0}, "aa": {"aa": 1.0},
        "E": {"E": 1.0}, "I": {"I": 1.0}, "O": {"O": 1.0}, "U": {"U": 1.0},
        "TH": _TONGUE, "kk": _TONGUE, "CH": _TONGUE, "SS": _TONGUE, "nn": _TONGUE, "RR": _TONGUE,
    },
    "preston_blair": {
        "A": {"PP": 1.0}, "B": {"I": 1.0, "DD": 1.0}, "C": {"E": 1.0}, "D": {"aa": 1.0}, "E": {"O": 1.0},
        "F": {"U": 1.0}, "G": {"FF": 1.0}, "X": {"sil": 1.0}, "H": _TONGUE,
    },
    "vrm": {"aa": {"aa": 1.0}, "ih": {"I": 1.0}, "ou": {"U": 1.0}, "ee": {"E": 1.0}, "oh": {"O": 1.0}},
    "daz": {
        "M": {"PP": 1.0}, "F": {"FF": 1.0}, "AA": {"aa": 1.0}, "EH": {"E": 1.0}, "IY": {"I": 1.0},
        "OW": {"O": 1.0}, "UW": {"U": 1.0}, "T": {"DD": 1.0},
        "AW": _SAME.format("AA"), "EE": _SAME.format("IY"), "ER": _SAME.format("OW"),
        "IH": _SAME.format("IY"), "W": _SAME.format("UW"), "G": _TONGUE, "K": _TONGUE, "L": _TONGUE,
        "S": _TONGUE, "SH": _TONGUE, "TH": _TONGUE,
    },
}


def _factor(f: str) -> str:
    return f"(1-{GATES[f[1:]]})" if f.startswith("~") else GATES[f]


def leaf_expression(leaf: str) -> str:
    """The expression of one leaf weight (0..1) over the AU variables ``a18`` ... ``a28``.

    Raises:
        KeyError: for an unknown leaf.
    """
    return "*".join(_factor(f) for f in LEAVES[leaf])


def viseme_driver(leaves: dict[str, float]) -> DriverSpec:
    """Driver of one vendor viseme: ``min(1, sum w x leaf)``.

    Raises:
        ValueError: if the expression exceeds Blender's 255 characters (more than one long leaf).
    """
    names = sorted(leaves)
    common = [f for f in LEAVES[names[0]] if all(f in LEAVES[n] for n in names)]
    parts = []
    for leaf in names:
        rest = "*".join(_factor(f) for f in LEAVES[leaf] if f not in common) or "1"
        parts.append(rest if leaves[leaf] == 1.0 else f"{leaves[leaf]:.4g}*{rest}")
    head = "*".join(_factor(f) for f in common)
    if len(parts) == 1:
        expression = head if parts[0] == "1" else (f"{head}*{parts[0]}" if head else parts[0])
    else:  # leaves sharing the common factors: common * (sum of the rest), clamped
        expression = "min(1," + (f"{head}*" if head else "") + "(" + "+".join(parts) + "))"
    if len(expression) > 255:
        raise ValueError(f"viseme expression too long ({len(expression)} chars): {expression}")
    used = sorted(v for v in _AU_VARS if v in expression)
    return DriverSpec(expression, tuple((v, "AU" + v[1:]) for v in used))


def viseme_role(set_name: str, viseme: str) -> dict[str, float] | str:
    """Leaf weights of ``<set>:<viseme>``, or the reason it stays at rest.

    Raises:
        KeyError: for an unknown set or viseme.
    """
    return VISEME_SETS[set_name][viseme]


def solve(aus: dict[str, float]) -> dict[str, float]:
    """Leaf weights for one frame of AU values (``{"AU24": 0.7, ...}``); they sum to 1. For tests/previews."""
    return {leaf: evaluate(DriverSpec(leaf_expression(leaf), tuple((v, "AU" + v[1:]) for v in _AU_VARS)), aus)
            for leaf in LEAVES}
