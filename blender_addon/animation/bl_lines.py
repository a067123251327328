"""Lines: a scene's spoken lines, each generated, regenerated, muted, moved and removed on its own.

A line (:class:`AUTH_PG_line`, in ``scene.au_talking_head.lines``) remembers its audio, start frame,
length, emotion, strength, seed, transcript and its language, the rig it animates, and its own sound strip
(marked with the line's ``uid``). Its keys live in the rig's active action (``bl_layers``); the line stores
what it last wrote there (the merge base and edited spans) as ID properties, so everything travels with the
file and with undo. Lines of one rig never overlap: a line owns the keys in its frames.

Functions here are the Blender side of the line operations; operators stay thin (``operators/bl_line_ops``,
``operators/bl_animate``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from au_contract.errors import OptionsError
from au_contract.transcripts import read_sidecar

from . import bl_layers, bl_sound

log = logging.getLogger(__name__)

FITTED_KEY = "fitted_range"  # on the settings: the scene range the add-on set last
_BLENDER_DEFAULT_RANGE = (1, 250)


def _on_mute(line: AUTH_PG_line, _context: bpy.types.Context) -> None:
    scene = line.id_data
    if isinstance(scene, bpy.types.Scene):
        set_mute(scene, line, line.mute)


class AUTH_PG_line(bpy.types.PropertyGroup):
    """One spoken line of a scene (its name is the audio file's name)."""

    uid: IntProperty(name="ID", default=0, options={"HIDDEN"})  # type: ignore[valid-type]
    rig: PointerProperty(name="Rig", type=bpy.types.Object)  # type: ignore[valid-type]
    audio_path: StringProperty(name="Audio", subtype="FILE_PATH")  # type: ignore[valid-type]
    frame_start: IntProperty(name="Start Frame", default=1)  # type: ignore[valid-type]
    frame_count: IntProperty(name="Frames", default=0, min=0)  # type: ignore[valid-type]
    emotion: StringProperty(name="Emotion", default="NEUTRAL")  # type: ignore[valid-type]
    strength: FloatProperty(name="Strength", default=1.0, min=0.0, max=1.0)  # type: ignore[valid-type]
    seed: IntProperty(name="Seed", default=0)  # type: ignore[valid-type]
    transcript: StringProperty(name="Transcript", default="")  # type: ignore[valid-type]
    language: StringProperty(name="Language", default="")  # type: ignore[valid-type]  # "": an older file
    model: StringProperty(name="Model", default="")  # type: ignore[valid-type]
    # What the server said about the transcript ("" without one): "Transcript: <why it was not (fully)
    # used>" (au_contract.transcripts.WARNING_PREFIX) or "Transcript used (<voice>): n of m p/b/m closed".
    transcript_result: StringProperty(name="Transcript Result", default="")  # type: ignore[valid-type]
    mute: BoolProperty(  # type: ignore[valid-type]
        name="Mute", default=False, update=_on_mute,
        description="Silence the line: its keys leave the curves (kept on the line), its sound strip mutes")


CLASSES = (AUTH_PG_line,)


def frame_end(line: AUTH_PG_line) -> int:
    """The line's last frame."""
    return int(line.frame_start + max(line.frame_count, 1) - 1)


def _span(line: AUTH_PG_line) -> tuple[float, float]:
    return float(line.frame_start), float(frame_end(line))


def lines(scene: bpy.types.Scene) -> Any:
    """The scene's lines (a Blender collection of :class:`AUTH_PG_line`)."""
    return scene.au_talking_head.lines


def active_line(scene: bpy.types.Scene) -> AUTH_PG_line | None:
    """The line selected in the panel's list, or None."""
    items, index = lines(scene), scene.au_talking_head.line_index
    return items[index] if 0 <= index < len(items) else None


def by_uid(scene: bpy.types.Scene, uid: int) -> AUTH_PG_line | None:
    """The line with ``uid``, or None."""
    return next((line for line in lines(scene) if line.uid == uid), None)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(bpy.path.abspath(a), bpy.path.abspath(b))
    except OSError:
        return os.path.abspath(bpy.path.abspath(a)) == os.path.abspath(bpy.path.abspath(b))


@dataclass(frozen=True)
class LinePlan:
    """Where a generation will write, decided before any write.

    Attributes:
        uid: the line written (an existing line's uid, or 0 for a new line).
        frame_start: first frame of the line.
        frame_count: frames of the line.
    """

    uid: int
    frame_start: int
    frame_count: int


def plan_line(scene: bpy.types.Scene, ctl: bpy.types.Object, audio_path: str, frame_start: int,
              frame_count: int, uid: int = 0) -> LinePlan:
    """Check where a line goes (no writes): a new line, a regeneration (``uid``), or the same audio again.

    Generating an audio file that already has a line overlapping the new frames regenerates that line
    (moved to the new start frame); any other overlap is refused.

    Raises:
        bl_layers.LayerError: the line would overlap another line of the rig, or ``uid`` is unknown.
    """
    bl_layers.check_writable(ctl)
    if uid and by_uid(scene, uid) is None:
        raise bl_layers.LayerError("the line to regenerate is gone: pick a line in the list")
    lo, hi = frame_start, frame_start + frame_count - 1
    for line in lines(scene):
        if line.uid == uid or line.rig != ctl or frame_end(line) < lo or line.frame_start > hi:
            continue
        if not uid and _same_file(line.audio_path, audio_path):
            uid = line.uid
            continue
        raise bl_layers.LayerError(
            f"frames {lo}-{hi} overlap the line '{line.name}' (frames {line.frame_start}-{frame_end(line)}): "
            f"pick a start frame after {frame_end(line)} or before it, or move or remove that line")
    return LinePlan(uid, frame_start, frame_count)


def _new_line(scene: bpy.types.Scene, ctl: bpy.types.Object, audio_path: str) -> AUTH_PG_line:
    items = lines(scene)
    line = items.add()
    line.uid = max((other.uid for other in items), default=0) + 1
    line.rig = ctl
    line.name = os.path.splitext(os.path.basename(bpy.path.abspath(audio_path)))[0] or f"Line {line.uid}"
    return line


def _sort(scene: bpy.types.Scene, uid: int) -> int:
    """Keep the list in time order; returns the index of line ``uid`` (earlier item references go stale)."""
    items = lines(scene)
    order = sorted(range(len(items)), key=lambda i: (items[i].frame_start, items[i].uid))
    wanted = [items[i].uid for i in order]
    for position, want in enumerate(wanted):
        current = next(i for i in range(len(items)) if items[i].uid == want)
        if current != position:
            items.move(current, position)
    return wanted.index(uid)


def select(scene: bpy.types.Scene, uid: int) -> None:
    """Make line ``uid`` the list's active line (the panel then shows its settings)."""
    items = lines(scene)
    scene.au_talking_head.line_index = next(i for i in range(len(items)) if items[i].uid == uid)


def on_select(settings: bpy.types.PropertyGroup, _context: bpy.types.Context) -> None:
    """``line_index`` update: the panel's speech settings show the selected line (regenerate uses them)."""
    items, index = settings.lines, settings.line_index
    if not 0 <= index < len(items):
        return
    line = items[index]
    settings.audio_path, settings.frame_start = line.audio_path, line.frame_start
    settings.strength, settings.seed = line.strength, line.seed
    # the line's own transcript and language, so that Regenerate reads this line's text, not the one last
    # typed for another line; a transcript that came from the <audio>.txt beside it stays with the file
    # (the panel's field empty), so a line generated next from another audio file picks up its own .txt
    settings.transcript = "" if line.transcript == _sidecar_text(line.audio_path) else line.transcript
    if line.language:
        settings.language = line.language
    try:
        settings.emotion = line.emotion
    except TypeError:  # an emotion this version does not know: keep the panel's
        log.warning("line '%s' has an unknown emotion %s", line.name, line.emotion)


def _sidecar_text(audio_path: str) -> str:
    """The transcript file beside a line's audio, "" when there is none or it cannot be read."""
    if not audio_path:
        return ""
    try:
        return read_sidecar(bpy.path.abspath(audio_path))
    except OptionsError:
        return ""


# -- the line's sound strip ------------------------------------------------------------------------------

def line_strip(scene: bpy.types.Scene, uid: int) -> Any:
    """The sound strip of line ``uid``, or None."""
    editor = scene.sequence_editor
    if editor is None:
        return None
    return next((s for s in bl_sound._all_strips(editor) if s.get(bl_sound.SOUND_MARKER) == uid), None)


def _remove_strip(scene: bpy.types.Scene, uid: int) -> int | None:
    """Remove line ``uid``'s strip (and its sound when unused); returns the channel it was on."""
    strip = line_strip(scene, uid)
    if strip is None:
        return None
    channel, sound = strip.channel, strip.sound
    bl_sound._strips(scene.sequence_editor).remove(strip)
    if sound is not None and sound.users == 0:
        bpy.data.sounds.remove(sound)
    return int(channel)


def _place_strip(scene: bpy.types.Scene, line: AUTH_PG_line, filepath: str) -> None:
    editor = scene.sequence_editor or scene.sequence_editor_create()
    channel = _remove_strip(scene, line.uid)
    if channel is None:
        channel = bl_sound._free_channel(editor, line.frame_start, frame_end(line) + 1)
    strip = bl_sound._strips(editor).new_sound(line.name or bl_sound.STRIP_NAME, filepath, channel,
                                              line.frame_start)
    strip[bl_sound.SOUND_MARKER] = line.uid
    strip.mute = line.mute


# -- line operations -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LineValues:
    """What a generation says about its line (stored on it).

    Attributes:
        audio_path: the audio as the user gave it (may be relative to the .blend).
        emotion, strength, seed: the generation's emotion, its strength and seed.
        transcript: the transcript used ("" when none); language: the language it was given in.
        transcript_result: what the server said about the transcript (:attr:`AUTH_PG_line.transcript_result`).
        model: the model named in the server's answer.
    """

    audio_path: str
    emotion: str
    strength: float
    seed: int
    transcript: str = ""
    model: str = ""
    language: str = ""
    transcript_result: str = ""


def write(scene: bpy.types.Scene, ctl: bpy.types.Object, plan: LinePlan, curves: list, values: LineValues,
          sound_path: str | None) -> int:
    """Write a planned line (its curves merged with its hand edits, its strip); returns its uid.

    ``sound_path`` None leaves the line without a sound strip (a Blender without audio).
    """
    line = by_uid(scene, plan.uid) if plan.uid else None
    if line is None:
        line = _new_line(scene, ctl, values.audio_path)
    elif line.frame_start != plan.frame_start:  # the same audio generated at another frame: move it first
        lo, hi = _span(line)
        bl_layers.shift_line(ctl, line, lo, hi, plan.frame_start - line.frame_start)
    line.frame_start, line.frame_count = plan.frame_start, plan.frame_count
    line.audio_path, line.emotion, line.strength, line.seed = (values.audio_path, values.emotion,
                                                                values.strength, values.seed)
    line.transcript, line.model, line.language = values.transcript, values.model, values.language
    line.transcript_result = values.transcript_result
    if line.mute:
        line.mute = False  # a regenerated line plays again (its stashed keys come back first)
    bl_layers.write_line(ctl, line, curves, *_span(line))
    if sound_path is not None:
        _place_strip(scene, line, sound_path)
    uid = int(line.uid)
    _sort(scene, uid)
    select(scene, uid)
    fit_range(scene)
    return uid


def set_mute(scene: bpy.types.Scene, line: AUTH_PG_line, mute: bool) -> None:
    """Mute or unmute a line: its keys leave the curves (kept on the line) or come back; its strip too."""
    ctl = line.rig
    stashed = line.get(bl_layers.STASH_KEY) is not None
    if ctl is not None and mute and not stashed:
        bl_layers.stash_line(ctl, line, *_span(line))
    elif ctl is not None and not mute and stashed:
        bl_layers.unstash_line(ctl, line, *_span(line))
    strip = line_strip(scene, line.uid)
    if strip is not None:
        strip.mute = mute


def remove(scene: bpy.types.Scene, uid: int) -> None:
    """Remove line ``uid``: its keys (hand edits in it too), its sound strip and its list entry."""
    line = by_uid(scene, uid)
    if line is None:
        return
    if line.rig is not None and line.get(bl_layers.STASH_KEY) is None:
        bl_layers.remove_line_keys(line.rig, line, *_span(line))
    _remove_strip(scene, uid)
    items = lines(scene)
    index = next(i for i in range(len(items)) if items[i].uid == uid)
    items.remove(index)
    settings = scene.au_talking_head
    settings.line_index = min(settings.line_index, len(items) - 1)
    fit_range(scene)


def move(scene: bpy.types.Scene, uid: int, frame_start: int) -> None:
    """Move line ``uid`` to ``frame_start``: keys (hand edits too) and sound strip together.

    Raises:
        bl_layers.LayerError: the line would overlap another line, or land on keys of no line.
    """
    line = by_uid(scene, uid)
    if line is None or line.rig is None:
        raise bl_layers.LayerError("there is no such line to move")
    plan_line(scene, line.rig, line.audio_path, frame_start, max(line.frame_count, 1), uid)
    delta = frame_start - line.frame_start
    if delta:
        bl_layers.shift_line(line.rig, line, *_span(line), delta)
        line.frame_start = frame_start
        strip = line_strip(scene, uid)
        if strip is not None:
            strip.frame_start = frame_start
    _sort(scene, uid)
    select(scene, uid)
    fit_range(scene)


def lines_range(scene: bpy.types.Scene) -> tuple[int, int] | None:
    """(first, last) frame covered by the scene's lines, or None without lines."""
    items = list(lines(scene))
    if not items:
        return None
    return min(line.frame_start for line in items), max(frame_end(line) for line in items)


def fit_range(scene: bpy.types.Scene) -> bool:
    """Make the scene range cover the lines, unless the user set it; True if it was changed.

    The range is the add-on's while it is Blender's default (1-250) or what the add-on set last.
    """
    wanted = lines_range(scene)
    settings = scene.au_talking_head
    current = (scene.frame_start, scene.frame_end)
    fitted = tuple(settings.get(FITTED_KEY, ()))
    if wanted is None or current not in (fitted, _BLENDER_DEFAULT_RANGE, wanted):
        return False
    settings[FITTED_KEY] = list(wanted)
    if current == wanted:
        return False
    scene.frame_start, scene.frame_end = wanted
    return True
