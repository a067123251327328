"""The speech in the sequencer, behind one adapter (``sequences`` became ``strips`` in Blender 5.0).

One sound strip per scene belongs to the add-on: it carries the custom property ``SOUND_MARKER`` and
is replaced (same channel) on every generation, aligned with the start frame.

Some Blender builds have no audio (the bpy 4.2 wheel: ``Blender compiled without Audaspace support``):
:func:`speech_problem` says so *before* anything is written, and the generation then writes the curves
without the sound strip and warns.
"""

from __future__ import annotations

import logging
import os

import bpy
import numpy as np

from . import quality

log = logging.getLogger(__name__)

SOUND_MARKER = "au_talking_head_speech"
STRIP_NAME = "AU Speech"


def _strips(editor: bpy.types.SequenceEditor) -> bpy.types.bpy_prop_collection:
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def _all_strips(editor: bpy.types.SequenceEditor) -> list:
    return list(editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all)


def speech_strip(scene: bpy.types.Scene) -> bpy.types.Strip | None:
    """The add-on's sound strip in ``scene``, or None."""
    editor = scene.sequence_editor
    if editor is None:
        return None
    return next((s for s in _all_strips(editor) if s.get(SOUND_MARKER)), None)


def _free_channel(editor: bpy.types.SequenceEditor, first: int, last: int) -> int:
    used = {s.channel for s in _all_strips(editor)
            if not (s.frame_final_end <= first or s.frame_final_start > last)}
    channel = 1
    while channel in used:
        channel += 1
    return channel


def audio_supported() -> bool:
    """True when this Blender can hold sound strips and read audio (built with Audaspace)."""
    return bool(getattr(bpy.app.build_options, "audaspace", True))


def speech_problem(filepath: str) -> str | None:
    """Why the speech cannot become a sound strip here (checked before any write), or None if it can."""
    if not audio_supported():
        return ("this Blender has no audio support (built without Audaspace): the curves were written but "
                "the speech was not added to the sequencer; add the sound by hand in a Blender with audio")
    if not os.path.isfile(filepath):
        return f"the speech file {filepath} is gone: the sound strip was not added"
    return None


def place_speech(scene: bpy.types.Scene, filepath: str, frame_start: int, frame_count: int
                 ) -> bpy.types.Strip:
    """Put ``filepath`` in the sequencer as the add-on's sound strip starting at ``frame_start``.

    The previous strip of the add-on is removed (its sound too if nothing else uses it).
    """
    editor = scene.sequence_editor or scene.sequence_editor_create()
    old = speech_strip(scene)
    channel = None
    old_sound = None
    if old is not None:
        channel, old_sound = old.channel, old.sound
        _strips(editor).remove(old)
    if channel is None:
        channel = _free_channel(editor, frame_start, frame_start + frame_count)
    strip = _strips(editor).new_sound(STRIP_NAME, filepath, channel, frame_start)
    strip[SOUND_MARKER] = 1
    if old_sound is not None and old_sound.users == 0 and old_sound != strip.sound:
        bpy.data.sounds.remove(old_sound)
    return strip


def envelope(filepath: str, fps: float, frame_count: int) -> np.ndarray | None:
    """RMS envelope [frame_count] of an audio file at ``fps`` via Blender's audaspace; None if unreadable."""
    try:
        import aud

        sound = aud.Sound(filepath)  # type: ignore[call-arg]  # stubs: Sound lacks its __init__(filename)
        rate = int(sound.specs[0])
        data = np.asarray(sound.data(), np.float32)  # [S, C]
    except Exception as exc:  # audaspace raises plain errors for unreadable files
        log.warning("cannot read %s for the lag estimate: %s", filepath, exc)
        return None
    mono = data.mean(axis=1) if data.ndim == 2 else data.reshape(-1)
    return quality.audio_envelope(mono, rate, fps, frame_count)
