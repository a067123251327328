"""Vendor naming schemes of face shape keys, recognised out of the box (pure, no bpy).

Each set maps a vendor's spelling to a :class:`Role`: an ARKit-52 shape (the hub every expression set is
translated to, see ``rigs.arkit``), a viseme of a viseme set (``rigs.visemes``), a gaze direction, a few AUs
directly, or "at rest" with the reason. Matching is tolerant: namespaces (``blendShape1.``, ``Face|``),
case, separators, side spellings (``Left``/``_L``/``.l``) and common prefixes (CC3+ ``A25_``, Daz
``facs_bs_``/``facs_jnt_``/``facs_ctrl_`` and ``_div2``, ``Fcl_``, ``eCTRL``, ``mouth_``) are ignored.

Sets (public names; where a vendor's list is long only the face-animation morphs are listed):

- ``ARKit-52``: Apple's 52 blendshapes (also Ready Player Me, Daz Genesis 8.1/9 FACS morphs with the
  ``facs_*`` prefixes, CC3+ ``A01_Brow_Inner_Up`` ... ``A52_Tongue_Out``: the same names, prefixed).
- ``Character Creator``: CC4 Extended and CC3 standard expression morphs (``Brow_Raise_Inner_L``,
  ``Eye_L_Look_L``, ``Mouth_Smile_L``, ``Jaw_Open`` ...).
- ``Ready Player Me``: its extra morphs (``mouthOpen``, ``mouthSmile``, ``eyesClosed``, ``eyesLookUp``,
  ``eyesLookDown``) next to ARKit-52 and the Oculus visemes.
- ``VRM``: VRM 1.0 expression presets (``aa ih ou ee oh``, ``blink``, ``lookUp``, ``happy`` ...) and the VRM
  0.x presets (``A I U E O``, ``Blink_L``, ``Joy`` ...); ``VRoid``: VRoid Studio's ``Fcl_*`` morphs.
- ``Daz Genesis 8``: the ``eCTRL`` expression controls and visemes (``eCTRLvAA`` ... ``eCTRLvTH``).
- ``Oculus``: the 15 Oculus/Meta visemes ``viseme_sil`` ... ``viseme_U``.
- ``Preston Blair``: Rhubarb Lip Sync's mouth shapes ``A``-``H`` and ``X``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Literal

RoleKind = Literal["arkit", "viseme", "gaze", "aus", "rest"]


@dataclass(frozen=True)
class Role:
    """What a recognised shape key does.

    Attributes:
        kind: ``"arkit"`` (an ARKit-52 shape), ``"viseme"``, ``"gaze"``, ``"aus"`` or ``"rest"``.
        target: the ARKit name; ``"<viseme set>:<viseme>"``; a gaze direction (up/down/left/right); AU terms
            as ``"AU12*1,AU06*0.5"``; or, for ``"rest"``, why the shape stays at rest.
        side: ``"L"``/``"R"`` (the character's side) or None (both / unsided).
    """

    kind: RoleKind
    target: str
    side: str | None = None


@dataclass(frozen=True)
class NameSet:
    """One vendor naming scheme: the vendor's spelling -> role."""

    name: str
    roles: dict[str, Role]


_SIDES = (("L", "Left"), ("R", "Right"))


def _parse(table: str) -> dict[str, Role]:
    """Parse ``"Vendor_Name target"`` lines; ``{S}``/``{Side}`` expand to L/R and Left/Right.

    Targets: an ARKit name; ``vis:set:viseme``; ``gaze:dir``; ``au:AU12*1,AU06*0.5``; ``rest:reason``.
    """
    out: dict[str, Role] = {}
    for line in table.strip().splitlines():
        vendor, _, target = line.strip().partition(" ")
        target = target.strip()
        sided = "{S}" in vendor or "{Side}" in vendor
        for short, long in _SIDES if sided else (("", ""),):
            v = vendor.replace("{S}", short).replace("{Side}", long)
            t = target.replace("{S}", short).replace("{Side}", long)
            side = short or None
            kind, _, rest = t.partition(":")
            if kind == "vis":
                out[v] = Role("viseme", rest, side)
            elif kind in ("gaze", "au", "rest"):
                out[v] = Role("aus" if kind == "au" else kind, rest, side)  # type: ignore[arg-type]
            else:
                out[v] = Role("arkit", t, side if side else _arkit_side(t))
    return out


def _arkit_side(arkit: str) -> str | None:
    if arkit.endswith("Left"):
        return "L"
    if arkit.endswith("Right"):
        return "R"
    return None


ARKIT_52: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawLeft", "jawRight", "jawOpen", "mouthClose",
    "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)

_CHARACTER_CREATOR = """
Brow_Raise_Inner_{S} browInnerUp
Brow_Raise_Outer_{S} browOuterUp{Side}
Brow_Drop_{S} browDown{Side}
Brow_Compress_{S} au:AU04*0.5
Eye_Blink_{S} eyeBlink{Side}
Eye_Squint_{S} eyeSquint{Side}
Eye_Wide_{S} eyeWide{Side}
Eye_L_Look_L eyeLookOutLeft
Eye_L_Look_R eyeLookInLeft
Eye_L_Look_Up eyeLookUpLeft
Eye_L_Look_Down eyeLookDownLeft
Eye_R_Look_L eyeLookInRight
Eye_R_Look_R eyeLookOutRight
Eye_R_Look_Up eyeLookUpRight
Eye_R_Look_Down eyeLookDownRight
Cheek_Raise_{S} cheekSquint{Side}
Cheek_Puff_{S} cheekPuff
Cheek_Suck_{S} rest:no AU sucks the cheeks in
Nose_Sneer_{S} noseSneer{Side}
Nose_Nostril_Raise_{S} rest:Nose_Sneer carries the nose wrinkle (AU09)
Nose_Nostril_Dilate_{S} rest:no AU flares the nostrils
Nose_Crease_{S} rest:Nose_Sneer carries the nose wrinkle (AU09)
Mouth_Smile_{S} mouthSmile{Side}
Mouth_Smile_Sharp_{S} rest:Mouth_Smile carries the corner pull (AU12)
Mouth_Frown_{S} mouthFrown{Side}
Mouth_Stretch_{S} mouthStretch{Side}
Mouth_Dimple_{S} mouthDimple{Side}
Mouth_Press_{S} mouthPress{Side}
Mouth_Tighten_{S} au:AU23*1
Mouth_Blow_{S} rest:no AU blows air out
Mouth_Pucker_Up_{S} mouthPucker
Mouth_Pucker_Down_{S} mouthPucker
Mouth_Funnel_Up_{S} mouthFunnel
Mouth_Funnel_Down_{S} mouthFunnel
Mouth_Roll_In_Upper_{S} mouthRollUpper
Mouth_Roll_In_Lower_{S} mouthRollLower
Mouth_Roll_Out_Upper_{S} rest:no AU rolls the lips out
Mouth_Roll_Out_Lower_{S} rest:no AU rolls the lips out
Mouth_Push_Upper_{S} mouthShrugUpper
Mouth_Push_Lower_{S} mouthShrugLower
Mouth_Pull_Upper_{S} rest:no AU pulls the lips back
Mouth_Pull_Lower_{S} rest:no AU pulls the lips back
Mouth_Up_Upper_{S} mouthUpperUp{Side}
Mouth_Down_Lower_{S} mouthLowerDown{Side}
Mouth_Up rest:no AU moves the whole mouth up
Mouth_Down rest:no AU moves the whole mouth down
Mouth_{S} mouth{Side}
Mouth_Shrug_Upper mouthShrugUpper
Mouth_Shrug_Lower mouthShrugLower
Mouth_Close mouthClose
Mouth_Contract rest:Mouth_Pucker carries the lip pucker (AU18)
Jaw_Open jawOpen
Jaw_Forward jawForward
Jaw_Backward rest:no AU pulls the jaw back
Jaw_{S} jaw{Side}
Jaw_Up rest:Mouth_Close keeps the lips together
Tongue_Out tongueOut
Eye_Blink au:AU45*1,AU43*1
Mouth_Smile au:AU12*1
Mouth_Frown au:AU15*1
Mouth_Pucker mouthPucker
Mouth_Widen au:AU20*1
Mouth_Lips_Part au:AU25*1
Mouth_Lips_Tight au:AU23*1
Mouth_Bottom_Lip_Down au:AU16*1
Mouth_Top_Lip_Up au:AU10*1
Nose_Scrunch au:AU09*1
Brow_Raise_{S} au:AU02*1
"""

_READY_PLAYER_ME = """
mouthOpen au:AU26*0.6,AU27*1
mouthSmile au:AU12*1
eyesClosed au:AU45*1,AU43*1
eyesLookUp gaze:up
eyesLookDown gaze:down
"""

_OCULUS = "\n".join(f"viseme_{v} vis:oculus:{v}" for v in
                    ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U"))
_PRESTON_BLAIR = "\n".join(f"{v} vis:preston_blair:{v}" for v in "ABCDEFGHX")

_VRM = """
aa vis:vrm:aa
ih vis:vrm:ih
ou vis:vrm:ou
ee vis:vrm:ee
oh vis:vrm:oh
A vis:vrm:aa
I vis:vrm:ih
U vis:vrm:ou
E vis:vrm:ee
O vis:vrm:oh
blink au:AU45*1,AU43*1
blink{Side} eyeBlink{Side}
Blink_{S} eyeBlink{Side}
lookUp gaze:up
lookDown gaze:down
lookLeft gaze:left
lookRight gaze:right
happy au:AU12*1
Joy au:AU12*1
Fun au:AU06*1
angry au:AU04*1
sad au:AU15*1
Sorrow au:AU15*1
surprised au:AU05*1
relaxed rest:no AU makes a relaxed face
neutral rest:the rest pose is neutral
"""

_VROID = """
Fcl_MTH_A vis:vrm:aa
Fcl_MTH_I vis:vrm:ih
Fcl_MTH_U vis:vrm:ou
Fcl_MTH_E vis:vrm:ee
Fcl_MTH_O vis:vrm:oh
Fcl_EYE_Close au:AU45*1,AU43*1
Fcl_EYE_Close_{S} eyeBlink{Side}
Fcl_EYE_Surprised au:AU05*1
Fcl_EYE_Angry au:AU07*1
Fcl_EYE_Joy au:AU06*1
Fcl_EYE_Joy_{S} cheekSquint{Side}
Fcl_EYE_Spread rest:Fcl_EYE_Surprised carries the lid raise (AU05)
Fcl_EYE_Fun rest:Fcl_EYE_Joy carries the cheek raise (AU06)
Fcl_EYE_Sorrow rest:Fcl_BRW_Sorrow carries the inner brow raise (AU01)
Fcl_EYE_Natural rest:the rest pose is neutral
Fcl_EYE_Iris_Hide rest:an iris switch, not an expression
Fcl_EYE_Highlight_Hide rest:a highlight switch, not an expression
Fcl_BRW_Angry au:AU04*1
Fcl_BRW_Sorrow au:AU01*1
Fcl_BRW_Surprised au:AU02*1
Fcl_BRW_Joy rest:Fcl_EYE_Joy carries joy
Fcl_BRW_Fun rest:Fcl_EYE_Joy carries joy
Fcl_MTH_Joy au:AU12*1
Fcl_MTH_Fun rest:Fcl_MTH_Joy carries the smile (AU12)
Fcl_MTH_Sorrow au:AU15*1
Fcl_MTH_Angry rest:the mouth follows speech (Fcl_BRW_Angry shows anger)
Fcl_MTH_Surprised rest:the mouth follows speech (the visemes open it)
Fcl_MTH_Close rest:the visemes close the mouth
Fcl_MTH_Up rest:no AU moves the whole mouth up
Fcl_MTH_Down rest:no AU moves the whole mouth down
Fcl_MTH_Neutral rest:the rest pose is neutral
Fcl_MTH_Small au:AU18*1
Fcl_MTH_Large rest:the visemes open the mouth
Fcl_ALL_Neutral rest:a whole-face preset; its brow, eye and mouth parts are driven
Fcl_ALL_Angry rest:a whole-face preset; its brow, eye and mouth parts are driven
Fcl_ALL_Fun rest:a whole-face preset; its brow, eye and mouth parts are driven
Fcl_ALL_Joy rest:a whole-face preset; its brow, eye and mouth parts are driven
Fcl_ALL_Sorrow rest:a whole-face preset; its brow, eye and mouth parts are driven
Fcl_ALL_Surprised rest:a whole-face preset; its brow, eye and mouth parts are driven
"""

_DAZ_G8 = """
eCTRLEyesClosed au:AU45*1,AU43*1
eCTRLEyesClosed{S} eyeBlink{Side}
eCTRLMouthOpen au:AU26*0.6,AU27*1
eCTRLMouthSmile au:AU12*1
eCTRLMouthFrown au:AU15*1
eCTRLLipsPart au:AU25*1
eCTRLBrowInnerUp au:AU01*1
eCTRLEyesSquint au:AU07*1
""" + "\n".join(f"eCTRLv{v} vis:daz:{v}" for v in
                ("AA", "AW", "EE", "EH", "ER", "F", "G", "IH", "IY", "K", "L", "M", "OW", "S", "SH", "T",
                 "TH", "UW", "W"))

NAME_SETS: tuple[NameSet, ...] = (
    NameSet("ARKit-52", {n: Role("arkit", n, _arkit_side(n)) for n in ARKIT_52}),
    NameSet("Character Creator", _parse(_CHARACTER_CREATOR)),
    NameSet("Ready Player Me", _parse(_READY_PLAYER_ME)),
    NameSet("Oculus visemes", _parse(_OCULUS)),
    NameSet("VRM", _parse(_VRM)),
    NameSet("VRoid", _parse(_VROID)),
    NameSet("Daz Genesis 8", _parse(_DAZ_G8)),
    NameSet("Preston Blair", _parse(_PRESTON_BLAIR)),
)
SET_BY_NAME: dict[str, NameSet] = {s.name: s for s in NAME_SETS}

#: Prefixes removed (one after another) when a name does not match as it is.
_PREFIXES = re.compile(r"^(a\d\d|facs_?(bs|jnt|ctrl)|blend_?shape\d*|arkit|bs|facs|shape|key|mouth|morph|"
                       r"head|face)[_\-\s]*", re.IGNORECASE)
_NAMESPACE = re.compile(r"^.*[:|/]|^[^.]*\.(?=[^.]{2,})")
_SUFFIXES = re.compile(r"(_div\d|_?\d{3})$", re.IGNORECASE)


def canonical(name: str) -> str:
    """Key of a name: lower-case alphanumerics with the side as a final ``l``/``r``.

    ``"eyeBlinkLeft"``, ``"eyeBlink_L"`` and ``"EYE_BLINK.l"`` all give ``"eyeblinkl"``.
    """
    s = re.sub(r"(?i)(left|right)$", lambda m: "_" + m.group(1)[0], name.strip())
    return re.sub(r"[^a-z0-9]", "", s.lower())


def _variants(name: str) -> list[str]:
    """The name, then the name without namespace, prefixes and suffixes, as canonical keys."""
    out = [canonical(name)]
    s = _NAMESPACE.sub("", name.strip())
    for _ in range(3):
        out.append(canonical(s))
        t = _SUFFIXES.sub("", s)
        out.append(canonical(t))
        t = _PREFIXES.sub("", t)
        if t == s or not t:
            break
        s = t
    out.append(canonical(s))
    return list(dict.fromkeys(k for k in out if k))


#: Shortest canonical key matched as the ending of a longer name.
_MIN_SUFFIX = 6
_INDEX: dict[str, list[tuple[str, str, Role]]] = {}
for _set in NAME_SETS:
    for _vendor, _role in _set.roles.items():
        _INDEX.setdefault(canonical(_vendor), []).append((_set.name, _vendor, _role))


@dataclass
class Recognition:
    """How a character's shape keys were recognised.

    Attributes:
        roles: shape-key name -> (name set, vendor spelling, role) for every recognised key.
        sets: name set -> number of keys recognised from it (the sets the character uses).
        unknown: shape-key names no set knows -> a suggestion ("" when nothing is close).
    """

    roles: dict[str, tuple[str, str, Role]] = field(default_factory=dict)
    sets: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)


def recognise(names: list[str]) -> Recognition:
    """Recognise each name; a name several sets know goes to the set that recognises the most names.

    Single letters (VRM 0.x ``A I U E O`` against Preston Blair ``A``-``H``) are told apart that way.
    """
    hits: dict[str, list[tuple[str, str, Role]]] = {}
    exact: dict[str, set[str]] = {}
    for name in names:
        bare = _NAMESPACE.sub("", name.strip())
        exact[name] = {s.name for s in NAME_SETS if name in s.roles or bare in s.roles}
        for key in _variants(name):
            if key in _INDEX:
                hits[name] = _INDEX[key]
                break
        else:  # an exporter's mesh or figure prefix ("M_F00_000_00_Fcl_MTH_A"): the longest known ending
            full = canonical(name)
            ends = [k for k in _INDEX if len(k) >= _MIN_SUFFIX and full.endswith(k)]
            if ends:
                hits[name] = _INDEX[max(ends, key=len)]
    counts: dict[str, int] = {}
    for cands in hits.values():
        for set_name in {c[0] for c in cands}:
            counts[set_name] = counts.get(set_name, 0) + 1
    order = [s.name for s in NAME_SETS]
    out = Recognition()
    for name in names:
        found = hits.get(name)
        if not found:
            out.unknown[name] = suggest(name)
            continue
        best = max(found, key=lambda c: (c[0] in exact[name], counts[c[0]], -order.index(c[0])))
        out.roles[name] = best
        out.sets[best[0]] = out.sets.get(best[0], 0) + 1
    return out


def suggest(name: str) -> str:
    """The closest known vendor spelling to an unknown name, or "" when none is close."""
    best, best_ratio = "", 0.75
    for variant in _variants(name):
        for key in difflib.get_close_matches(variant, list(_INDEX), n=1, cutoff=best_ratio):
            ratio = difflib.SequenceMatcher(None, variant, key).ratio()
            if ratio > best_ratio or not best:
                best, best_ratio = key, ratio
    if not best:
        return ""
    set_name, vendor, _ = _INDEX[best][0]
    return f"{vendor} ({set_name})"
