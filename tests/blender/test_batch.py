"""Batch rendering with the real bpy, the installed extension and a real model server process.

The machinery tests render tiny videos (64x64, 10 fps, Cycles with 1 sample on the CPU): what they
check is the job (names, sound, atomic output, resume, failures), not the look.
"""

from __future__ import annotations

import importlib
import os
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import soundfile

from tests.blender.conftest import ROOT

DEMO_CLIP = ROOT / "assets" / "demo_speech.wav"


def batch(name: str) -> ModuleType:
    """A module of the batch renderer (imported lazily: ``bl_render`` imports bpy, which must be imported
    after the blender tier's conftest has set up Blender's user folders)."""
    return importlib.import_module(f"batch_render.{name}")


@pytest.fixture(scope="module")
def server_url(installed_addon: ModuleType) -> Iterator[str]:
    """A real model server process of our own for this module's jobs."""
    server = batch("job_server").JobServer(reuse_default=False)
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two short speech clips cut from the bundled one, in a folder, plus a text file posing as audio."""
    folder = tmp_path_factory.mktemp("clips")
    audio, rate = soundfile.read(DEMO_CLIP, dtype="float32")
    soundfile.write(folder / "first line.wav", audio[: int(0.8 * rate)], rate)
    soundfile.write(folder / "second.flac", audio[int(2.1 * rate): int(2.7 * rate)], rate)
    bad = tmp_path_factory.mktemp("bad") / "notes.wav"
    bad.write_text("meeting notes, not a recording\n" * 40)
    return {"folder": folder, "first": folder / "first line.wav", "second": folder / "second.flac",
            "bad": bad}


def _options(addon: ModuleType, items: list, server_url: str, **kw: object):  # type: ignore[no-untyped-def]
    jobs = batch("jobs")
    values = {"fps": 10.0, "resolution": (64, 64), "engine": "CYCLES", "samples": 1, "server_url": server_url}
    values.update(kw)
    return jobs.BatchOptions(items=items, **values)


def _streams(path: Path) -> dict[str, float]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,duration", "-of",
                          "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout
    return {line.split(",")[0]: float(line.split(",")[1]) for line in out.split()}


def test_folder_of_two_clips_gives_two_mp4s_with_sound(fresh: ModuleType, installed_addon: ModuleType,
                                                     clips: dict[str, Path], server_url: str,
                                                     tmp_path: Path) -> None:
    jobs = batch("jobs")
    items = jobs.collect_items([clips["folder"]], tmp_path / "out")
    report = batch("bl_render").run_job(_options(installed_addon, items, server_url))
    assert [r.status for r in report.results] == ["rendered", "rendered"], report.summary()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["first line.mp4", "second.mp4"]
    for name, seconds in (("first line.mp4", 0.8), ("second.mp4", 0.6)):
        streams = _streams(tmp_path / "out" / name)
        assert set(streams) == {"h264", "aac"}, streams
        assert streams["h264"] == pytest.approx(seconds, abs=0.1 + 1e-6)
        assert streams["aac"] == pytest.approx(seconds, abs=0.1)
    # the rig was really animated from the audio: the generated AU curves exist in the last scene
    rig = fresh.context.scene.au_talking_head.rig
    assert rig is not None and rig.animation_data is not None


def test_transcripts_are_read_in_the_jobs_language_and_their_warnings_reported(
        fresh: ModuleType, installed_addon: ModuleType, clips: dict[str, Path], server_url: str,
        tmp_path: Path) -> None:
    # --language reaches the server with each line's sidecar transcript; a line whose transcript could not
    # be used is still rendered, and the job's report says why (a user rendering a folder of French lines
    # must not find out from the videos that the transcripts were read as English)
    folder = tmp_path / "lines"
    folder.mkdir()
    shutil.copy(clips["first"], folder / "hello.wav")
    (folder / "hello.txt").write_text("Bonjour tout le monde.", encoding="utf-8")
    shutil.copy(clips["second"], folder / "plain.flac")  # no transcript: nothing to report
    jobs = batch("jobs")
    items = jobs.collect_items([folder], tmp_path / "out")
    assert [i.transcript for i in items] == ["Bonjour tout le monde.", ""]
    report = batch("bl_render").run_job(_options(installed_addon, items, server_url, language="xx-nope",
                                                 precise=True))
    assert [r.status for r in report.results] == ["rendered", "rendered"], report.summary()
    note = report.results[0].message
    assert note.startswith("Transcript: ") and "no voice 'xx-nope'" in note, note
    assert report.results[1].message == "" and report.exit_code() == 0
    assert f"NOTE {items[0].audio}: Transcript: " in report.summary()
    assert fresh.context.scene.au_talking_head.language == "xx-nope"  # the job's language, not the .blend's
    assert fresh.context.scene.au_talking_head.precise is True  # --precise reaches the lines' requests


def test_bad_input_fails_alone_with_a_clear_message(fresh: ModuleType, installed_addon: ModuleType,
                                                  clips: dict[str, Path], server_url: str,
                                                  tmp_path: Path) -> None:
    jobs = batch("jobs")
    items = jobs.collect_items([clips["bad"], clips["second"]], tmp_path)
    report = batch("bl_render").run_job(_options(installed_addon, items, server_url))
    bad, good = report.results
    assert (bad.status, good.status) == ("failed", "rendered")
    assert "notes.wav" in bad.message and "speech recording" in bad.message
    assert report.exit_code() == 1
    assert not (tmp_path / "notes.mp4").exists() and (tmp_path / "second.mp4").exists()
    assert not list(tmp_path.glob(".*")), "no temporary file may be left behind"


def test_resume_skips_finished_videos_and_redoes_broken_ones(fresh: ModuleType, installed_addon: ModuleType,
                                                            clips: dict[str, Path], server_url: str,
                                                            tmp_path: Path) -> None:
    jobs, render = batch("jobs"), batch("bl_render")
    items = jobs.collect_items([clips["first"], clips["second"]], tmp_path)
    assert [r.status for r in render.run_job(_options(installed_addon, items, server_url)).results] == \
        ["rendered", "rendered"]
    first, second = (item.output for item in items)
    stamp = first.stat().st_mtime_ns
    data = second.read_bytes()
    second.write_bytes(data[: len(data) // 2])  # as if an older tool had been killed mid-write
    report = render.run_job(_options(installed_addon, items, server_url))
    assert [r.status for r in report.results] == ["skipped", "rendered"]
    assert first.stat().st_mtime_ns == stamp, "a finished video must not be rendered again"
    assert jobs.video_problem(second) == ""
    forced = render.run_job(_options(installed_addon, items[:1], server_url, force=True))
    assert forced.results[0].status == "rendered" and first.stat().st_mtime_ns != stamp


def test_failed_render_keeps_the_old_video_and_leaves_no_file(fresh: ModuleType, installed_addon: ModuleType,
                                                             clips: dict[str, Path], server_url: str,
                                                             tmp_path: Path) -> None:
    jobs, render = batch("jobs"), batch("bl_render")
    items = jobs.collect_items([clips["second"], clips["first"]], tmp_path)
    old = items[0].output
    assert render.run_job(_options(installed_addon, items[:1], server_url)).results[0].status == "rendered"
    before = old.read_bytes()
    # H.264 refuses odd frame sizes: ffmpeg fails when the render starts writing.
    report = render.run_job(_options(installed_addon, items, server_url, force=True, resolution=(63, 63)))
    assert [r.status for r in report.results] == ["failed", "failed"]
    assert "divisible by 2" in report.results[0].message
    assert old.read_bytes() == before, "a failed re-render must not touch the finished video"
    assert not items[1].output.exists()
    assert not list(tmp_path.glob(".*")), "no temporary file may be left behind"


def test_entry_script_runs_the_job_as_blender_would(fresh: ModuleType, clips: dict[str, Path],
                                                   server_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # What `blender -b --python batch_render/bl_entry.py -- ARGS` does, in this bpy process.
    argv = ["blender", "-b", "--python", "bl_entry.py", "--", str(clips["second"]), str(clips["bad"]),
            "-o", str(tmp_path), "--fps", "10", "--resolution", "64x64", "--engine", "CYCLES",
            "--samples", "1", "--server", server_url]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "batch_render" / "bl_entry.py"), run_name="__main__")
    assert exit_info.value.code == 1  # one input failed; the other was still rendered
    assert (tmp_path / "second.mp4").exists() and not (tmp_path / "notes.mp4").exists()


@pytest.mark.slow
def test_killed_render_leaves_nothing_under_the_final_name_and_resumes(clips: dict[str, Path],
                                                                      server_url: str,
                                                                      tmp_path: Path) -> None:
    """A real crash: the render process is killed with SIGKILL half way, then the job is run again."""
    exe = shutil.which("au-talking-head", path=str(ROOT / ".venv" / "bin")) or "au-talking-head"
    cmd = [exe, "render", str(DEMO_CLIP), "-o", str(tmp_path), "--fps", "10", "--resolution", "64x64",
           "--engine", "CYCLES", "--samples", "1", "--server", server_url]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    final = tmp_path / "demo_speech.mp4"

    def partials() -> list[Path]:  # named per render: .demo_speech.<pid>-<tag>.partial.mp4
        return list(tmp_path.glob(".demo_speech.*partial.mp4"))

    deadline = time.monotonic() + 300
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until a few frames are in the temporary file
        if "frame " in line and partials() and partials()[0].stat().st_size > 0:
            frame = int(line.split("frame ")[1].split("/")[0])
            if frame >= 20:
                break
        assert time.monotonic() < deadline, "render did not start"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not final.exists(), "a killed render must not leave a file under the final name"
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert final.exists() and not partials()
    streams = _streams(final)
    assert set(streams) == {"h264", "aac"}
    assert streams["h264"] == pytest.approx(soundfile.info(DEMO_CLIP).duration, abs=0.15)
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert rerun.returncode == 0 and "already rendered" in rerun.stdout


def test_user_blend_is_rendered_with_its_own_settings(fresh: ModuleType, installed_addon: ModuleType,
                                                      clips: dict[str, Path], server_url: str,
                                                      tmp_path: Path) -> None:
    bpy = fresh
    assert bpy.ops.au_talking_head.generate_rig() == {"FINISHED"}
    scene = bpy.context.scene
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    scene.collection.objects.link(cam)
    cam.location, cam.rotation_euler = (0.0, -3.0, 1.6), (1.5708, 0.0, 0.0)
    scene.camera = cam
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 1
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 96, 64, 50
    scene.render.fps = 12
    blend = tmp_path / "my scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    items = batch("jobs").collect_items([clips["second"]], tmp_path / "out")
    report = batch("bl_render").run_job(_options(installed_addon, items, server_url,
                                                               blend=blend, resolution=None, engine=None,
                                                               fps=None))
    assert report.results[0].status == "rendered", report.summary()
    dims = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                           "stream=width,height,r_frame_rate", "-of", "csv=p=0", str(items[0].output)],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert dims == "48,32,12/1", "the .blend's own resolution (and percentage) and fps must be kept"


def test_blend_without_rig_fails_with_an_actionable_message(fresh: ModuleType, installed_addon: ModuleType,
                                                            clips: dict[str, Path], server_url: str,
                                                            tmp_path: Path) -> None:
    bpy = fresh
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    bpy.context.scene.collection.objects.link(cam)
    bpy.context.scene.camera = cam
    blend = tmp_path / "no_rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    items = batch("jobs").collect_items([clips["second"]], tmp_path)
    options = _options(installed_addon, items, server_url, blend=blend)
    report = batch("bl_render").run_job(options)
    assert report.results[0].status == "failed"
    assert "no rig" in report.results[0].message and "--blend" in report.results[0].message
    assert not items[0].output.exists()


def _render_cmd(inputs: list[Path], out: Path, server_url: str | None) -> list[str]:
    exe = shutil.which("au-talking-head", path=str(ROOT / ".venv" / "bin")) or "au-talking-head"
    cmd = [exe, "render", *map(str, inputs), "-o", str(out), "--fps", "10", "--resolution", "64x64",
           "--engine", "CYCLES", "--samples", "1"]
    return cmd + (["--server", server_url] if server_url else [])


def test_two_jobs_on_one_folder_render_each_input_once(clips: dict[str, Path], server_url: str,
                                                       tmp_path: Path) -> None:
    """Issue 18: two jobs, same inputs in opposite orders, one output folder, at the same time."""
    audio, rate = soundfile.read(DEMO_CLIP, dtype="float32")
    lengths = {"a": 0.4, "b": 0.7, "c": 1.0}  # distinct lengths tell the videos apart
    inputs = []
    for name, seconds in lengths.items():
        inputs.append(tmp_path / f"{name}.wav")
        soundfile.write(inputs[-1], audio[int(1.0 * rate): int((1.0 + seconds) * rate)], rate)
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    orders = (inputs, inputs[::-1])
    jobs = [subprocess.Popen(_render_cmd(order, out, server_url), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env) for order in orders]
    logs = [job.communicate(timeout=600)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], "\n".join(log[-3000:] for log in logs)
    for name, seconds in lengths.items():
        video = out / f"{name}.mp4"
        done = sum(log.count(f"{name}.wav: done ") for log in logs)
        assert done == 1, f"{name}.mp4 reported done {done} times:\n" + "\n".join(logs)
        assert _streams(video)["h264"] == pytest.approx(seconds, abs=0.1 + 1e-6), f"wrong video under {name}"
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mp4", "c.mp4"], "no partial file left"
    print("\n".join(line for log in logs for line in log.splitlines() if ".wav: " in line or "skip " in line))


def test_killed_job_leaves_no_server_and_no_temp_folder(clips: dict[str, Path], tmp_path: Path) -> None:
    """Issue 18: a job killed with -9 after starting its own server; the server exits by itself and the
    job's temporary folder is removed by the next job."""
    from batch_render import outputs

    env = dict(os.environ, OMP_NUM_THREADS="1")
    job = subprocess.Popen(_render_cmd([clips["second"]], tmp_path, None), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=env)
    server_pid = None
    assert job.stdout is not None
    for line in job.stdout:
        if "started model server pid" in line:
            server_pid = int(line.split("pid ")[1].split()[0].rstrip(":"))
        if "model server for this job at" in line:
            break
    assert server_pid is not None, "the job did not start its own server"
    temp_dirs = list(Path(tempfile.gettempdir()).glob(f"{outputs.TEMP_PREFIX}{job.pid}-*"))
    assert temp_dirs, "the job's temporary folder is named after its pid"
    job.kill()
    job.wait(30)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{server_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{server_pid}").exists(), "the job's server outlived the job"
    assert set(temp_dirs) <= set(outputs.remove_orphan_temp_dirs()), "the next job removes the folder"
    assert not any(p.exists() for p in temp_dirs)
