"""The rig's animation: one action, the object's active action, holding every line's real curves.

Every line writes its keys straight into the F-curves of the control object's active action (``"<rig>
AU Animation"``, created on the first generation; an action the user already assigned is used as it is).
What the Graph Editor shows is what the render shows: no NLA layer underneath, no offsets, and a value the
animator types is the value the face gets.

A line owns the keys inside its frame range (``linekeys.owned_mask``). Writing a line is a three-way merge
per curve (``linekeys.merge``): the keys of the line's last generation (its *base*), the keys in the curve
now, and the newly planned keys; hand edits keep their neighbourhood, the rest takes the new keys, and
keys outside the line (other lines, the user's own) are copied back bit for bit. The base and the edited
spans of each curve are stored on the line (:class:`LineStore`), so they travel with the file and undo.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

import bpy
import numpy as np

from ..errors import AddonError
from . import bl_curves, linekeys
from .curveplan import CurveData

ACTION_MARKER = "au_talking_head_lines"  # on the action the add-on created
OLD_GENERATED_TRACK = "AU Generated"  # the NLA track of add-on versions before lines
BASE_KEY, SPANS_KEY, STASH_KEY = "base", "spans", "stash"

#: Where a line keeps its merge data: its ID properties (a ``PropertyGroup`` item, which supports item
#: access like a dict, though the stubs do not say so) or a plain dict (benchmarks).
LineStore = MutableMapping[str, Any] | Any


class LayerError(AddonError, RuntimeError):
    """The control object's animation is in a state the add-on will not overwrite; says what to do."""


def lines_action(ctl: bpy.types.Object) -> bpy.types.Action | None:
    """The action holding the lines' curves: the control object's active action (None before any)."""
    ad = ctl.animation_data
    return ad.action if ad is not None else None


def check_writable(ctl: bpy.types.Object) -> None:
    """Raise LayerError if the lines cannot be written into the control object's active action.

    Raises:
        LayerError: the NLA is in tweak mode, or the rig still has the NLA layering of an older version.
    """
    ad = ctl.animation_data
    if ad is None:
        return
    if ad.use_tweak_mode:
        raise LayerError("the rig's NLA is in tweak mode: press Tab in the NLA editor to leave it, then "
                         "generate again")
    if ad.nla_tracks.get(OLD_GENERATED_TRACK) is not None:
        raise LayerError(f"the rig '{ctl.name}' still has the NLA track '{OLD_GENERATED_TRACK}' of an older "
                         "version of the add-on: delete that track in the NLA editor (and unlink its "
                         "'AU Corrections' action if you do not need it), then generate again")


def ensure_action(ctl: bpy.types.Object) -> tuple[bpy.types.Action, bpy.types.ActionSlot | None]:
    """The active action of ``ctl`` and its slot, creating ``"<rig> AU Animation"`` if there is none."""
    ad = ctl.animation_data or ctl.animation_data_create()
    action = ad.action
    if action is None:
        action, slot = bl_curves.new_action(f"{ctl.name} AU Animation", ctl)
        action[ACTION_MARKER] = 1
        ad.action = action
        if slot is not None and ad.action_slot != slot:
            ad.action_slot = slot
        return action, slot
    slot = getattr(ad, "action_slot", None)
    if slot is None and hasattr(action, "slots"):
        slot = action.slots[0] if len(action.slots) else action.slots.new(id_type="OBJECT", name=ctl.name)
        ad.action_slot = slot
    return action, slot


def _stored(store: LineStore, key: str, path: str, columns: int, dtype: type) -> np.ndarray:
    group = store.get(key)
    if group is None or path not in group:
        return np.zeros((0, columns), dtype)
    return np.asarray(group[path], dtype).reshape(-1, columns)


def _put(store: LineStore, key: str, values: dict[str, np.ndarray]) -> None:
    store[key] = {path: arr.ravel() for path, arr in values.items() if arr.size}


def stored_paths(store: LineStore) -> list[str]:
    """The data paths of every curve the line has written."""
    return list(store.get(BASE_KEY, {}).keys())


def write_line(ctl: bpy.types.Object, store: LineStore, curves: Iterable[CurveData], lo: float, hi: float
               ) -> int:
    """Merge a line's newly planned ``curves`` into the active action; returns the keys the line holds.

    The line spans frames ``lo``..``hi``; its base and edited spans are read from and written to ``store``.
    Curves the line wrote before but not now (a property gone from the plan) keep only their hand edits.
    Call :func:`check_writable` first.
    """
    action, slot = ensure_action(ctl)
    planned = {c.data_path: c for c in curves}
    bases: dict[str, np.ndarray] = {}
    spans: dict[str, np.ndarray] = {}
    total = 0
    for path in dict.fromkeys([*planned, *stored_paths(store)]):
        curve = planned.get(path)
        if curve is not None:
            fc = bl_curves.ensure_fcurve(action, slot, path, curve.group, curve.color_set)
            new = linekeys.planned(curve.co, curve.left, curve.right)
        else:
            fc = bl_curves.find_fcurve(action, path, slot)
            if fc is None:
                continue
            new = linekeys.empty()
        merged = linekeys.merge(bl_curves.read_keys(fc), _stored(store, BASE_KEY, path, 6, np.float32),
                                _stored(store, SPANS_KEY, path, 2, np.float64), new, lo, hi)
        bl_curves.write_block(fc, merged.keys)
        bases[path], spans[path] = merged.base, merged.spans
        total += len(merged.base)
    _put(store, BASE_KEY, bases)
    _put(store, SPANS_KEY, spans)
    return total


def _line_curves(ctl: bpy.types.Object, store: LineStore) -> list[bpy.types.FCurve]:
    action = lines_action(ctl)
    if action is None:
        return []
    found = (bl_curves.find_fcurve(action, path) for path in stored_paths(store))
    return [fc for fc in found if fc is not None]


def stash_line(ctl: bpy.types.Object, store: LineStore, lo: float, hi: float) -> None:
    """Take the line's keys out of its curves and keep them on the line (mute)."""
    stash: dict[str, np.ndarray] = {}
    for fc in _line_curves(ctl, store):
        outside, inside = linekeys.split(bl_curves.read_keys(fc), lo, hi)
        stash[fc.data_path + "|f"] = inside.floats
        stash[fc.data_path + "|i"] = inside.ints
        bl_curves.write_block(fc, outside)
    store[STASH_KEY] = {k: v.ravel() for k, v in stash.items() if v.size}


def unstash_line(ctl: bpy.types.Object, store: LineStore, lo: float, hi: float) -> None:
    """Put a muted line's keys back; keys keyed in its range meanwhile win at their frames."""
    stash = store.get(STASH_KEY, {})
    for fc in _line_curves(ctl, store):
        floats = np.asarray(stash.get(fc.data_path + "|f", []), np.float32).reshape(-1, 9)
        ints = np.asarray(stash.get(fc.data_path + "|i", []), np.int32).reshape(-1, len(linekeys.INT_ATTRS))
        current = bl_curves.read_keys(fc)
        back = linekeys.KeyBlock(floats, ints)
        back = back.take(~np.isin(np.round(back.frames, 3), np.round(current.frames, 3)))
        bl_curves.write_block(fc, linekeys.concat(current, back))
    if STASH_KEY in store:
        del store[STASH_KEY]


def remove_line_keys(ctl: bpy.types.Object, store: LineStore, lo: float, hi: float) -> None:
    """Delete the line's keys (everything it owns in its curves); other keys stay as they are."""
    for fc in _line_curves(ctl, store):
        outside, _ = linekeys.split(bl_curves.read_keys(fc), lo, hi)
        bl_curves.write_block(fc, outside)


def shift_line(ctl: bpy.types.Object, store: LineStore, lo: float, hi: float, delta: float) -> None:
    """Move the line's keys (hand edits included), its base, spans and stash by ``delta`` frames.

    Raises:
        LayerError: a curve has keys of no line where the line would land (nothing is moved).
    """
    moves = []
    for fc in _line_curves(ctl, store):
        outside, inside = linekeys.split(bl_curves.read_keys(fc), lo, hi)
        if linekeys.owned_mask(outside.frames, lo + delta, hi + delta).any():
            where = f"{lo + delta:.0f}-{hi + delta:.0f}"
            raise LayerError(f"the curve {fc.data_path} has keys in frames {where}: delete them or pick "
                             "another frame")
        moves.append((fc, linekeys.concat(outside, linekeys.shift(inside, delta))))
    for fc, keys in moves:
        bl_curves.write_block(fc, keys)
    bases = {p: _stored(store, BASE_KEY, p, 6, np.float32) for p in stored_paths(store)}
    for arr in bases.values():
        arr[:, [0, 2, 4]] += np.float32(delta)
    spans = {p: _stored(store, SPANS_KEY, p, 2, np.float64) + delta for p in store.get(SPANS_KEY, {})}
    _put(store, BASE_KEY, bases)
    _put(store, SPANS_KEY, spans)
    if STASH_KEY in store:
        stash = {k: np.asarray(v, np.float32 if k.endswith("|f") else np.int32)
                 for k, v in store[STASH_KEY].items()}
        for k, arr in stash.items():
            if k.endswith("|f"):
                rows = arr.reshape(-1, 9)
                rows[:, [0, 2, 4]] = rows[:, [0, 2, 4]] + np.float32(delta)
        store[STASH_KEY] = stash
