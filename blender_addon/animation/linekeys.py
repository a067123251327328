"""Keys of one F-curve as arrays, and the three-way merge that keeps hand edits through a regeneration.

Pure module (numpy only). Every line of a scene writes its keys into the same F-curves of the rig's
active action (the curves the Graph Editor shows and the render uses); a line *owns* the keys whose frame
lies in its range (:func:`owned_mask`). Lines never overlap, so a line's keys can be rewritten, shifted,
stashed (mute) or deleted without touching any other line.

**The merge** (see ``docs/animation.md`` for why). For one curve and one line:

- ``base``: the keys written by the line's last generation (co and handles, :data:`BASE_COLUMNS`);
- ``current``: the keys in the curve now (the animator may have added, moved, deleted or retyped keys);
- ``new``: the keys the new generation planned.

A current key that equals a base key (same frame, value and handles) is untouched; any other current key,
and any base key that is gone, is an *edit*. An edit changes the curve only between the keys on either side
of it, so its *span* runs from the previous to the next current key (the line's ends when there is none).
The result keeps the current keys inside every span (the edit exactly as the animator left it) and the new
keys everywhere else. Spans are remembered per line and curve, so an edit survives any number of
regenerations even when the new keys around it move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Float columns of :class:`KeyBlock.floats`, in order (Blender keyframe attribute, width).
FLOAT_ATTRS: tuple[tuple[str, int], ...] = (("co", 2), ("handle_left", 2), ("handle_right", 2), ("back", 1),
                                            ("amplitude", 1), ("period", 1))
#: Int columns of :class:`KeyBlock.ints` (enums as Blender's raw values, selection flags as 0/1).
INT_ATTRS: tuple[str, ...] = ("interpolation", "handle_left_type", "handle_right_type", "easing", "type",
                              "select_control_point", "select_left_handle", "select_right_handle")
#: Columns of a stored base: co, handle_left, handle_right (what tells an untouched key from an edit).
BASE_COLUMNS = 6
#: Raw values of a freshly planned key: Bezier, FREE handles, automatic easing, a plain keyframe.
_PLANNED_INTS = np.array([2, 0, 0, 0, 0, 0, 0, 0], np.int32)
_PLANNED_FLOATS = np.array([1.70158, 0.8, 4.1], np.float32)  # Blender's back/amplitude/period defaults
_SAME = 1e-5  # float32 values read back from Blender are bit-exact; this only forgives noise
_ON_SPAN = 1e-3  # frames: a key this close to a span's end belongs to the span


@dataclass(frozen=True)
class KeyBlock:
    """Keys of one F-curve, sorted by frame.

    Attributes:
        floats: float32 [K, 9]: co (frame, value), handle_left, handle_right, back, amplitude, period.
        ints: int32 [K, 8]: interpolation, handle types, easing, key type, selection flags.
    """

    floats: np.ndarray  # [K, 9]
    ints: np.ndarray  # [K, 8]

    @property
    def frames(self) -> np.ndarray:
        """float32 [K] key frames."""
        return self.floats[:, 0]

    def __len__(self) -> int:
        return int(self.floats.shape[0])

    def take(self, mask_or_index: np.ndarray) -> KeyBlock:
        """The keys selected by a boolean mask [K] or an index array."""
        return KeyBlock(self.floats[mask_or_index], self.ints[mask_or_index])

    def base(self) -> np.ndarray:
        """float32 [K, 6]: co, handle_left, handle_right, as stored for the next merge."""
        return np.ascontiguousarray(self.floats[:, :BASE_COLUMNS])


def empty() -> KeyBlock:
    """A curve without keys."""
    return KeyBlock(np.zeros((0, 9), np.float32), np.zeros((0, len(INT_ATTRS)), np.int32))


def planned(co: np.ndarray, left: np.ndarray, right: np.ndarray) -> KeyBlock:
    """Keys planned by the add-on (``curveplan.CurveData`` arrays [K, 2]): Bezier with FREE handles."""
    n = int(co.shape[0])
    floats = np.concatenate([np.asarray(a, np.float32).reshape(n, 2) for a in (co, left, right)]
                            + [np.broadcast_to(_PLANNED_FLOATS, (n, 3))], axis=1)
    return KeyBlock(floats.astype(np.float32), np.tile(_PLANNED_INTS, (n, 1)))


def concat(*blocks: KeyBlock) -> KeyBlock:
    """All keys of ``blocks``, sorted by frame (stable)."""
    floats = np.concatenate([b.floats for b in blocks], axis=0)
    ints = np.concatenate([b.ints for b in blocks], axis=0)
    order = np.argsort(floats[:, 0], kind="stable")
    return KeyBlock(floats[order], ints[order])


def owned_mask(frames: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """bool [K]: which key frames a line spanning frames ``lo``..``hi`` (inclusive) owns."""
    return (frames >= lo - 0.5) & (frames < hi + 0.5)


def shift(block: KeyBlock, delta: float) -> KeyBlock:
    """The keys moved by ``delta`` frames (keys and both handles)."""
    floats = block.floats.copy()
    floats[:, [0, 2, 4]] += np.float32(delta)
    return KeyBlock(floats, block.ints.copy())


def _matched(current: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(current rows that equal a base row [Kc], base rows equalled by a current row [Kb]); inputs [K, 6]."""
    hit_c = np.zeros(len(current), bool)
    hit_b = np.zeros(len(base), bool)
    if len(current) and len(base):
        j = np.clip(np.searchsorted(base[:, 0], current[:, 0]), 0, len(base) - 1)
        for cand in (j, np.maximum(j - 1, 0)):
            same = np.all(np.abs(base[cand] - current) <= _SAME * np.maximum(1.0, np.abs(current)), axis=1)
            hit_c |= same
            hit_b[cand[same]] = True
    return hit_c, hit_b


def union(spans: np.ndarray) -> np.ndarray:
    """Merge overlapping or touching spans: float64 [S, 2] -> sorted, disjoint [S', 2]."""
    spans = np.asarray(spans, np.float64).reshape(-1, 2)
    if not len(spans):
        return spans
    spans = spans[np.argsort(spans[:, 0])]
    out = [spans[0].copy()]
    for a, b in spans[1:]:
        if a <= out[-1][1] + _ON_SPAN:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append(np.array([a, b]))
    return np.array(out)


def edited_spans(current: KeyBlock, base: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Spans [S, 2] (frames) of the line ``lo``..``hi`` where ``current`` differs from ``base`` [Kb, 6].

    ``current`` holds only the line's keys. Each edit (a current key that is not a base key, or a base key
    that is gone) spans from the previous to the next current key, or to the line's end.
    """
    base = np.asarray(base, np.float32).reshape(-1, BASE_COLUMNS)
    hit_c, hit_b = _matched(current.base(), base)
    anchors = np.concatenate([current.frames[~hit_c], base[~hit_b, 0]]).astype(np.float64)
    frames = current.frames.astype(np.float64)
    spans = []
    for x in np.unique(anchors):
        before = frames[frames < x - _ON_SPAN]
        after = frames[frames > x + _ON_SPAN]
        spans.append((before[-1] if len(before) else lo, after[0] if len(after) else hi))
    return union(np.array(spans))


def in_spans(frames: np.ndarray, spans: np.ndarray, margin: float = _ON_SPAN) -> np.ndarray:
    """bool [K]: frames inside any span (ends included, widened by ``margin``)."""
    inside = np.zeros(len(frames), bool)
    for a, b in np.asarray(spans, np.float64).reshape(-1, 2):
        inside |= (frames >= a - margin) & (frames <= b + margin)
    return inside


@dataclass(frozen=True)
class Merged:
    """A merged curve and what the line remembers for its next merge.

    Attributes:
        keys: every key of the curve (other lines' keys unchanged).
        base: float32 [K, 6] the line's keys as written (the next merge's base).
        spans: float64 [S, 2] the line's edited spans on this curve.
    """

    keys: KeyBlock
    base: np.ndarray  # [K, 6]
    spans: np.ndarray  # [S, 2]


def merge(current: KeyBlock, base: np.ndarray, spans: np.ndarray, new: KeyBlock, lo: float, hi: float
          ) -> Merged:
    """Three-way merge of one curve for the line ``lo``..``hi`` (see the module docstring).

    Args:
        current: every key of the curve now.
        base: float32 [Kb, 6] the line's keys as last written (empty for a new line).
        spans: float64 [S, 2] the line's remembered edit spans on this curve.
        new: the newly planned keys of the line (all inside ``lo``..``hi``).
        lo, hi: the line's first and last frame.
    """
    own = owned_mask(current.frames, lo, hi)
    inside = current.take(own)
    found = edited_spans(inside, base, lo, hi)
    kept_spans = np.asarray(spans, np.float64).reshape(-1, 2)
    kept_spans = kept_spans[(kept_spans[:, 1] >= lo - 0.5) & (kept_spans[:, 0] < hi + 0.5)]
    all_spans = union(np.concatenate([kept_spans, found]))
    edited = inside.take(in_spans(inside.frames.astype(np.float64), all_spans))
    fresh = new.take(~in_spans(new.frames.astype(np.float64), all_spans))
    line = concat(edited, fresh)
    return Merged(concat(current.take(~own), line), line.base(), all_spans)


def split(current: KeyBlock, lo: float, hi: float) -> tuple[KeyBlock, KeyBlock]:
    """(keys outside the line ``lo``..``hi``, the line's keys)."""
    own = owned_mask(current.frames, lo, hi)
    return current.take(~own), current.take(own)
