"""Evaluation metrics of predicted vs target AU tracks (pure numpy, 100 Hz inputs).

* closure recall: a bilabial counts as closed when predicted AU25 (Lips Part) drops to at most
  :data:`CLOSED_AU25` somewhere within +-20 ms of the phone;
* MAE per AU; jaw-opening (AU26) Pearson r; lag = the cross-correlation peak of the mean-removed AU26
  tracks within +-200 ms (positive = prediction late);
* AU-Jerk: mean |second difference| after linear resampling to 30 fps;
* smoothing-head noise test: jerk of ``head(raw + noise)`` vs ``raw + noise``;
* rest: the share of frames inside pauses of >= 250 ms (60 ms trimmed at both ends for the transition)
  where AU25 and AU26 are both <= 0.1.

The viewer metrics of issue 11 (second half of the module) judge what a viewer sees instead: the lip
aperture and mouth width of the ibug68 landmarks (:func:`lip_aperture`, :func:`mouth_width`), for closure
recall and depth, rounding, rest, jerk against the target articulation's landmarks; definitions in
docs/evaluation.md.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

FRAME_RATE_HZ = 100.0
CLOSED_AU25 = 0.15
CLOSURE_TOLERANCE_S = 0.02
REST_MAX = 0.1
MIN_PAUSE_S = 0.25
PAUSE_TRIM_S = 0.06


def closure_hits(au25: np.ndarray, windows: list[tuple[float, float]]) -> list[bool]:
    """Per bilabial window (start_s, end_s): whether predicted AU25 [T] reaches closure nearby."""
    hits = []
    for a, b in windows:
        lo = max(0, int(np.floor((a - CLOSURE_TOLERANCE_S) * FRAME_RATE_HZ)))
        hi = min(len(au25), int(np.ceil((b + CLOSURE_TOLERANCE_S) * FRAME_RATE_HZ)) + 1)
        hits.append(bool(hi > lo and au25[lo:hi].min() <= CLOSED_AU25))
    return hits


def resample(track: np.ndarray, fps: float = 30.0) -> np.ndarray:
    """Linear resampling of [T, ...] at 100 Hz to ``fps``."""
    t_in = np.arange(len(track)) / FRAME_RATE_HZ
    t_out = np.arange(0.0, t_in[-1] + 1e-9, 1.0 / fps) if len(track) else np.zeros(0)
    flat = track.reshape(len(track), -1)
    out = np.stack([np.interp(t_out, t_in, flat[:, i]) for i in range(flat.shape[1])], axis=1)
    return out.reshape((len(t_out), *track.shape[1:]))


def jerk(track: np.ndarray, fps: float = 30.0) -> float:
    """AU-Jerk: mean |second difference| of [T, A] (100 Hz) resampled to ``fps``."""
    r = resample(track, fps)
    if len(r) < 3:
        return 0.0
    return float(np.mean(np.abs(r[2:] - 2 * r[1:-1] + r[:-2])))


def apply_head(raw: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """The smoothing head in numpy: [T, A] raw, [A, K] taps -> [T, A] (edge-replicated FIR)."""
    radius = taps.shape[1] // 2
    padded = np.pad(raw, ((radius, radius), (0, 0)), mode="edge")
    out = np.zeros_like(raw)
    for k in range(taps.shape[1]):
        out += padded[k:k + len(raw)] * taps[:, k]
    return out


def lag_ms(pred: np.ndarray, target: np.ndarray, max_lag_frames: int = 20) -> float:
    """Lag (ms) at the peak of the cross-correlation of two [T] tracks (positive = ``pred`` late)."""
    p, t = pred - pred.mean(), target - target.mean()
    best, best_lag = -np.inf, 0
    for lag in range(-max_lag_frames, max_lag_frames + 1):
        if lag >= 0:
            c = float(np.dot(p[lag:], t[:len(t) - lag]))
        else:
            c = float(np.dot(p[:lag], t[-lag:]))
        if c > best:
            best, best_lag = c, lag
    return 1000.0 * best_lag / FRAME_RATE_HZ


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two [T] arrays (0 when either is constant)."""
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def rest_frames(au25: np.ndarray, au26: np.ndarray, phones: list[str], starts_s: np.ndarray,
                ends_s: np.ndarray) -> tuple[int, int]:
    """(frames at rest, frames checked) inside pauses of at least 250 ms."""
    ok = total = 0
    for p, a, b in zip(phones, starts_s, ends_s, strict=True):
        if p != "_" or b - a < MIN_PAUSE_S:
            continue
        lo = int(np.ceil((a + PAUSE_TRIM_S) * FRAME_RATE_HZ))
        hi = min(len(au25), int(np.floor((b - PAUSE_TRIM_S) * FRAME_RATE_HZ)))
        if hi <= lo:
            continue
        rest = (au25[lo:hi] <= REST_MAX) & (au26[lo:hi] <= REST_MAX)
        ok += int(rest.sum())
        total += hi - lo
    return ok, total


# --- Viewer metrics (issue 11): what a viewer sees, from the ibug68 landmarks of a track ------------------
#
# Landmark indices are 0-based ibug68: 36/45 outer eye corners, 48/54 mouth corners, 62/66 the middle of
# the upper/lower inner lip. Every quantity below is divided by the eye-corner distance, so it does not
# depend on the head's size. Inputs are 100 Hz (a track at the scene rate is resampled first,
# :func:`resample_to_100hz`). docs/evaluation.md explains each choice.

#: A bilabial counts as closed when the aperture falls to this share of the clip's 95th percentile.
VIEWER_CLOSED_SHARE = 0.15
#: Bilabials shorter than this are not scored (too short to show a closure at 30 fps).
VIEWER_MIN_BILABIAL_S = 0.03
#: Rounded/spread vowel pairs whose *target* mouth widths differ by less than this (eye-distance units)
#: are not scored: the target itself barely shows a difference there.
ROUNDING_MIN_TARGET_DIFF = 0.03
_UP = 2  # Blender axes: Z is up


def lip_aperture(landmarks: np.ndarray) -> np.ndarray:
    """Lip aperture a(t): the inner-lip gap 62-66 along the face's vertical axis, clipped at 0, divided by
    the eye-corner distance 36-45.

    The gap is measured vertically (not as an unsigned 3D distance) because pressed lips interpenetrate
    in the landmark basis: an unsigned distance would count a firm /m/ as a slightly open mouth.

    Args:
        landmarks: [F, 68, 3] ibug68 points (Blender axes, Z up).

    Returns:
        [F] aperture, >= 0 (0 = lips closed; about 0.4 wide open on the default head).
    """
    gap = (landmarks[:, 62, _UP] - landmarks[:, 66, _UP]).clip(0.0, None)
    return (gap / _eye_distance(landmarks)).astype(np.float64)


def mouth_width(landmarks: np.ndarray) -> np.ndarray:
    """Mouth width: mouth corners 48-54 over the eye-corner distance 36-45. [F, 68, 3] -> [F]."""
    w = np.linalg.norm(landmarks[:, 54] - landmarks[:, 48], axis=1)
    return (w / _eye_distance(landmarks)).astype(np.float64)


def _eye_distance(landmarks: np.ndarray) -> np.ndarray:
    return np.maximum(np.linalg.norm(landmarks[:, 45] - landmarks[:, 36], axis=1), 1e-9)


def resample_to_100hz(values: np.ndarray, fps: float, n_out: int) -> np.ndarray:
    """Linear resampling of a [F, ...] track at ``fps`` to ``n_out`` frames at 100 Hz (edges held)."""
    t_in = np.arange(len(values)) / fps
    t_out = np.arange(n_out) / FRAME_RATE_HZ
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(t_out, t_in, flat[:, i]) for i in range(flat.shape[1])], axis=1)
    return out.reshape((n_out, *values.shape[1:]))


def _frames(a_s: float, b_s: float, n: int) -> tuple[int, int]:
    lo = max(0, int(np.floor(a_s * FRAME_RATE_HZ)))
    return lo, min(n, max(lo + 1, int(np.ceil(b_s * FRAME_RATE_HZ))))


def viewer_closures(aperture: np.ndarray, kinds: list[str], starts_s: np.ndarray, ends_s: np.ndarray
                    ) -> tuple[list[bool], list[float]]:
    """Closure recall hits and closure depths of one clip.

    * recall: every bilabial segment of >= 30 ms is a hit when min a(t) over [start - 20 ms, end + 20 ms]
      is <= 0.15 x the clip's 95th-percentile aperture;
    * depth: for such bilabials with a vowel segment right before and right after, 1 - min a over the
      same window / mean a over the two vowels (1 = fully closed, 0 = no narrower than the vowels).

    Args:
        aperture: [T] a(t) at 100 Hz.
        kinds: per segment ``"bilabial"``, ``"vowel"``, ``"pause"`` or another phone kind
            (:func:`segment_kinds`).
        starts_s / ends_s: [S] segment times.

    Returns:
        (hits per scored bilabial, depths of the bilabials between vowels).
    """
    n = len(aperture)
    limit = VIEWER_CLOSED_SHARE * float(np.percentile(aperture, 95)) if n else 0.0
    hits: list[bool] = []
    depths: list[float] = []
    for i, (kind, a, b) in enumerate(zip(kinds, starts_s, ends_s, strict=True)):
        if kind != "bilabial" or b - a < VIEWER_MIN_BILABIAL_S - 1e-9:
            continue
        lo, hi = _frames(a - CLOSURE_TOLERANCE_S, b + CLOSURE_TOLERANCE_S, n)
        if hi <= lo or lo >= n:
            continue
        low = float(aperture[lo:hi].min())
        hits.append(low <= limit)
        if 0 < i < len(kinds) - 1 and kinds[i - 1] == "vowel" and kinds[i + 1] == "vowel":
            v = [aperture[slice(*_frames(starts_s[j], ends_s[j], n))] for j in (i - 1, i + 1)]
            vowels = float(np.concatenate(v).mean())
            if vowels > 1e-6:
                depths.append(1.0 - low / vowels)
    return hits, depths


#: Shortest non-bilabial segment scored for false closures (s); its middle third is what is judged.
FALSE_CLOSURE_MIN_S = 0.05


def false_closures(aperture: np.ndarray, target: np.ndarray, kinds: list[str], starts_s: np.ndarray,
                   ends_s: np.ndarray) -> list[bool]:
    """Closures where the target articulation has none: for every segment of >= ``FALSE_CLOSURE_MIN_S``
    that is neither a bilabial nor a pause, and whose target stays open over the segment's middle third
    (min target aperture there above ``VIEWER_CLOSED_SHARE`` x the target's 95th percentile), whether the
    predicted lips are sealed there (min a(t) <= ``VIEWER_CLOSED_SHARE`` x the prediction's 95th
    percentile). Labiodentals whose target nearly closes are thereby not counted.

    Args:
        aperture / target: [T] predicted and target a(t) at 100 Hz.
        kinds, starts_s, ends_s: the segments (:func:`viewer_closures`).

    Returns:
        One flag per scored segment: True = a false closure.
    """
    n = min(len(aperture), len(target))
    if not n:
        return []
    limit = VIEWER_CLOSED_SHARE * float(np.percentile(aperture[:n], 95))
    target_limit = VIEWER_CLOSED_SHARE * float(np.percentile(target[:n], 95))
    out: list[bool] = []
    for kind, a, b in zip(kinds, starts_s, ends_s, strict=True):
        if kind in ("bilabial", "pause") or b - a < FALSE_CLOSURE_MIN_S - 1e-9:
            continue
        third = (b - a) / 3.0
        lo, hi = _frames(a + third, b - third, n)
        if hi <= lo or lo >= n or float(target[lo:hi].min()) <= target_limit:
            continue
        out.append(float(aperture[lo:hi].min()) <= limit)
    return out


def rounding_pairs(width_pred: np.ndarray, width_target: np.ndarray, rounded: list[bool | None],
                   starts_s: np.ndarray, ends_s: np.ndarray) -> list[bool]:
    """Rounding of one clip: for each pair (rounded vowel, spread vowel) of the clip whose *target* mouth
    widths differ by at least :data:`ROUNDING_MIN_TARGET_DIFF`, whether the predicted mouth is narrower
    for the rounded one. Widths are means over the middle half of each vowel.

    Args:
        width_pred / width_target: [T] mouth width at 100 Hz (:func:`mouth_width`).
        rounded: per segment True (rounded vowel), False (spread vowel), None (anything else).
        starts_s / ends_s: [S] segment times.

    Returns:
        One bool per scored pair.
    """
    n = len(width_pred)

    def core(j: int, w: np.ndarray) -> float:
        q = 0.25 * (ends_s[j] - starts_s[j])
        lo, hi = _frames(starts_s[j] + q, ends_s[j] - q, n)
        return float(w[lo:hi].mean()) if hi > lo and lo < n else float("nan")

    rnd = [j for j, r in enumerate(rounded) if r is True]
    spr = [j for j, r in enumerate(rounded) if r is False]
    out: list[bool] = []
    for i in rnd:
        for j in spr:
            tr, ts = core(i, width_target), core(j, width_target)
            if not np.isfinite(tr) or not np.isfinite(ts) or ts - tr < ROUNDING_MIN_TARGET_DIFF:
                continue
            out.append(core(i, width_pred) < core(j, width_pred))
    return out


def viewer_rest(aperture: np.ndarray, kinds: list[str], starts_s: np.ndarray, ends_s: np.ndarray
                ) -> tuple[int, int]:
    """(frames at rest, frames checked) inside pauses of >= 250 ms (60 ms trimmed at both ends); at rest
    means a(t) <= 0.15 x the clip's 95th-percentile aperture (the closure threshold)."""
    n = len(aperture)
    limit = VIEWER_CLOSED_SHARE * float(np.percentile(aperture, 95)) if n else 0.0
    ok = total = 0
    for lo, hi in scored_pauses(kinds, starts_s, ends_s, n):
        ok += int((aperture[lo:hi] <= limit).sum())
        total += hi - lo
    return ok, total


def scored_pauses(kinds: list[str], starts_s: np.ndarray, ends_s: np.ndarray, n: int
                  ) -> list[tuple[int, int]]:
    """The 100 Hz frame ranges ``[lo, hi)`` the rest metric scores: pauses of >= 250 ms with 60 ms trimmed
    at both ends, clipped to ``n`` frames (empty ranges left out)."""
    out = []
    for kind, a, b in zip(kinds, starts_s, ends_s, strict=True):
        if kind != "pause" or b - a < MIN_PAUSE_S:
            continue
        lo = int(np.ceil((a + PAUSE_TRIM_S) * FRAME_RATE_HZ))
        hi = min(n, int(np.floor((b - PAUSE_TRIM_S) * FRAME_RATE_HZ)))
        if hi > lo:
            out.append((lo, hi))
    return out


def speech_mask(kinds: list[str], starts_s: np.ndarray, ends_s: np.ndarray, n: int) -> np.ndarray:
    """[n] bool, True on 100 Hz frames inside a non-pause segment."""
    mask = np.zeros(n, bool)
    for kind, a, b in zip(kinds, starts_s, ends_s, strict=True):
        if kind != "pause":
            lo, hi = _frames(a, b, n)
            mask[lo:hi] = True
    return mask


def normalised_jerk(aperture: np.ndarray, fps: float = 30.0) -> float:
    """Mean |second difference| of a / p95(a) resampled to ``fps`` (0 for a flat track)."""
    p95 = float(np.percentile(aperture, 95)) if len(aperture) else 0.0
    if p95 <= 1e-9:
        return 0.0
    return jerk((aperture / p95)[:, None], fps)


#: A bound on one metric: (">=", limit), ("<=", limit) or ("in", (low, high)).
Bound = tuple[str, "float | tuple[float, float]"]


def verdicts(row: dict[str, float], bounds: Mapping[str, Bound]) -> list[str]:
    """Threshold verdicts of one table row, e.g. ``["closure_recall 0.930 >= 0.9 PASS", ...]``.

    A metric that is NaN (nothing to measure in the set) gets ``n/a`` instead of a verdict.
    """
    out = []
    for key, (op, limit) in bounds.items():
        v = row[key]
        if np.isnan(v):
            out.append(f"{key} n/a (nothing to measure in this set)")
            continue
        if op == "in":
            lo, hi = limit  # type: ignore[misc]
            ok = lo <= v <= hi
        else:
            ok = v >= limit if op == ">=" else v <= limit  # type: ignore[operator]
        out.append(f"{key} {v:.3f} {op} {limit} {'PASS' if ok else 'FAIL'}")
    return out
