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

import logging
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import bpy

from rigs import regions

from . import jobs
from .job_server import JobServer

log = logging.getLogger(__name__)

SPLAT_ENGINE = "AU_TALKING_HEAD_SPLAT"
#: Engine of the default scene when the splat engine is not registered.
FALLBACK_ENGINE = "CYCLES"
DEFAULT_RESOLUTION = (512, 512)
DEFAULT_FPS = 30
#: Face regions the default camera frames (the face, not the whole head).
FACE_REGIONS = (regions.LIPS, regions.EYE_WHITE, regions.IRIS, regions.BROW, regions.EYELASH)


def ensure_registered() -> None:
    """Register the extension's classes if nothing did yet (the bpy module starts with none)."""
    if not hasattr(bpy.types.Scene, "au_talking_head"):
        from blender_addon import register

        register()


# --- scene ---------------------------------------------------------------------------------------


def build_default_scene(options: jobs.BatchOptions) -> None:
    """Replace the open file with the default scene: rig + splat twin, face camera, world, light.

    Raises:
        BatchError: if the rig cannot be generated.
    """
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    _call_operator("generate_rig")
    rig = scene.au_talking_head.rig
    if rig is None:
        raise jobs.BatchError("generate_rig made no rig (scene.au_talking_head.rig is empty)")
    head = face_mesh(scene)
    world = bpy.data.worlds.new("AUTH World")
    world.color = (0.18, 0.18, 0.2)
    scene.world = world
    _add_camera(scene, head)
    light = bpy.data.objects.new("AUTH Key Light", bpy.data.lights.new("AUTH Key Light", "AREA"))
    light.data.energy = 60.0
    light.data.size = 1.0
    scene.collection.objects.link(light)
    cam = scene.camera
    light.location = cam.location + cam.matrix_world.to_3x3() @ _vec(0.6, 0.6, 0.0)
    light.rotation_euler = cam.rotation_euler
    scene.render.resolution_x, scene.render.resolution_y = DEFAULT_RESOLUTION
    scene.render.resolution_percentage = 100
    scene.render.fps, scene.render.fps_base = DEFAULT_FPS, 1.0
    scene.render.film_transparent = False
    scene.render.engine = SPLAT_ENGINE if engine_available(SPLAT_ENGINE) else FALLBACK_ENGINE
    if scene.render.engine == "CYCLES":
        scene.cycles.device = "CPU"
        scene.cycles.samples = 16
    log.info("default scene: rig %s, head %s, engine %s", rig.name, head.name if head else None,
             scene.render.engine)


def _vec(x: float, y: float, z: float):  # type: ignore[no-untyped-def]
    from mathutils import Vector

    return Vector((x, y, z))


def engine_available(idname: str) -> bool:
    """True if ``idname`` is a render engine registered in this Blender."""
    items = bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items
    return idname in {i.identifier for i in items} or any(
        getattr(cls, "bl_idname", None) == idname for cls in bpy.types.RenderEngine.__subclasses__())


def face_mesh(scene: bpy.types.Scene) -> bpy.types.Object | None:
    """The head mesh of the scene: the mesh carrying the face-region attribute, else the largest mesh."""
    meshes = [o for o in scene.objects if o.type == "MESH"]
    tagged = [o for o in meshes if (a := o.data.attributes.get(regions.REGION_ATTRIBUTE)) is not None
              and a.domain == "FACE"]
    pool = tagged or meshes
    return max(pool, key=lambda o: len(o.data.vertices), default=None)


def region_points(obj: bpy.types.Object, codes: Sequence[int], evaluated: bool = True) -> list:
    """World positions of the vertices of ``obj``'s faces whose region is in ``codes``.

    All vertices when ``codes`` is empty or the mesh has no face-region attribute.
    """
    if evaluated:
        depsgraph = bpy.context.evaluated_depsgraph_get()
        eval_obj = obj.evaluated_get(depsgraph)
        mesh = eval_obj.to_mesh()
    else:
        eval_obj, mesh = obj, obj.data
    try:
        attr = mesh.attributes.get(regions.REGION_ATTRIBUTE)
        if attr is None or attr.domain != "FACE" or not codes:
            index = range(len(mesh.vertices))
        else:
            wanted = set(codes)
            index = sorted({v for poly, a in zip(mesh.polygons, attr.data, strict=True) if a.value in wanted
                            for v in poly.vertices})
        matrix = eval_obj.matrix_world
        return [matrix @ mesh.vertices[i].co for i in index]
    finally:
        if evaluated:
            eval_obj.to_mesh_clear()


def _add_camera(scene: bpy.types.Scene, head: bpy.types.Object | None) -> None:
    """Add a camera looking at the face from the front (-Y side, Blender's character convention)."""
    cam = bpy.data.objects.new("AUTH Camera", bpy.data.cameras.new("AUTH Camera"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    cam.data.lens = 85.0
    cam.data.sensor_fit = "AUTO"
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)
    features = region_points(head, FACE_REGIONS, evaluated=False) if head else []
    if not features:
        cam.location = (0.0, -1.0, 0.0)
        return
    everything = region_points(head, (), evaluated=False)
    lo = [min(p[k] for p in features) for k in range(3)]
    hi = [max(p[k] for p in features) for k in range(3)]
    # The whole head from the crown to just below the chin (features: brows to lips), 8% margin.
    top = max(p[2] for p in everything)
    bottom = lo[2] - 0.3 * (hi[2] - lo[2])
    width = max(p[0] for p in everything) - min(p[0] for p in everything)
    half = 0.54 * max(top - bottom, width)
    half_fov = math.atan(cam.data.sensor_width / (2 * cam.data.lens))
    distance = half / math.tan(half_fov)
    front = min(p[1] for p in everything)
    cam.location = ((lo[0] + hi[0]) / 2, front - distance, (top + bottom) / 2)
    cam.data.clip_start = distance * 0.05
    cam.data.clip_end = distance * 20


def world_to_pixels(scene: bpy.types.Scene, points: list) -> list[tuple[float, float]]:
    """Project world points into the rendered image: (x right, y down) in pixels."""
    from bpy_extras.object_utils import world_to_camera_view

    width = scene.render.resolution_x * scene.render.resolution_percentage / 100
    height = scene.render.resolution_y * scene.render.resolution_percentage / 100
    out = []
    for p in points:
        ndc = world_to_camera_view(scene, scene.camera, p)
        out.append((ndc.x * width, (1.0 - ndc.y) * height))
    return out


def region_box_px(scene: bpy.types.Scene, codes: Sequence[int]) -> tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1), y down, of the head's faces in ``codes`` at the current frame."""
    head = face_mesh(scene)
    if head is None:
        raise jobs.BatchError("the scene has no head mesh")
    xy = world_to_pixels(scene, region_points(head, codes))
    xs, ys = [p[0] for p in xy], [p[1] for p in xy]
    return int(min(xs)), int(min(ys)), math.ceil(max(xs)), math.ceil(max(ys))


# --- one input -----------------------------------------------------------------------------------


def _call_operator(name: str, **kwargs: object) -> None:
    """Run ``bpy.ops.au_talking_head.<name>`` synchronously; its error report becomes a BatchError."""
    op = getattr(bpy.ops.au_talking_head, name)
    try:
        result = op(**kwargs)
    except RuntimeError as exc:  # the operator reported an ERROR: its message is the useful part
        message = str(exc).removeprefix("Error: ").strip()
        raise jobs.BatchError(message) from None
    except (AttributeError, KeyError):
        raise jobs.BatchError(f"operator au_talking_head.{name} is not registered: is the extension "
                              "installed and enabled?") from None
    if "FINISHED" not in result:
        raise jobs.BatchError(f"au_talking_head.{name} did not finish ({', '.join(result)})")


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
        render.engine = options.engine
    if options.samples is not None:
        if render.engine == "CYCLES":
            scene.cycles.samples = options.samples
        elif hasattr(scene, "eevee"):
            scene.eevee.taa_render_samples = options.samples
    settings = scene.au_talking_head
    settings.server_url = server_url
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
                template: Path, server_url: str) -> jobs.ItemResult:
    """Render one input to its MP4 (atomically). Never raises for a bad input: the result says why."""
    started = time.monotonic()
    partial = jobs.partial_path(item.output)
    try:
        duration_s = jobs.check_audio(item.audio)
        bpy.ops.wm.open_mainfile(filepath=str(template), load_ui=False)
        scene = prepare_scene(options, server_url)
        frame_start = scene.frame_start
        _call_operator("generate_from_audio", filepath=str(item.audio), emotion=options.emotion,
                       strength=options.strength, frame_start=frame_start)
        scene = bpy.context.scene
        strip = sound_strip(scene, item.audio, frame_start)
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
        return jobs.ItemResult(item, "rendered", frames=progress.done, seconds=time.monotonic() - started,
                               render_s=render_s, engine=scene.render.engine)
    except jobs.BatchError as exc:
        return jobs.ItemResult(item, "failed", str(exc), seconds=time.monotonic() - started)
    finally:
        partial.unlink(missing_ok=True)


def run_job(options: jobs.BatchOptions) -> jobs.BatchReport:
    """Render every item of ``options``: skip finished ones, render the rest, report each.

    Raises:
        BatchError / ServerError: for problems of the whole job (no server, no rig generator).
    """
    ensure_registered()
    report = jobs.BatchReport()
    todo: list[jobs.BatchItem] = []
    for folder in {item.output.parent for item in options.items}:
        folder.mkdir(parents=True, exist_ok=True)
        jobs.remove_stale_partials(folder)
    for item in options.items:
        if not options.force and not jobs.video_problem(item.output):
            print(f"skip {item.audio.name}: {item.output} is already rendered (--force to redo)")
        else:
            todo.append(item)
    rendered: dict[jobs.BatchItem, jobs.ItemResult] = {}
    if todo:
        with tempfile.TemporaryDirectory(prefix="auth-batch-") as tmp, \
                JobServer(options.server_url) as server:
            template = options.blend
            if template is None:
                build_default_scene(options)
                template = Path(tmp) / "default_scene.blend"
                bpy.ops.wm.save_as_mainfile(filepath=str(template), copy=True)
            for n, item in enumerate(todo, start=1):
                result = render_item(item, n, len(todo), options, Path(template).resolve(), server.url)
                rendered[item] = result
                word = "done" if result.status == "rendered" else "FAILED"
                print(f"[{n}/{len(todo)}] {item.audio.name}: {word} "
                      f"{item.output if result.status == 'rendered' else result.message} "
                      f"({result.seconds:.1f} s)")
                sys.stdout.flush()
    for item in options.items:
        report.results.append(rendered.get(item) or jobs.ItemResult(item, "skipped"))
    return report


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
