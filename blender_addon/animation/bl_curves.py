"""F-curves in bulk, behind one adapter for Blender's action API (STYLE.md habit 4).

Blender 4.4+ keeps F-curves in slotted actions (layer -> keyframe strip -> channelbag per slot; 5.0
removed ``Action.fcurves``); 4.2-4.3 keep them on ``Action.fcurves``. Only this module knows.

Keys are written with ``keyframe_points.add`` + ``foreach_set`` (DATA_NOTES.md: ~1000x faster than
``keyframe_insert``), Bezier interpolation and FREE handles computed by ``keyreduce.bezier_handles``.
"""

from __future__ import annotations

from collections.abc import Iterable

import bpy
import numpy as np

from .curveplan import CurveData
from .linekeys import FLOAT_ATTRS, INT_ATTRS, KeyBlock

#: Raw enum values stored in keyframes (DNA eBezTriple_Handle / eBezTriple_Interpolation).
HANDLE_FREE = 0
INTERPOLATION_BEZIER = 2

_LAYERED = hasattr(bpy.types, "ActionSlot")


def new_action(name: str, owner: bpy.types.ID) -> tuple[bpy.types.Action, bpy.types.ActionSlot | None]:
    """Create an empty action ready to hold F-curves for ``owner``; returns (action, slot or None)."""
    action = bpy.data.actions.new(name)
    if not _LAYERED:
        return action, None
    slot = action.slots.new(id_type=owner.id_type, name=owner.name)
    layer = action.layers.new("Layer")
    layer.strips.new(type="KEYFRAME")
    return action, slot


def action_slot(action: bpy.types.Action) -> bpy.types.ActionSlot | None:
    """The first slot of an action made by :func:`new_action` (None before 4.4)."""
    if not _LAYERED or not len(action.slots):
        return None
    return action.slots[0]


def _channelbag(action: bpy.types.Action, slot: bpy.types.ActionSlot | None, ensure: bool
                ) -> bpy.types.ActionChannelbag | None:
    if not _LAYERED or slot is None:
        return None
    if not len(action.layers):
        if not ensure:
            return None
        action.layers.new("Layer")
    layer = action.layers[0]
    if not len(layer.strips):
        if not ensure:
            return None
        layer.strips.new(type="KEYFRAME")
    return layer.strips[0].channelbag(slot, ensure=ensure)


def fcurves(action: bpy.types.Action, slot: bpy.types.ActionSlot | None = None) -> Iterable[bpy.types.FCurve]:
    """The F-curves of ``action`` for ``slot`` (default: its first slot)."""
    if not _LAYERED:
        return list(action.fcurves)
    bag = _channelbag(action, slot if slot is not None else action_slot(action), ensure=False)
    return list(bag.fcurves) if bag is not None else []


def find_fcurve(action: bpy.types.Action, data_path: str, slot: bpy.types.ActionSlot | None = None
                ) -> bpy.types.FCurve | None:
    """The F-curve of ``data_path`` (index 0) in ``action``, or None."""
    for fc in fcurves(action, slot):
        if fc.data_path == data_path and fc.array_index == 0:
            return fc
    return None


def ensure_fcurve(action: bpy.types.Action, slot: bpy.types.ActionSlot | None, data_path: str, group: str,
                  color_set: str = "DEFAULT") -> bpy.types.FCurve:
    """Return the F-curve of ``data_path`` in ``action``, creating it (and its group) if needed."""
    found = find_fcurve(action, data_path, slot)
    if found is not None:
        return found
    if _LAYERED:
        bag = _channelbag(action, slot, ensure=True)
        grp = bag.groups.get(group) if hasattr(bag.groups, "get") else None
        if grp is None:
            grp = next((g for g in bag.groups if g.name == group), None) or bag.groups.new(group)
        fc = bag.fcurves.new(data_path, index=0)
        fc.group = grp
    else:
        fc = action.fcurves.new(data_path, index=0, action_group=group)
        grp = fc.group
    if color_set != "DEFAULT":
        grp.color_set = color_set  # type: ignore[assignment]  # a theme name from pure CurveData (a str)
    return fc


def write_keys(fc: bpy.types.FCurve, co: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
    """Replace every key of ``fc`` with ``co`` [K, 2] and FREE Bezier handles ``left``/``right`` [K, 2]."""
    points = fc.keyframe_points
    points.clear()
    n = int(co.shape[0])
    points.add(n)
    points.foreach_set("co", np.ascontiguousarray(co, np.float32).ravel())
    points.foreach_set("interpolation", np.full(n, INTERPOLATION_BEZIER, np.int32))
    points.foreach_set("handle_left_type", np.full(n, HANDLE_FREE, np.int32))
    points.foreach_set("handle_right_type", np.full(n, HANDLE_FREE, np.int32))
    points.foreach_set("handle_left", np.ascontiguousarray(left, np.float32).ravel())
    points.foreach_set("handle_right", np.ascontiguousarray(right, np.float32).ravel())
    fc.update()


def write_curves(action: bpy.types.Action, slot: bpy.types.ActionSlot | None,
                 curves: Iterable[CurveData]) -> int:
    """Write every planned curve into ``action``; returns the number of keys written."""
    total = 0
    for curve in curves:
        fc = ensure_fcurve(action, slot, curve.data_path, curve.group, curve.color_set)
        write_keys(fc, curve.co, curve.left, curve.right)
        total += int(curve.co.shape[0])
    return total


def ensure_empty_curves(action: bpy.types.Action, slot: bpy.types.ActionSlot | None,
                        curves: Iterable[CurveData]) -> None:
    """Make sure ``action`` has an (initially key-less) F-curve per planned curve, grouped the same way."""
    for curve in curves:
        ensure_fcurve(action, slot, curve.data_path, curve.group, curve.color_set)


def read_keys(fc: bpy.types.FCurve) -> KeyBlock:
    """Every key of ``fc`` with all its attributes (``linekeys.FLOAT_ATTRS`` / ``INT_ATTRS``), by frame."""
    points = fc.keyframe_points
    n = len(points)
    floats = np.zeros((n, 9), np.float32)
    col = 0
    for attr, width in FLOAT_ATTRS:
        buf = np.zeros(n * width, np.float32)
        points.foreach_get(attr, buf)
        floats[:, col:col + width] = buf.reshape(n, width)
        col += width
    ints = np.zeros((n, len(INT_ATTRS)), np.int32)
    for i, attr in enumerate(INT_ATTRS):
        buf_i = np.zeros(n, np.int32)
        points.foreach_get(attr, buf_i)
        ints[:, i] = buf_i
    order = np.argsort(floats[:, 0], kind="stable")
    return KeyBlock(floats[order], ints[order])


def write_block(fc: bpy.types.FCurve, keys: KeyBlock) -> None:
    """Replace every key of ``fc`` with ``keys`` (all attributes, exactly as given)."""
    points = fc.keyframe_points
    n = len(keys)
    if len(points) != n:
        points.clear()
        points.add(n)
    col = 0
    for attr, width in FLOAT_ATTRS:
        points.foreach_set(attr, np.ascontiguousarray(keys.floats[:, col:col + width]).ravel())
        col += width
    for i, attr in enumerate(INT_ATTRS):
        points.foreach_set(attr, np.ascontiguousarray(keys.ints[:, i]))
    fc.update()
