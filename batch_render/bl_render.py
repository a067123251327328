"""The Blender half of batch rendering: scene per input, tracks from the add-on, MP4 with sound.

For each input: open the user's .blend (or the default scene: generated rig with its splat twin, a
camera on the face, a world), generate the AU tracks with the add-on's own operator
(``generate_from_audio``, which talks to the model server and adds the sound strip), set the frame range
to the audio's length, render H.264 + AAC to a hidden temporary file in the output folder and rename it
to its final name only once it is complete and checked. A crash therefore never leaves a broken file
under the final name, and a rerun skips every input whose MP4 is already valid (resume).

Works with the bpy module (``au-talking-head render``) and inside a real Blender (``bl_entry.py``).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import time
import wave
from collections.abc import Sequence
from pathlib import Path

import bpy

from au_contract.transcripts import WARNING_PREFIX

from . import jobs, outputs
from .bl_scene import (  # noqa: F401
    DEFAULT_FPS,
    DEFAULT_RESOLUTION,
    FACE_REGIONS,
    FALLBACK_ENGINE,
    SPLAT_ENGINE,
    _call_operator,
    build_default_scene,
    engine_available,
    ensure_registered,
    face_mesh,
    region_box_px,
    region_points,
    world_to_pixels,
)
from .job_server import JobServer

log = logging.getLogger(__name__)

# --- one input -----------------------------------------------------------------------------------


def prepare_scene(options: jobs.BatchOptions, server_url: str) -> bpy.types.Scene:
    """Apply the job's fps, size, engine and server to the open scene; check it has a rig and camera.

    Raises:
        BatchError: if the scene lacks a rig or a camera, or the engine is unknown.
    """
    scene = bpy.context.scene
    render = scene.render
    if options.fps is not None:
        fps_int = max(1, round(options.fps))
        render.fps, render.fps_base = fps_int, fps_int / options.fps
    if options.resolution is not None:
        render.resolution_x, render.resolution_y = options.resolution
        render.resolution_percentage = 100
    if options.engine is not None:
        if not engine_available(options.engine):
            raise jobs.BatchError(f"render engine {options.engine} is not available in this Blender")
        render.engine = options.engine  # type: ignore[assignment]  # stubs: only 'BLENDER_EEVEE'
    if options.samples is not None:
        if render.engine == "CYCLES":
            scene.cycles.samples = options.samples
        elif hasattr(scene, "eevee"):
            scene.eevee.taa_render_samples = options.samples
    settings = scene.au_talking_head
    settings.server_url = server_url
    if options.language is not None:
        settings.language = options.language
    if options.precise is not None:
        settings.precise = options.precise
    if settings.rig is None:
        raise jobs.BatchError("the scene has no rig: set Talking Head > Rig (scene.au_talking_head.rig) "
                              "in the .blend, or leave out --blend to use the default head")
    if scene.camera is None:
        raise jobs.BatchError("the scene has no active camera: add one in the .blend")
    return scene


def sound_strip(scene: bpy.types.Scene, audio: Path, frame_start: int) -> bpy.types.Strip:
    """The scene's sound strip of ``audio`` (added at ``frame_start`` if the operator added none)."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    for strip in editor.strips_all:
        if strip.type == "SOUND" and strip.sound and \
                Path(bpy.path.abspath(strip.sound.filepath)).resolve() == audio.resolve():
            return strip
    return editor.strips.new_sound(audio.stem[:60], str(audio), 1, frame_start)


def set_video_output(scene: bpy.types.Scene, path: Path) -> Path:
    """H.264 + AAC in an MP4 at ``path``; returns the exact file Blender will write."""
    render = scene.render
    render.image_settings.media_type = "VIDEO"  # Blender 5.0: before file_format
    render.image_settings.file_format = "FFMPEG"
    ffmpeg = render.ffmpeg
    ffmpeg.format = "MPEG4"
    ffmpeg.codec = "H264"
    ffmpeg.constant_rate_factor = "HIGH"
    ffmpeg.ffmpeg_preset = "GOOD"
    ffmpeg.gopsize = max(1, round(render.fps / render.fps_base))
    ffmpeg.audio_codec = "AAC"
    ffmpeg.audio_channels = "MONO"
    ffmpeg.audio_mixrate = 48000
    ffmpeg.audio_bitrate = 128
    render.use_file_extension = True
    render.filepath = str(path)
    return Path(render.frame_path(frame=scene.frame_start))


class _Progress:
    """Console progress line of one input, updated after each rendered frame."""

    def __init__(self, index: int, total: int, name: str, scene: bpy.types.Scene) -> None:
        self.index, self.total, self.name = index, total, name
        self.first, self.frames = scene.frame_start, scene.frame_end - scene.frame_start + 1
        self.started = time.monotonic()
        self.tty = sys.stdout.isatty()
        self.step = max(1, self.frames // 10)
        self.done = 0

    def __call__(self, scene: bpy.types.Scene, *_args: object) -> None:
        self.done = scene.frame_current - self.first + 1
        if self.tty or self.done % self.step == 0 or self.done == self.frames:
            line = jobs.progress_line(self.index, self.total, self.name, self.done, self.frames,
                                      time.monotonic() - self.started)
            sys.stdout.write(("\r" + line) if self.tty else line + "\n")
            sys.stdout.flush()


def render_item(item: jobs.BatchItem, index: int, total: int, options: jobs.BatchOptions,
                template: Path, server_url: str, tmp: Path | None = None) -> jobs.ItemResult:
    """Render one input to its MP4 (atomically) under the output's lock. Never raises for a bad input or
    an unwritable folder: the result says why. Another job that rendered it meanwhile makes it "skipped"."""
    started = time.monotonic()

    def waiting() -> None:
        print(f"[{index}/{total}] {item.audio.name}: another job is rendering {item.output.name}; waiting")
        sys.stdout.flush()

    try:
        with outputs.item_lock(item.output, on_wait=waiting):
            if not options.force and not jobs.video_problem(item.output):
                return jobs.ItemResult(item, "skipped", "rendered by another job meanwhile")
            return _render_locked(item, index, total, options, template, server_url, tmp, started)
    except OSError as exc:
        return jobs.ItemResult(item, "failed", f"cannot write {item.output}: {exc.strerror or exc}",
                               seconds=time.monotonic() - started)


def _render_locked(item: jobs.BatchItem, index: int, total: int, options: jobs.BatchOptions,
                   template: Path, server_url: str, tmp: Path | None, started: float) -> jobs.ItemResult:
    partial = outputs.partial_path(item.output)
    try:
        duration_s = jobs.check_audio(item.audio)
        audio = to_wav(item.audio, tmp) if jobs.needs_conversion(item.audio) and tmp else item.audio
        bpy.ops.wm.open_mainfile(filepath=str(template), load_ui=False)
        scene = prepare_scene(options, server_url)
        frame_start = scene.frame_start
        _call_operator("generate_from_audio", filepath=str(audio), emotion=options.emotion,
                       strength=options.strength, frame_start=frame_start, transcript=item.transcript)
        scene = bpy.context.scene
        note = transcript_warning(scene)
        strip = sound_strip(scene, audio, frame_start)
        fps = scene.render.fps / scene.render.fps_base
        if duration_s is None:
            duration_s = strip.frame_final_duration / fps
        scene.frame_start = frame_start
        scene.frame_end = frame_start + jobs.frames_for_duration(duration_s, fps) - 1
        written = set_video_output(scene, partial)
        progress = _Progress(index, total, item.audio.name, scene)
        bpy.app.handlers.render_post.append(progress)
        render_started = time.monotonic()
        try:
            result = bpy.ops.render.render(animation=True, scene=scene.name)
        except RuntimeError as exc:
            raise jobs.BatchError(f"render failed: {exc}") from None
        finally:
            bpy.app.handlers.render_post.remove(progress)
        render_s = time.monotonic() - render_started
        if "FINISHED" not in result:
            raise jobs.BatchError(f"render did not finish ({', '.join(result)})")
        jobs.publish(written, item.output)
        return jobs.ItemResult(item, "rendered", note, frames=progress.done,
                               seconds=time.monotonic() - started, render_s=render_s,
                               engine=scene.render.engine)
    except jobs.BatchError as exc:
        return jobs.ItemResult(item, "failed", str(exc), seconds=time.monotonic() - started)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def transcript_warning(scene: bpy.types.Scene) -> str:
    """The server's warning on the transcript of the line just generated (the selected line's
    ``transcript_result`` when it is one: ``"Transcript: <why>"``), "" when the line has none."""
    settings = scene.au_talking_head
    if not 0 <= settings.line_index < len(settings.lines):
        return ""
    said = str(settings.lines[settings.line_index].transcript_result)
    return said if said.startswith(WARNING_PREFIX) else ""


def to_wav(audio: Path, tmp: Path) -> Path:
    """Decode ``audio`` (AAC in MP4/ADTS...) with Blender's own FFmpeg into a 16-bit WAV in ``tmp``.

    Raises:
        BatchError: if Blender cannot read it either.
    """
    import aud
    import numpy as np

    try:
        sound = aud.Sound.file(str(audio))
        samples = np.asarray(sound.data(), dtype=np.float32)  # [N, C]
        rate = int(sound.specs[0])
    except Exception as exc:  # aud raises plain errors for unreadable files
        raise jobs.BatchError(f"cannot decode {audio.name} ({exc}); give WAV, FLAC, OGG, MP3, M4A or "
                              "AAC") from None
    if samples.ndim != 2 or samples.shape[0] == 0:
        raise jobs.BatchError(f"no audio samples in {audio.name}")
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    out = tmp / f"{audio.stem}.wav"
    with wave.open(str(out), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    log.info("converted %s to %s for the model server", audio.name, out.name)
    return out


def _prepare_folders(options: jobs.BatchOptions) -> dict[Path, str]:
    """Create the output folders and remove partial files nobody renders; returns unusable ones -> why."""
    problems: dict[Path, str] = {}
    for folder in sorted({item.output.parent for item in options.items}):
        try:
            outputs.check_writable(folder)
            outputs.remove_stale_partials(folder)
        except (jobs.BatchError, OSError) as exc:
            problems[folder] = str(exc)
    return problems


def run_job(options: jobs.BatchOptions) -> jobs.BatchReport:
    """Render every item of ``options``: skip finished ones, render the rest, report each.

    Another job may render into the same folder at the same time: each video is rendered by one of them
    (per-output locks, partial files named per render). An unwritable folder fails its items, not the job.

    Raises:
        BatchError / JobServerError: for problems of the whole job (no server, no rig generator).
    """
    ensure_registered()
    outputs.remove_orphan_temp_dirs()
    bad_folders = _prepare_folders(options)
    rendered: dict[jobs.BatchItem, jobs.ItemResult] = {}
    todo: list[jobs.BatchItem] = []
    for item in options.items:
        if item.output.parent in bad_folders:
            rendered[item] = jobs.ItemResult(item, "failed", bad_folders[item.output.parent])
        elif not options.force and not jobs.video_problem(item.output):
            print(f"skip {item.audio.name}: {item.output} is already rendered (--force to redo)")
        else:
            todo.append(item)
    if todo:
        tmp = outputs.job_temp_dir()
        try:
            with JobServer(options.server_url) as server:
                template = options.blend
                if template is None:
                    build_default_scene(options)
                    template = tmp / "default_scene.blend"
                    bpy.ops.wm.save_as_mainfile(filepath=str(template), copy=True)
                template = Path(template).resolve()
                for n, item in enumerate(todo, start=1):
                    result = render_item(item, n, len(todo), options, template, server.url, tmp)
                    rendered[item] = result
                    _print_result(n, len(todo), result)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    report = jobs.BatchReport()
    for item in options.items:
        report.results.append(rendered.get(item) or jobs.ItemResult(item, "skipped"))
    return report


def _print_result(n: int, total: int, result: jobs.ItemResult) -> None:
    item = result.item
    text = {"rendered": f"done {item.output}", "skipped": f"skipped ({result.message})"}.get(
        result.status, f"FAILED {result.message}")
    print(f"[{n}/{total}] {item.audio.name}: {text} ({result.seconds:.1f} s)")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """``render`` with ``argv`` (the arguments after ``--`` in Blender); returns the exit code."""
    import argparse

    from . import cli as batch_cli

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="blender -b [scene.blend] --python batch_render/bl_entry.py --")
    batch_cli.configure(parser)
    args = parser.parse_args(list(argv) if argv is not None else [])
    if args.blend is None and bpy.data.filepath:
        args.blend = Path(bpy.data.filepath)  # the .blend Blender was started with
    return batch_cli.run(args)
