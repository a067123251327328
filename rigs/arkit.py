"""ARKit-52 names, tolerant matching of a user's shape-key names, and AU -> target maps (pure).

``AU_TO_ARKIT`` is how the adapter drives a character that carries ARKit blendshapes. It follows
``au_shapes.RECIPES`` (the default head is built from ARKit-named units) except where a recipe uses a
non-ARKit unit: AU23 Lip Tightener -> 0.4 x ``mouthRollUpper`` + 0.4 x ``mouthRollLower``; AU24 Lip Pressor
-> ``mouthPress``; AU25 Lips Part -> 0.35 x ``mouthLowerDown`` + 0.2 x ``mouthUpperUp`` (ARKit's
``mouthClose`` only makes sense on top of ``jawOpen``, so its inverse is expressed with the lip shapes).

Lip closure on a user's character: speech keeps some jaw drop on fast bilabials (AU26 ~0.4 while AU24 is
~0.75), so driving ``jawOpen`` from AU26 alone leaves the lips apart on /p/ /b/ /m/. A character with
``mouthClose`` gets it driven as ``jawOpen x closure gate`` (``character_rules.closure_driver``: the lips
meet against the jaw, as ARKit intends); a character without one (or a custom map) gets its opening AUs
(AU16, AU25, AU26, AU27) gated by the closure AUs instead (``TargetMap.gate_opening``), so the jaw shuts.

A custom map is JSON, AU first: ``{"AU12": {"Smile_L": 1.0, "Smile_R": 1.0}, "AU26": "JawOpen",
"AU45": ["Blink_L", "Blink_R"]}`` (a name, a list of names at weight 1, or names with weights), optionally
wrapped as ``{"schema": "au-map/1", "map": {...}}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from au_contract import AU_BY_CODE, AU_CODES

from . import name_sets
from .errors import MappingError

MAP_SCHEMA = "au-map/1"
#: Custom property on a mesh object holding the mapping editor's weights (au-map/1 JSON text); Adapt
#: Character applies them on top of the recognised name sets (``rigs.mapping.plan_character(edits=...)``).
MAP_PROP = "au_talking_head_map"

#: The 52 ARKit names (defined once, in ``rigs.name_sets``).
ARKIT_52: tuple[str, ...] = name_sets.ARKIT_52

#: AU -> [(ARKit name, weight)]; "{S}" expands to Left and Right.
AU_TO_ARKIT: dict[str, list[tuple[str, float]]] = {
    "AU01": [("browInnerUp", 1.0)], "AU02": [("browOuterUp{S}", 1.0)], "AU04": [("browDown{S}", 1.0)],
    "AU05": [("eyeWide{S}", 1.0)], "AU06": [("cheekSquint{S}", 1.0)], "AU07": [("eyeSquint{S}", 1.0)],
    "AU09": [("noseSneer{S}", 1.0)], "AU10": [("mouthUpperUp{S}", 1.0)], "AU12": [("mouthSmile{S}", 1.0)],
    "AU14": [("mouthDimple{S}", 1.0)], "AU15": [("mouthFrown{S}", 1.0)], "AU16": [("mouthLowerDown{S}", 1.0)],
    "AU17": [("mouthShrugLower", 1.0)], "AU18": [("mouthPucker", 1.0)], "AU20": [("mouthStretch{S}", 1.0)],
    "AU22": [("mouthFunnel", 1.0)], "AU23": [("mouthRollUpper", 0.4), ("mouthRollLower", 0.4)],
    "AU24": [("mouthPress{S}", 1.0)], "AU25": [("mouthLowerDown{S}", 0.35), ("mouthUpperUp{S}", 0.2)],
    "AU26": [("jawOpen", 0.6)], "AU27": [("jawOpen", 1.0), ("mouthStretch{S}", 0.3)],
    "AU28": [("mouthRollUpper", 1.0), ("mouthRollLower", 1.0)], "AU43": [("eyeBlink{S}", 1.0)],
    "AU45": [("eyeBlink{S}", 1.0)],
}

#: ARKit shapes no contract AU is named after, driven from the AUs where that is sensible (AU -> weight):
#: the jaw slides forward as it opens wide (condylar translation in AU27), the upper lip follows the chin
#: raiser's push (AU17), and the cheeks fill a little while the lips press before a plosive (AU24).
ARKIT_EXTRA: dict[str, dict[str, float]] = {
    "jawForward": {"AU27": 0.5}, "mouthShrugUpper": {"AU17": 0.5}, "cheekPuff": {"AU24": 0.15},
}


def arkit_weights() -> dict[str, dict[str, float]]:
    """ARKit name -> {AU code: weight} of each AU-driven ARKit shape (``AU_TO_ARKIT``, ``ARKIT_EXTRA``)."""
    out: dict[str, dict[str, float]] = {}
    for code, targets in AU_TO_ARKIT.items():
        for pattern, weight in targets:
            for side in ("Left", "Right") if "{S}" in pattern else ("",):
                out.setdefault(pattern.replace("{S}", side), {})[code] = weight
    for name, weights in ARKIT_EXTRA.items():
        out[name] = dict(weights)
    return out


_PREFIX = re.compile(r"^(.*[.:|/])")
_KNOWN_PREFIXES = ("blendshape", "arkit", "bs", "facs", "shape", "key")
_NORMAL = {re.sub(r"[^a-z0-9]", "", n.lower()): n for n in ARKIT_52}


def normalise(name: str) -> str:
    """Lower-case alphanumeric key of a shape-key name with namespaces and common prefixes removed."""
    key = _PREFIX.sub("", name).lower()
    key = re.sub(r"[^a-z0-9]", "", key)
    for prefix in _KNOWN_PREFIXES:
        if key.startswith(prefix) and key[len(prefix):] in _NORMAL:
            return key[len(prefix):]
    for short, long in (("l", "left"), ("r", "right")):
        if key.endswith(short) and key[:-1] + long in _NORMAL:
            return key[:-1] + long
    return key


def match_arkit(names: list[str]) -> dict[str, str]:
    """ARKit name -> the user's shape-key name, for every ARKit shape found (case/prefix tolerant)."""
    out: dict[str, str] = {}
    for name in names:
        arkit = _NORMAL.get(normalise(name))
        if arkit is not None and arkit not in out:
            out[arkit] = name
    return out


def side_of(arkit_or_key: str) -> str | None:
    """``"L"``/``"R"`` for a name ending in Left/Right (or _L/_R), None otherwise."""
    m = re.search(r"(left|right|[._\-\s]l|[._\-\s]r)$", arkit_or_key.lower())
    if m is None:
        return None
    return "L" if m.group(1)[-1] in "lt" and not m.group(1).endswith("right") else "R"


@dataclass
class TargetMap:
    """What drives a user's mesh.

    Attributes:
        targets: the user's shape-key name -> {AU code: weight}.
        unmapped: AU codes with no target on the mesh (reported to the user).
        unknown: names in a custom map that the mesh does not have.
        closures: the user's lip-closing shape key (ARKit ``mouthClose``) -> the AU weights of the jaw it
            closes against (``character_rules.closure_driver``).
        gate_opening: whether the opening AUs of ``targets`` are gated by the closure AUs (no closing shape).
    """

    targets: dict[str, dict[str, float]] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    closures: dict[str, dict[str, float]] = field(default_factory=dict)
    gate_opening: bool = True


def arkit_target_map(shape_keys: list[str]) -> TargetMap:
    """Map the contract's AUs onto the ARKit shape keys found among ``shape_keys``."""
    found = match_arkit(shape_keys)
    out = TargetMap()
    for code in AU_CODES:
        hit = False
        for pattern, weight in AU_TO_ARKIT[code]:
            sides = ("Left", "Right") if "{S}" in pattern else ("",)
            expanded = [pattern.replace("{S}", s) for s in sides]
            for name in expanded:
                if name in found:
                    out.targets.setdefault(found[name], {})[code] = weight
                    hit = True
        if not hit:
            out.unmapped.append(code)
    jaw = found.get("jawOpen")
    if "mouthClose" in found and jaw is not None and jaw in out.targets:
        out.closures[found["mouthClose"]] = dict(out.targets[jaw])
        out.gate_opening = False
    return out


def parse_custom_map(data: object) -> dict[str, dict[str, float]]:
    """Validate a custom map (see module docstring). Returns AU -> {shape-key name: weight}.

    Raises:
        MappingError: on an unknown AU code, a bad weight or a bad structure.
    """
    if isinstance(data, dict) and "map" in data:
        data = data["map"]
    if not isinstance(data, dict):
        raise MappingError("a custom AU map must be a JSON object {\"AU12\": {\"ShapeKey\": 1.0}, ...}")
    out: dict[str, dict[str, float]] = {}
    for code, spec in data.items():
        if code not in AU_BY_CODE:
            raise MappingError(f"unknown AU {code!r} in the custom map; valid codes: {', '.join(AU_CODES)}")
        if isinstance(spec, str):
            out[code] = {spec: 1.0}
        elif isinstance(spec, list) and all(isinstance(s, str) for s in spec):
            out[code] = {s: 1.0 for s in spec}
        elif isinstance(spec, dict) and all(isinstance(w, (int, float)) for w in spec.values()):
            out[code] = {str(k): float(w) for k, w in spec.items()}
        else:
            raise MappingError(f"{code}: expected a shape-key name, a list of names or {{name: weight}}")
    return out


def load_custom_map(path: Path) -> dict[str, dict[str, float]]:
    """Read and validate a custom map file. Raises MappingError (also for unreadable or invalid JSON)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MappingError(f"cannot read the AU map {path}: {exc}") from exc
    return parse_custom_map(data)


def map_to_text(au_map: dict[str, dict[str, float]]) -> str:
    """A custom map as au-map/1 JSON text (``{"schema": "au-map/1", "map": {"AU12": {"Smile_L": 1.0}}}``)."""
    return json.dumps({"schema": MAP_SCHEMA, "map": au_map}, indent=1)


def map_from_text(text: str) -> dict[str, dict[str, float]]:
    """Read a custom map from JSON text. Raises MappingError (also for invalid JSON)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MappingError(f"the AU map is not JSON: {exc}") from exc
    return parse_custom_map(data)


def save_custom_map(path: Path, au_map: dict[str, dict[str, float]]) -> None:
    """Write a custom map file (au-map/1). Raises MappingError when the file cannot be written."""
    try:
        Path(path).write_text(map_to_text(au_map) + "\n", encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot write the AU map {path}: {exc}") from exc


def custom_target_map(au_map: dict[str, dict[str, float]], shape_keys: list[str]) -> TargetMap:
    """Invert a custom AU map onto the shape keys present; AUs absent from map or mesh are unmapped."""
    present = set(shape_keys)
    out = TargetMap()
    for code in AU_CODES:
        hit = False
        for name, weight in au_map.get(code, {}).items():
            if name in present:
                out.targets.setdefault(name, {})[code] = weight
                hit = True
            elif name not in out.unknown:
                out.unknown.append(name)
        if not hit:
            out.unmapped.append(code)
    return out
