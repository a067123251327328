"""The three-way merge of a line's keys: hand edits stay exactly, everything else takes the new keys."""

from __future__ import annotations

import numpy as np

from blender_addon.animation import keyreduce, linekeys


def _plan(values: np.ndarray, start: float) -> linekeys.KeyBlock:
    keys = keyreduce.reduce_keys(values, 0.01)
    return linekeys.planned(*keyreduce.bezier_handles(keys, frame_start=start))


def _wave(n: int, phase: float) -> np.ndarray:
    t = np.arange(n)
    return (0.5 + 0.4 * np.sin(t / 4.0 + phase)).astype(np.float32)


def _with_key(block: linekeys.KeyBlock, frame: float, value: float) -> linekeys.KeyBlock:
    """The animator keys ``value`` at ``frame`` (replacing a key there) with auto-clamped handles."""
    keep = block.take(np.abs(block.frames - frame) > 1e-3)
    row = linekeys.planned(np.array([[frame, value]]), np.array([[frame - 1, value]]),
                           np.array([[frame + 1, value]]))
    ints = row.ints.copy()
    ints[:, 1:3] = 4  # AUTO_CLAMPED, as keyframe_insert makes
    return linekeys.concat(keep, linekeys.KeyBlock(row.floats, ints))


def test_unedited_line_takes_the_new_keys_and_other_lines_stay_bit_identical() -> None:
    line1, line2 = _plan(_wave(100, 0.0), 1.0), _plan(_wave(100, 1.0), 200.0)
    curve = linekeys.concat(line1, line2)
    new2 = _plan(_wave(100, 2.0), 200.0)
    out = linekeys.merge(curve, line2.base(), np.zeros((0, 2)), new2, 200.0, 299.0)
    other, mine = linekeys.split(out.keys, 200.0, 299.0)
    assert np.array_equal(other.floats, line1.floats) and np.array_equal(other.ints, line1.ints)
    assert np.array_equal(mine.floats, new2.floats)
    assert len(out.spans) == 0 and np.array_equal(out.base, new2.base())


def test_a_hand_key_survives_regeneration_with_new_keys_around_it() -> None:
    first = _plan(_wave(120, 0.0), 1.0)
    edited = _with_key(first, 40.0, 0.0)
    new = _plan(_wave(120, 0.7), 1.0)
    out = linekeys.merge(edited, first.base(), np.zeros((0, 2)), new, 1.0, 120.0)
    frames = out.keys.frames
    assert out.keys.floats[frames == 40.0, 1].tolist() == [0.0], "the typed value is kept exactly"
    (a, b), = out.spans
    assert a < 40.0 < b and b - a < 12, "the edit's neighbourhood only"
    far = (frames < a - 1) | (frames > b + 1)
    assert np.isin(out.keys.floats[far], new.floats).all(), "everything else is the new generation"
    # a second regeneration (again other keys) keeps the edit and does not grow its span
    newer = _plan(_wave(120, 1.4), 1.0)
    again = linekeys.merge(out.keys, out.base, out.spans, newer, 1.0, 120.0)
    assert again.keys.floats[again.keys.frames == 40.0, 1].tolist() == [0.0]
    assert np.array_equal(again.spans, out.spans)


def test_deleted_and_moved_keys_count_as_edits() -> None:
    first = _plan(_wave(120, 0.0), 1.0)
    drop = int(np.flatnonzero((first.frames > 50) & (first.frames < 70))[0])
    deleted = first.take(np.arange(len(first)) != drop)
    new = _plan(_wave(120, 0.5), 1.0)
    out = linekeys.merge(deleted, first.base(), np.zeros((0, 2)), new, 1.0, 120.0)
    gone = float(first.frames[drop])
    assert len(out.spans) == 1 and out.spans[0, 0] < gone < out.spans[0, 1]
    assert gone not in out.keys.frames, "the deleted key stays deleted"


def test_shift_and_split_move_a_line_with_its_handles() -> None:
    line = _plan(_wave(50, 0.0), 10.0)
    moved = linekeys.shift(line, 90.0)
    assert np.allclose(moved.floats[:, [0, 2, 4]] - line.floats[:, [0, 2, 4]], 90.0)
    assert np.array_equal(moved.floats[:, [1, 3, 5]], line.floats[:, [1, 3, 5]])
    outside, inside = linekeys.split(linekeys.concat(line, moved), 100.0, 149.0)
    assert np.array_equal(inside.floats, moved.floats) and np.array_equal(outside.floats, line.floats)
