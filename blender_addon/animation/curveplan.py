"""What a generation writes, as plain data: one :class:`CurveData` per F-curve of the generated layer.

Pure module (numpy only): the Blender side (``bl_curves``) only copies these arrays into F-curves.

Layout of a line's curves (DESIGN.md §4), written into the rig's active action (``bl_layers``):

- one curve per AU property of the control object (``["AU01"]`` ... ``["AU45"]``), sparse Bezier keys
  from :mod:`keyreduce`, placed so that track sample ``i`` lands on scene frame ``frame_start + i``;
- one curve per emotion property (``["emotion_happiness"]`` ...): the line's value keyed at its first and
  last frame, ``strength`` for the chosen emotion and 0 for the others, so the emotion is a keyframable
  strength and changing it never rewrites the AU curves.

Channel groups are the zones ("Mouth", "Blend", "Upper", then "Emotion"), ordered and coloured by zone, so
a whole zone folds in the Graph Editor. Blender names a custom property's F-curve after the property
("AU12") and cannot rename it; the words are in the AU table (``au_contract``) and the property tooltips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from au_contract import ACTION_UNITS, EMOTION_PROPS
from au_contract.options import check_value
from au_contract.tracks import TrackSet

from . import keyreduce

#: Zone -> (group name prefix, Blender theme colour set), in Graph Editor order.
ZONE_GROUPS: dict[str, tuple[str, str]] = {
    "M": ("Mouth", "THEME01"),
    "B": ("Blend", "THEME09"),
    "U": ("Upper", "THEME04"),
}
EMOTION_GROUP = ("Emotion", "THEME03")
_ONE_FRAME = np.array([1.0, 0.0], np.float32)


@dataclass(frozen=True)
class CurveData:
    """One F-curve to write.

    Attributes:
        data_path: RNA path on the control object, e.g. ``'["AU12"]'``.
        group: channel group name (the zone), e.g. ``"Blend"``.
        color_set: theme colour set of the group (``"THEME01"``...).
        co: float32 [K, 2] (frame, value) of the keys.
        left: float32 [K, 2] left handles.
        right: float32 [K, 2] right handles.
    """

    data_path: str
    group: str
    color_set: str
    co: np.ndarray  # [K, 2]
    left: np.ndarray  # [K, 2]
    right: np.ndarray  # [K, 2]


def prop_path(name: str) -> str:
    """Return the RNA path of a custom property: ``prop_path("AU12") == '["AU12"]'``."""
    return f'["{name}"]'


def group_name(code: str) -> str:
    """Return the channel group of an AU code: its zone, e.g. ``"Blend"`` for AU12 (a zone folds whole)."""
    au = next(a for a in ACTION_UNITS if a.code == code)
    return ZONE_GROUPS[au.zone][0]


def au_order() -> list[str]:
    """AU codes in Graph Editor order: by zone (mouth, blend, upper), then contract order."""
    zones = list(ZONE_GROUPS)
    return [a.code for a in sorted(ACTION_UNITS, key=lambda a: zones.index(a.zone))]


def plan_au_curves(tracks: TrackSet, frame_start: float,
                   tolerance: float = keyreduce.DEFAULT_TOLERANCE) -> list[CurveData]:
    """Return the AU curves of the generated layer for ``tracks`` sampled at the scene's rate."""
    zones = {a.code: a.zone for a in ACTION_UNITS}
    out = []
    for code in au_order():
        keys = keyreduce.reduce_keys(tracks.channels[code], tolerance)
        co, left, right = keyreduce.bezier_handles(keys, frame_start=frame_start)
        out.append(CurveData(prop_path(code), group_name(code), ZONE_GROUPS[zones[code]][1], co, left, right))
    return out


def plan_emotion_curves(emotion: str, strength: float, frame_start: float,
                        frame_end: float | None = None) -> list[CurveData]:
    """Return one constant curve per emotion property: ``strength`` for ``emotion``, 0 for the others.

    The value is keyed at ``frame_start`` and, when given, again at ``frame_end`` (flat handles), so the
    line holds its emotion to its last frame and the next line's emotion eases in only between lines.

    Raises:
        au_contract.errors.OptionsError: (a ``ValueError``) if ``emotion`` is not one of
            ``au_contract.EMOTIONS`` or ``strength`` is outside [0, 1]: the contract's option rules and
            messages.
    """
    emotion, strength = check_value("emotion", emotion), check_value("strength", strength)
    out = []
    for name, prop in EMOTION_PROPS.items():
        value = strength if name == emotion else 0.0
        frames = [frame_start] if frame_end is None or frame_end <= frame_start else [frame_start, frame_end]
        co = np.array([[f, value] for f in frames], np.float32)
        out.append(CurveData(prop_path(prop), EMOTION_GROUP[0], EMOTION_GROUP[1],
                             co, co - _ONE_FRAME, co + _ONE_FRAME))
    return out


def plan_generated(tracks: TrackSet, frame_start: float, emotion: str, strength: float,
                   tolerance: float = keyreduce.DEFAULT_TOLERANCE) -> list[CurveData]:
    """Return every curve of the generated layer: AU curves, then emotion curves."""
    emotions = plan_emotion_curves(emotion, strength, frame_start, frame_start + tracks.frame_count - 1)
    return plan_au_curves(tracks, frame_start, tolerance) + emotions
