"""Operators ``generate_from_audio`` and ``regenerate`` (DESIGN.md §8).

In the UI the server call runs in a background thread (``worker.BackgroundJob``) while a modal timer
shows the elapsed time in the status bar; Esc cancels. The result is written on the main thread when
the modal operator finishes, which makes the whole generation one undo step. From scripts (``EXEC``) and
in background mode (``blender -b``) the operators run synchronously.

Everything that can fail for an outside reason (audio, server, answer, rig) is checked before the first
write, so a failure leaves the file exactly as it was.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import bpy
from bpy.props import EnumProperty, FloatProperty, IntProperty, StringProperty

from au_contract import AU_CODES, EMOTION_PROPS
from au_contract.options import SPECS as OPTION_SPECS  # defaults and ranges of the request options

from ..animation import bl_gaze, bl_layers, bl_lines, bl_sound, generation, quality
from ..animation.timing import scene_fps
from ..bl_props import EMOTION_ITEMS, is_control_object, option_range
from ..errors import AddonError
from ..server.worker import BackgroundJob, JobCancelledError

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

    _OperatorBase = bpy.types.Operator  # the mixin is typed as what it always ends up in
else:
    _OperatorBase = object

log = logging.getLogger(__name__)

_JOB: BackgroundJob | None = None
#: The last failure's message (runtime only: a failure must not change the file).
last_error = ""


class ApplyError(AddonError, RuntimeError):
    """The rig cannot take the result; the message says what to do."""


def job_running() -> bool:
    """True while a generation waits for the server."""
    return _JOB is not None and not _JOB.done


def rig_problem(context: bpy.types.Context) -> str | None:
    """Why the scene's rig cannot be animated, or None if it can."""
    settings = context.scene.au_talking_head
    ctl = settings.rig
    if ctl is None:
        return "Pick a rig first (Generate Rig, or adapt your own mesh)"
    if not is_control_object(ctl):
        return f"'{ctl.name}' is not an AU Talking Head control object: generate or adapt a rig"
    missing = [c for c in (*AU_CODES, *EMOTION_PROPS.values()) if c not in ctl]
    if missing:
        return f"the rig '{ctl.name}' lacks the properties {', '.join(missing[:4])}...: rebuild it"
    return None


def build_request(context: bpy.types.Context, filepath: str, emotion: str, strength: float,
                  frame_start: int, transcript: str | None = None) -> generation.GenerateRequest:
    """Collect a generation request from operator values and the scene settings.

    ``transcript`` None: the panel's; "" there too: the ``.txt`` beside the audio when present (resolved by
    ``generation.prepare``)."""
    scene = context.scene
    s = scene.au_talking_head
    return generation.GenerateRequest(
        audio_path=bpy.path.abspath(filepath) if filepath else "", server_url=s.server_url,
        fps=scene_fps(scene.render.fps, scene.render.fps_base), frame_start=frame_start, emotion=emotion,
        strength=strength, blinks=s.blinks, prosody=s.prosody, smoothing=s.smoothing, precise=s.precise,
        seed=s.seed,
        tolerance=s.tolerance, transcript=s.transcript if transcript is None else transcript,
        language=s.language)


def apply(context: bpy.types.Context, prepared: generation.Prepared, filepath: str, line_uid: int = 0
          ) -> tuple[quality.Quality, str | None]:
    """Write a prepared generation into the scene as a line (main thread only).

    ``line_uid`` 0 adds a line (or regenerates the line of the same audio it would overlap); another value
    regenerates that line, keeping its hand edits (``animation/bl_lines``).

    Every check that can fail (rig, writable animation, sound support, reading the audio, the quality
    figures) runs before the first write.

    Returns:
        The quality summary, and a warning when the speech could not become a sound strip (a Blender
        without audio support): the curves are written all the same.

    Raises:
        ApplyError: the rig vanished or has animation the add-on will not overwrite (nothing written).
    """
    scene = context.scene
    settings = scene.au_talking_head
    # Everything that can fail runs first; the writes below start only when all of it passed.
    problem = rig_problem(context)
    if problem:
        raise ApplyError(problem)
    ctl = settings.rig
    try:
        bl_layers.check_writable(ctl)
    except bl_layers.LayerError as exc:
        raise ApplyError(str(exc)) from exc
    req, tracks = prepared.request, prepared.tracks
    try:
        plan = bl_lines.plan_line(scene, ctl, filepath or req.audio_path, req.frame_start, tracks.frame_count,
                                  line_uid)
    except bl_layers.LayerError as exc:
        raise ApplyError(str(exc)) from exc
    sound_problem = bl_sound.speech_problem(req.audio_path)
    envelope = bl_sound.envelope(req.audio_path, req.fps, tracks.frame_count) if not sound_problem else None
    if envelope is None and not sound_problem:
        sound_problem = f"Blender cannot read {req.audio_path} as audio: the sound strip was not added"
    result = quality.assess(tracks.channels, req.fps, envelope)
    # Writes.
    gaze = bl_gaze.gaze_curves(scene, ctl, req.frame_start, tracks.frame_count, req.fps, req.seed)
    said = generation.dialog_warning(tracks) or generation.dialog_note(tracks) or ""
    values = bl_lines.LineValues(filepath or req.audio_path, req.emotion, req.strength, req.seed,
                                 req.transcript, str(tracks.meta.get("model", "")), req.language, said)
    sound_path = None if sound_problem else req.audio_path
    bl_lines.write(scene, ctl, plan, prepared.curves + gaze, values, sound_path)
    if sound_problem:
        log.warning("%s", sound_problem)
    settings.audio_path = filepath
    settings.emotion, settings.strength, settings.frame_start = req.emotion, req.strength, req.frame_start
    settings.has_quality = True
    settings.quality_has_lag = result.lag_ms is not None
    settings.quality_lag_ms = result.lag_ms or 0.0
    settings.quality_closures = result.closures
    settings.quality_jitter = result.jitter
    settings.last_message = result.summary() + (f" ({sound_problem})" if sound_problem else "")
    return result, sound_problem


class _GenerateBase(_OperatorBase):
    """Shared body of generate_from_audio and regenerate (subclasses say where values come from)."""

    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender API)
    _timer = None
    _job: BackgroundJob | None = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        """Shared checks: no generation running and a usable rig (the reason shows on the greyed button)."""
        if job_running():
            cls.poll_message_set("A generation is already running (Esc cancels it)")
            return False
        problem = rig_problem(context)
        if problem:
            cls.poll_message_set(problem)
            return False
        return True

    def inputs(self, context: bpy.types.Context) -> tuple[str, str, float, int]:
        raise NotImplementedError

    def target_line(self, context: bpy.types.Context) -> int:
        """The uid of the line to regenerate (0: a new line)."""
        return 0

    def transcript_input(self, context: bpy.types.Context) -> str | None:
        """The transcript the operator was given (None: the panel's)."""
        return None

    def _request(self, context: bpy.types.Context) -> generation.GenerateRequest:
        filepath, emotion, strength, frame_start = self.inputs(context)
        self._filepath = filepath
        self._line_uid = self.target_line(context)
        transcript = self.transcript_input(context)
        return build_request(context, filepath, emotion, strength, frame_start, transcript)

    def _finish(self, context: bpy.types.Context, prepared: generation.Prepared) -> set[OperatorReturnItems]:
        t0 = time.perf_counter()
        try:
            result, warning = apply(context, prepared, self._filepath, self._line_uid)
        except ApplyError as exc:
            return self._fail(context, exc)
        if warning:
            self.report({"WARNING"}, warning)
        dialog = generation.dialog_warning(prepared.tracks)
        if dialog:
            self.report({"WARNING"}, dialog)
            context.scene.au_talking_head.last_message += f" ({dialog})"
        elif note := generation.dialog_note(prepared.tracks):
            context.scene.au_talking_head.last_message += f" ({note})"
        global last_error
        last_error = ""
        source = "cached tracks" if prepared.from_cache else f"server {prepared.server_s:.1f} s"
        self.report({"INFO"}, f"Generated {prepared.tracks.frame_count} frames ({source}, written in "
                              f"{time.perf_counter() - t0:.2f} s): {result.summary()}")
        return {"FINISHED"}

    def _fail(self, context: bpy.types.Context, exc: BaseException) -> set[OperatorReturnItems]:
        global last_error
        last_error = str(exc)
        self.report({"ERROR"}, f"Nothing changed: {exc}")
        return {"CANCELLED"}

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        try:
            prepared = generation.prepare(self._request(context))
        except generation.GenerationError as exc:
            return self._fail(context, exc)
        return self._finish(context, prepared)

    def invoke(self, context: bpy.types.Context, _event: bpy.types.Event) -> set[OperatorReturnItems]:
        global _JOB
        if bpy.app.background or context.window is None:
            return self.execute(context)
        request = self._request(context)
        self._job = _JOB = BackgroundJob(lambda cancel: generation.prepare(request, cancel))
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 100)
        return {"RUNNING_MODAL"}

    def _cleanup(self, context: bpy.types.Context) -> None:
        global _JOB
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        _JOB = None
        for area in context.screen.areas if context.screen else ():
            area.tag_redraw()

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[OperatorReturnItems]:
        job = self._job
        assert job is not None
        if event.type == "ESC":
            job.cancel()
            self._cleanup(context)
            self.report({"WARNING"}, "Generation cancelled: nothing changed")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if not job.done:
            context.window_manager.progress_update(int(job.elapsed_s * 10) % 100)
            if context.workspace is not None:
                context.workspace.status_text_set(
                    f"Talking Head: generating from audio... {job.elapsed_s:.0f} s (Esc to cancel)")
            return {"RUNNING_MODAL"}
        self._cleanup(context)
        try:
            prepared = job.result()
        except JobCancelledError:
            self.report({"WARNING"}, "Generation cancelled: nothing changed")
            return {"CANCELLED"}
        except generation.GenerationError as exc:
            return self._fail(context, exc)
        return self._finish(context, prepared)


class AUTH_OT_generate_from_audio(_GenerateBase, bpy.types.Operator):
    """Animate the rig from a speech file: AU curves, emotion, sound strip (one undo step)"""

    bl_idname = "au_talking_head.generate_from_audio"
    bl_label = "Generate from Audio"

    filepath: StringProperty(name="Audio", subtype="FILE_PATH", options={"SKIP_SAVE"},  # type: ignore[valid-type]
                             description="Speech file (default: the panel's Audio)")
    emotion: EnumProperty(name="Emotion", items=EMOTION_ITEMS,  # type: ignore[valid-type]
                          default=OPTION_SPECS["emotion"].default, options={"SKIP_SAVE"})
    strength: FloatProperty(name="Strength", **option_range("strength"),  # type: ignore[valid-type]
                            options={"SKIP_SAVE"})
    frame_start: IntProperty(name="Start Frame", default=1, options={"SKIP_SAVE"})  # type: ignore[valid-type]
    transcript: StringProperty(name="Transcript", options={"SKIP_SAVE"},  # type: ignore[valid-type]
                               description="The line's text (default: the panel's, else <audio>.txt)")

    def transcript_input(self, context: bpy.types.Context) -> str | None:
        """The operator's ``transcript`` when set, else None (the panel's, then the sidecar file)."""
        return self.transcript if self.properties.is_property_set("transcript") else None

    def inputs(self, context: bpy.types.Context) -> tuple[str, str, float, int]:
        s = context.scene.au_talking_head
        given = self.properties.is_property_set
        return (self.filepath if given("filepath") else s.audio_path,
                self.emotion if given("emotion") else s.emotion,
                self.strength if given("strength") else s.strength,
                self.frame_start if given("frame_start") else s.frame_start)


class AUTH_OT_regenerate(_GenerateBase, bpy.types.Operator):
    """Regenerate the selected line with the panel's emotion, strength, seed and options; hand edits stay"""

    bl_idname = "au_talking_head.regenerate"
    bl_label = "Regenerate"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not super().poll(context):
            return False
        if bl_lines.active_line(context.scene) is None:
            cls.poll_message_set("Nothing to regenerate yet: use Generate from Audio first, or pick a line")
            return False
        return True

    def inputs(self, context: bpy.types.Context) -> tuple[str, str, float, int]:
        s = context.scene.au_talking_head
        line = bl_lines.active_line(context.scene)
        assert line is not None  # poll
        return line.audio_path, s.emotion, s.strength, line.frame_start

    def target_line(self, context: bpy.types.Context) -> int:
        line = bl_lines.active_line(context.scene)
        return int(line.uid) if line is not None else 0


CLASSES = (AUTH_OT_generate_from_audio, AUTH_OT_regenerate)
