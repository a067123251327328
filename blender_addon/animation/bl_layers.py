"""Two animation layers on the control object: the generated one and the user's corrections.

- **Generated layer**: the action ``"<rig> AU Generated"`` in an NLA strip on the track
  ``"AU Generated"`` (blend Replace, extrapolation Hold). A generation or ``regenerate`` swaps this
  strip's action for a new one and nothing else.
- **Corrections layer**: the object's *active action* ``"<rig> AU Corrections"``, blended **Add** on top
  of the NLA. It holds one F-curve per AU and emotion property, in the same groups, without keys until
  the user adds some. This is the action the Graph Editor shows: a key of -0.2 on AU25 lowers Lips Part
  by 0.2 at that frame, whatever is generated under it. Setting a property in the sidebar and pressing
  I also works: Blender remaps the key through the NLA so the face shows the value you typed.

Regenerating never touches the corrections action, so every hand edit survives.
"""

from __future__ import annotations

import bpy

from . import bl_curves
from .curveplan import CurveData

GENERATED_TRACK = "AU Generated"
LAYER_PROP = "au_talking_head_layer"  # on actions: "generated" or "corrections"


class LayerError(RuntimeError):
    """The control object's animation is in a state the add-on will not overwrite; says what to do."""


def _action_layer(action: bpy.types.Action | None) -> str | None:
    if action is None:
        return None
    value = action.get(LAYER_PROP)
    return str(value) if value is not None else None


def generated_strip(ctl: bpy.types.Object) -> bpy.types.NlaStrip | None:
    """The NLA strip holding the generated action, or None before the first generation."""
    ad = ctl.animation_data
    if ad is None:
        return None
    track = ad.nla_tracks.get(GENERATED_TRACK)
    if track is None or not len(track.strips):
        return None
    return track.strips[0]


def generated_action(ctl: bpy.types.Object) -> bpy.types.Action | None:
    """The generated action of ``ctl`` (None before the first generation)."""
    strip = generated_strip(ctl)
    return strip.action if strip is not None else None


def corrections_action(ctl: bpy.types.Object) -> bpy.types.Action | None:
    """The user's corrections action of ``ctl`` (its active action, when it is one of ours)."""
    ad = ctl.animation_data
    if ad is not None and _action_layer(ad.action) == "corrections":
        return ad.action
    return None


def check_writable(ctl: bpy.types.Object) -> None:
    """Raise LayerError if writing the layers would clobber animation that is not ours.

    Raises:
        LayerError: the control object has an active action that is not the corrections action, or is
            in NLA tweak mode.
    """
    ad = ctl.animation_data
    if ad is None:
        return
    if ad.use_tweak_mode:
        raise LayerError("the rig's NLA is in tweak mode: press Tab in the NLA editor to leave it, then "
                         "generate again")
    if ad.action is not None and _action_layer(ad.action) != "corrections":
        raise LayerError(f"the rig already has an active action '{ad.action.name}' that is not the "
                         "AU Corrections action: push it down to the NLA (NLA editor > Push Down) or "
                         "unlink it, then generate again")


def install_generated(ctl: bpy.types.Object, curves: list[CurveData]) -> bpy.types.Action:
    """Write ``curves`` into a new generated action and swap it into the generated NLA strip.

    The previous generated action is deleted if nothing else uses it; the corrections action is created
    if missing (with empty, grouped curves) and never modified otherwise. Call :func:`check_writable`
    first.
    """
    action, slot = bl_curves.new_action(f"{ctl.name} AU Generated", ctl)
    action[LAYER_PROP] = "generated"
    try:
        bl_curves.write_curves(action, slot, curves)
    except Exception:
        bpy.data.actions.remove(action)
        raise
    ad = ctl.animation_data or ctl.animation_data_create()
    _ensure_corrections(ctl, ad, curves)
    track = ad.nla_tracks.get(GENERATED_TRACK)
    if track is None:
        track = ad.nla_tracks.new()
        track.name = GENERATED_TRACK
    old = None
    for strip in list(track.strips):
        old = strip.action
        track.strips.remove(strip)
    start = int(min(float(c.co[0, 0]) for c in curves))
    strip = track.strips.new(GENERATED_TRACK, start, action)
    if slot is not None and strip.action_slot != slot:
        strip.action_slot = slot
    strip.blend_type = "REPLACE"
    strip.extrapolation = "HOLD"
    if old is not None and old != action and old.users == 0:
        bpy.data.actions.remove(old)
    return action


def _ensure_corrections(ctl: bpy.types.Object, ad: bpy.types.AnimData, curves: list[CurveData]) -> None:
    action = corrections_action(ctl)
    if action is None:
        action, slot = bl_curves.new_action(f"{ctl.name} AU Corrections", ctl)
        action[LAYER_PROP] = "corrections"
        ad.action = action
        if slot is not None and ad.action_slot != slot:
            ad.action_slot = slot
    else:
        slot = bl_curves.action_slot(action)
    ad.action_blend_type = "ADD"
    ad.action_influence = 1.0
    bl_curves.ensure_empty_curves(action, slot, curves)
