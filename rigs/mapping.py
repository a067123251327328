"""What drives each shape key of a user's character, and the report that says so (pure, no bpy).

:func:`plan_character` turns a mesh's shape-key names (and optionally a custom AU map) into a
:class:`CharacterPlan`: one driver per driven key, the reason for every key left at rest, the names no
set knows (with a suggestion), and the AUs that found no target. Every recognised name of every name set
(``rigs.name_sets``) is either driven or at rest with a reason: nothing is skipped silently.

Expression sets (ARKit-52, Character Creator, VRM/VRoid presets, Daz controls) are translated to ARKit
shapes and driven by the zone rules (``rigs.arkit``, ``rigs.character_rules``); the eyes by the gaze layer
(``rigs.gaze``). A character whose mouth has only visemes (no ``jawOpen``-like shape) gets viseme weights
solved from the mouth AUs (``rigs.visemes``); a character with both keeps its visemes at rest (driving both
would open the mouth twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from au_contract import AU_CODES, EMOTION_PROPS
from au_contract.zone_rules import DriverSpec, weighted_driver

from . import gaze, name_sets, visemes
from .arkit import arkit_weights, custom_target_map, side_of
from .character_rules import closure_driver, gated_weighted_driver

TONGUE_REASON = "the tongue waits for phone classes (TH, L, D/T/N) from the server; the AUs cannot show it"
_MOUTH_OPENING = {"AU25", "AU26", "AU27"}


@dataclass
class CharacterPlan:
    """How a character is driven.

    Attributes:
        drivers: shape-key name -> driver.
        roles: shape-key name -> what drives it, in words (for the report and the mapping editor).
        at_rest: recognised shape-key name -> why it stays at rest.
        unrecognised: shape-key name no set knows -> a suggestion ("" when nothing is close).
        unknown: names of a custom map that the mesh does not have.
        unmapped: AU codes that reach no shape key.
        sets: name set -> number of keys recognised from it.
        visemes: whether the mouth is driven through visemes.
        weights: shape-key name -> {AU code: weight} of every key driven by weighted AUs (the editable
            part of the mapping; visemes, gaze and the lip closure are derived and not listed here).
    """

    drivers: dict[str, DriverSpec] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    at_rest: dict[str, str] = field(default_factory=dict)
    unrecognised: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    sets: dict[str, int] = field(default_factory=dict)
    visemes: bool = False
    weights: dict[str, dict[str, float]] = field(default_factory=dict)

    def summary(self, target: str) -> str:
        """The one-line report of the Adapt Character operator."""
        total = len(self.drivers) + len(self.at_rest) + len(self.unrecognised)
        sets = ", ".join(f"{k} ({v})" for k, v in self.sets.items()) or "custom map"
        msg = f"Drove {len(self.drivers)} of {total} shape keys of '{target}' [{sets}]"
        if self.visemes:
            msg += "; mouth through visemes"
        by_reason: dict[str, list[str]] = {}
        for key, reason in sorted(self.at_rest.items()):
            by_reason.setdefault(reason, []).append(key)
        for reason, keys in by_reason.items():
            msg += f"; at rest: {', '.join(keys)} ({reason})"
        if self.unrecognised:
            msg += "; not recognised: " + ", ".join(
                f"{k}" + (f" (did you mean {v}?)" if v else "") for k, v in sorted(self.unrecognised.items()))
        if self.unknown:
            msg += f"; names not on the mesh: {', '.join(self.unknown)}"
        if self.unmapped:
            msg += f"; AUs without a target: {', '.join(self.unmapped)}"
        return msg

    @property
    def clean(self) -> bool:
        """True when nothing needs the user's attention (no unknown names, every AU placed)."""
        return not (self.unrecognised or self.unknown or self.unmapped)


def _aus(target: str) -> dict[str, float]:
    out = {}
    for term in target.split(","):
        code, _, weight = term.partition("*")
        out[code] = float(weight or 1.0)
    return out


def _words(weights: dict[str, float]) -> str:
    return " + ".join(f"{v:g} {k}" for k, v in sorted(weights.items()))


def _mouth_left_right(side: str) -> DriverSpec:
    """``mouthLeft``/``mouthRight``: half the jaw's sideways slide, plus contempt's one-sided pull (left)."""
    if side == "L":
        return DriverSpec("max(0,min(1,0.5*js+0.3*con))",
                          (("con", EMOTION_PROPS["CONTEMPT"]), ("js", gaze.JAW_SIDE_PROP)))
    return gaze.jaw_side_driver("R", 0.5)


def plan_character(names: list[str], custom_map: dict[str, dict[str, float]] | None = None,
                   edits: dict[str, dict[str, float]] | None = None) -> CharacterPlan:
    """The plan for a mesh whose shape keys (Basis excluded) are ``names``.

    Args:
        custom_map: AU -> {shape-key name: weight} (``rigs.arkit.parse_custom_map``); replaces recognition.
        edits: the same format, applied on top of recognition (the mapping editor's weights): each key it
            names is driven by exactly its AU weights there, whatever its recognised role; the other keys
            keep theirs. An edited ``jawOpen`` carries its ``mouthClose`` along.
    """
    if custom_map is not None:
        return _plan_custom(names, custom_map)
    per_key = invert_map(edits or {})
    rec = name_sets.recognise(names)
    plan = CharacterPlan(unrecognised=dict(rec.unknown), sets=dict(rec.sets))
    arkit = {n: r for n, (_, _, r) in rec.roles.items() if r.kind == "arkit"}
    present = {r.target for r in arkit.values()}
    has_jaw = "jawOpen" in present
    plan.visemes = not has_jaw and any(r.kind == "viseme" for _, _, r in rec.roles.values())
    close = "mouthClose" in present and has_jaw
    weights = arkit_weights()
    reached: set[str] = set()
    jaw_key = next((n for n, r in arkit.items() if r.target == "jawOpen"), "")
    if jaw_key in per_key:
        weights["jawOpen"] = per_key[jaw_key]
    for name, role in arkit.items():
        if name not in per_key:
            _drive_arkit(plan, name, role, weights, close, reached)
    for name, (_, _, role) in rec.roles.items():
        if role.kind == "arkit" or name in per_key:
            continue
        if role.kind == "rest":
            plan.at_rest[name] = role.target
        elif role.kind == "viseme":
            _drive_viseme(plan, name, role, reached)
        elif role.kind == "gaze":
            if any(r.target.startswith("eyeLook") for r in arkit.values()):
                plan.at_rest[name] = "the eyeLook shapes carry the gaze"
            else:
                plan.drivers[name] = gaze.gaze_direction_driver(role.target)
                plan.roles[name] = f"gaze {role.target}"
    for name, (_, _, role) in rec.roles.items():  # AU shapes last: they give way to the shapes above
        if role.kind == "aus" and name not in per_key:
            _drive_aus(plan, name, role, close, reached)
    _drive_edits(plan, names, per_key, close, reached)
    plan.unmapped = [c for c in AU_CODES if c not in reached]
    return plan


def _drive_arkit(plan: CharacterPlan, name: str, role: name_sets.Role, weights: dict[str, dict[str, float]],
                 close: bool, reached: set[str]) -> None:
    target, side = role.target, role.side
    if plan.visemes and target in weights and set(weights[target]) & _MOUTH_OPENING:
        plan.at_rest[name] = "the visemes drive the mouth"
        return
    if target.startswith("eyeLook"):
        direction = target[7:].removesuffix("Left").removesuffix("Right")
        plan.drivers[name] = gaze.eye_look_driver(direction, side or "L")
        plan.roles[name] = f"gaze ({target})"
    elif target in ("jawLeft", "jawRight"):
        plan.drivers[name] = gaze.jaw_side_driver(side or "L")
        plan.roles[name] = f"{gaze.JAW_SIDE_PROP} (no AU moves the jaw sideways; key it)"
    elif target in ("mouthLeft", "mouthRight"):
        plan.drivers[name] = _mouth_left_right(side or "L")
        plan.roles[name] = f"{gaze.JAW_SIDE_PROP} and contempt"
    elif target == "tongueOut":
        plan.at_rest[name] = TONGUE_REASON
    elif target == "mouthClose":
        if close:
            plan.drivers[name] = closure_driver(weights["jawOpen"])
            plan.roles[name] = "lip closure against jawOpen (AU23/AU24/AU28)"
        else:
            plan.at_rest[name] = "no jawOpen shape to close the lips against; the opening AUs are gated"
    else:
        w = weights[target]
        spec = weighted_driver(w, side) if close else gated_weighted_driver(w, side)
        if target.startswith("eyeBlink"):
            spec = gaze.with_lid_follow(spec)
        plan.drivers[name] = spec
        plan.roles[name] = _words(w) + (f" ({side})" if side else "")
        plan.weights[name] = dict(w)
        reached.update(w)


def _drive_viseme(plan: CharacterPlan, name: str, role: name_sets.Role, reached: set[str]) -> None:
    set_name, _, viseme = role.target.partition(":")
    if not plan.visemes:
        plan.at_rest[name] = "the expression shapes (jawOpen ...) drive the mouth; visemes would double it"
        return
    leaves = visemes.viseme_role(set_name, viseme)
    if isinstance(leaves, str):
        plan.at_rest[name] = leaves
        return
    plan.drivers[name] = visemes.viseme_driver(leaves)
    plan.roles[name] = "viseme " + " + ".join(sorted(leaves)) + " (solved from AU18-AU28)"
    reached.update(prop for _, prop in plan.drivers[name].variables)


def _drive_aus(plan: CharacterPlan, name: str, role: name_sets.Role, close: bool, reached: set[str]) -> None:
    w = _aus(role.target)
    if plan.visemes and set(w) & _MOUTH_OPENING:
        plan.at_rest[name] = "the visemes drive the mouth"
        return
    if set(w) <= reached:
        plan.at_rest[name] = f"other shapes already carry {', '.join(sorted(w))}"
        return
    spec = weighted_driver(w, role.side) if close else gated_weighted_driver(w, role.side)
    if "AU45" in w or "AU43" in w:
        spec = gaze.with_lid_follow(spec)
    plan.drivers[name] = spec
    plan.roles[name] = _words(w)
    plan.weights[name] = dict(w)
    reached.update(w)


def _plan_custom(names: list[str], custom_map: dict[str, dict[str, float]]) -> CharacterPlan:
    tmap = custom_target_map(custom_map, names)
    plan = CharacterPlan(unknown=list(tmap.unknown), unmapped=list(tmap.unmapped))
    for name, w in tmap.targets.items():
        side = side_of(name)
        plan.drivers[name] = gated_weighted_driver(w, side)
        plan.roles[name] = _words(w)
        plan.weights[name] = dict(w)
    for name in names:
        if name not in plan.drivers:
            plan.at_rest[name] = "not in the custom map"
    return plan


def _drive_edits(plan: CharacterPlan, names: list[str], per_key: dict[str, dict[str, float]], close: bool,
                 reached: set[str]) -> None:
    """Drive every key the editor's weights name (replacing its recognised role); report absent names."""
    present = set(names)
    for name, w in per_key.items():
        if name not in present:
            plan.unknown.append(name)
            continue
        w = {code: v for code, v in w.items() if v}
        plan.at_rest.pop(name, None)
        plan.unrecognised.pop(name, None)
        if not w:
            plan.drivers.pop(name, None)
            plan.at_rest[name] = "every weight set to 0 in the mapping editor"
            continue
        side = side_of(name)
        plan.drivers[name] = weighted_driver(w, side) if close else gated_weighted_driver(w, side)
        plan.roles[name] = _words(w) + " (edited)"
        plan.weights[name] = dict(w)
        reached.update(w)


def invert_map(au_map: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """AU -> {key: weight} (a custom map) turned into key -> {AU: weight}."""
    out: dict[str, dict[str, float]] = {}
    for code, targets in au_map.items():
        for name, weight in targets.items():
            out.setdefault(name, {})[code] = float(weight)
    return out


def plan_map(plan: CharacterPlan) -> dict[str, dict[str, float]]:
    """The plan's editable weights as a custom map (AU -> {shape key: weight}), AUs in contract order."""
    return per_key_to_map(plan.weights)


def per_key_to_map(per_key: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """key -> {AU: weight} turned back into a custom map (AU -> {key: weight}), AUs in contract order."""
    out: dict[str, dict[str, float]] = {}
    for name, w in sorted(per_key.items()):
        for code, weight in w.items():
            out.setdefault(code, {})[name] = weight
    return {code: out[code] for code in AU_CODES if code in out}


def edits_against(recognised: CharacterPlan, au_map: dict[str, dict[str, float]],
                  tol: float = 1e-4) -> dict[str, dict[str, float]]:
    """The part of ``au_map`` (a full table) that differs from the recognised plan's weights, per key.

    Every key whose AU weights differ (by more than ``tol``, or in which AUs) is kept whole; the others are
    dropped, so the stored edits name only what the user changed.
    """
    changed = {}
    for name, w in invert_map(au_map).items():
        base = recognised.weights.get(name, {})
        if set(base) != set(w) or any(abs(base[c] - v) > tol for c, v in w.items()):
            changed[name] = w
    return per_key_to_map(changed)


@dataclass(frozen=True)
class MapRow:
    """One row of the mapping editor: an AU's weight on a target, or a derived driver (``au`` empty)."""

    au: str
    target: str
    weight: float
    role: str
    editable: bool


def mapping_rows(plan: CharacterPlan) -> list[MapRow]:
    """The editor's rows: one per (AU, key) weight in AU order, then derived drivers (visemes, gaze...)."""
    table = plan_map(plan)
    rows = [MapRow(code, name, w, plan.roles.get(name, ""), True)
            for code, targets in table.items() for name, w in targets.items()]
    rows += [MapRow("", name, 1.0, plan.roles.get(name, ""), False)
             for name in sorted(plan.drivers) if name not in plan.weights]
    return rows
