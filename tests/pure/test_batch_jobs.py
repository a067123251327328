"""The pure half of batch rendering: inputs, names, atomic publishing, validity checks, CLI arguments."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
import wave
from pathlib import Path

import pytest

from batch_render import cli as batch_cli
from batch_render import job_server as batch_server
from batch_render import jobs as batch_jobs
from batch_render import outputs
from batch_render.jobs import BatchError

# ffmpeg/ffprobe are installed by scripts/install.sh: their absence is a failure, not a skip.
assert shutil.which("ffmpeg") and shutil.which("ffprobe"), "ffmpeg is missing: run scripts/install.sh"


def _wav(path: Path, seconds: float = 0.3, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00" * int(seconds * rate))
    return path


def _mp4(path: Path, seconds: float = 0.5) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=10",
                    "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds), "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)], check=True)
    return path


def test_folder_and_files_become_items_named_from_stems(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("b.wav", "a.flac", "notes.txt"):
        (folder / name).write_bytes(b"x")
    other = tmp_path / "other"
    other.mkdir()
    single = other / "a.wav"
    single.write_bytes(b"x")
    items = batch_jobs.collect_items([folder, single], tmp_path / "out")
    assert [i.audio.name for i in items] == ["a.flac", "b.wav", "a.wav"]  # folder sorted, .txt skipped
    assert [i.output.name for i in items] == ["a.mp4", "b.mp4", "a_2.mp4"]  # stable, unique names
    assert all(i.output.parent == (tmp_path / "out").resolve() for i in items)


def test_transcript_sidecars_are_picked_up_and_bad_ones_named(tmp_path: Path) -> None:
    folder = tmp_path / "lines"
    folder.mkdir()
    _wav(folder / "hello.wav")
    _wav(folder / "quiet.wav")
    (folder / "hello.txt").write_text("Hello, Bob! 😀", encoding="utf-8")
    items = batch_jobs.collect_items([folder], tmp_path / "out")
    got = [(i.audio.name, i.transcript) for i in items]
    assert got == [("hello.wav", "Hello, Bob! 😀"), ("quiet.wav", "")]
    (folder / "quiet.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(BatchError, match=r"quiet.wav: the transcript file .*quiet.txt is not UTF-8"):
        batch_jobs.collect_items([folder], tmp_path / "out")


def test_explicit_non_audio_file_is_kept_to_fail_on_its_own(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert [i.audio.name for i in batch_jobs.collect_items([notes], tmp_path)] == ["notes.txt"]


@pytest.mark.parametrize("make", ["missing", "empty_folder"])
def test_missing_input_or_empty_folder_is_a_clear_error(tmp_path: Path, make: str) -> None:
    target = tmp_path / "nothing"
    if make == "empty_folder":
        target.mkdir()
    with pytest.raises(BatchError, match=r"not found|no audio files"):
        batch_jobs.collect_items([target], tmp_path / "out")


def test_partial_file_is_hidden_beside_the_final_one(tmp_path: Path) -> None:
    final = tmp_path / "hello.mp4"
    partial = batch_jobs.partial_path(final)
    assert partial.parent == final.parent and partial.name.startswith(".") and partial != final
    partial.write_bytes(b"half")
    (tmp_path / "keep.mp4").write_bytes(b"x")
    assert batch_jobs.remove_stale_partials(tmp_path) == [partial]
    assert not partial.exists() and (tmp_path / "keep.mp4").exists()


def test_publish_moves_a_valid_video_and_refuses_a_broken_one(tmp_path: Path) -> None:
    final = tmp_path / "clip.mp4"
    partial = _mp4(batch_jobs.partial_path(final))
    batch_jobs.publish(partial, final)
    assert final.exists() and not partial.exists()
    assert batch_jobs.video_problem(final) == ""

    final2 = tmp_path / "clip2.mp4"
    broken = batch_jobs.partial_path(final2)
    data = final.read_bytes()
    broken.write_bytes(data[: len(data) // 2])  # what a killed ffmpeg leaves behind
    with pytest.raises(BatchError, match="no valid video"):
        batch_jobs.publish(broken, final2)
    assert not final2.exists() and not broken.exists()


def test_video_problem_names_what_is_wrong(tmp_path: Path) -> None:
    assert batch_jobs.video_problem(tmp_path / "none.mp4") == "missing"
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert batch_jobs.video_problem(tmp_path / "empty.mp4") == "empty file"
    good = _mp4(tmp_path / "good.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[:-200])
    assert batch_jobs.video_problem(cut) != ""


def test_mp4_boxes_tell_a_finished_file_from_a_cut_one(tmp_path: Path) -> None:
    good = _mp4(tmp_path / "good.mp4")
    boxes = batch_jobs.mp4_top_level_boxes(good)
    assert boxes[0] == "ftyp" and "moov" in boxes
    cut = tmp_path / "cut.mp4"
    data = good.read_bytes()
    moov_at = data.find(b"moov") - 4
    cut.write_bytes(data[:moov_at] if moov_at > 100 else data[: len(data) // 2])
    assert "moov" not in batch_jobs.mp4_top_level_boxes(cut)


def test_check_audio_accepts_speech_and_rejects_text_with_a_clear_message(tmp_path: Path) -> None:
    assert batch_jobs.check_audio(_wav(tmp_path / "ok.wav", 0.3)) == pytest.approx(0.3, abs=0.01)
    text = tmp_path / "readme.wav"
    text.write_text("this is not audio at all\n" * 20)
    with pytest.raises(BatchError, match=r"readme\.wav.*speech recording"):
        batch_jobs.check_audio(text)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(BatchError, match="empty file"):
        batch_jobs.check_audio(empty)
    video_only = tmp_path / "silent.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=5", "-t", "0.4",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(video_only)], check=True)
    with pytest.raises(BatchError, match="no audio stream"):
        batch_jobs.check_audio(video_only)


def test_small_helpers() -> None:
    assert batch_jobs.parse_resolution("384x256") == (384, 256)
    for bad in ("512", "0x10", "axb", "512x99999"):
        with pytest.raises(ValueError, match="resolution"):
            batch_jobs.parse_resolution(bad)
    assert batch_jobs.frames_for_duration(7.47, 25) == 187  # ceil(186.75)
    assert batch_jobs.frames_for_duration(2.0, 30) == 60  # exact: no extra frame
    assert batch_jobs.frames_for_duration(0.0, 30) == 1
    line = batch_jobs.progress_line(2, 5, "hi.wav", 30, 120, 6.0)
    assert line.startswith("[2/5] hi.wav") and "30/120" in line and "25%" in line and "0.20 s/frame" in line


def test_report_exit_code_and_summary(tmp_path: Path) -> None:
    item = batch_jobs.BatchItem(tmp_path / "a.wav", tmp_path / "a.mp4")
    bad = batch_jobs.BatchItem(tmp_path / "b.txt", tmp_path / "b.mp4")
    ok = batch_jobs.BatchReport([batch_jobs.ItemResult(item, "rendered")])
    assert ok.exit_code() == 0
    mixed = batch_jobs.BatchReport([batch_jobs.ItemResult(item, "skipped"),
                                    batch_jobs.ItemResult(bad, "failed", "no audio stream in b.txt")])
    assert mixed.exit_code() == 1
    assert "1 failed" in mixed.summary() and "no audio stream in b.txt" in mixed.summary()
    # a rendered line whose transcript was not used says so in the summary; the job still succeeds
    noted = batch_jobs.BatchReport([batch_jobs.ItemResult(item, "rendered", "Transcript: no voice 'xx'")])
    assert noted.exit_code() == 0 and f"NOTE {item.audio}: Transcript: no voice 'xx'" in noted.summary()
    assert "NOTE" not in ok.summary()


def _render_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    batch_cli.configure(parser)
    return parser.parse_args(argv)


def test_render_arguments_build_the_job(tmp_path: Path) -> None:
    clip = _wav(tmp_path / "line one.wav")
    args = _render_args([str(clip), "-o", str(tmp_path / "out"), "--fps", "25", "--emotion", "HAPPINESS",
                         "--strength", "0.4", "--resolution", "320x240", "--force"])
    options = batch_cli.options_from_args(args)
    assert options.items[0].output.name == "line one.mp4"
    assert (options.fps, options.emotion, options.strength, options.resolution, options.force) == \
        (25.0, "HAPPINESS", 0.4, (320, 240), True)
    assert options.blend is None and options.server_url is None
    assert options.language is None  # the .blend's own panel setting
    french = batch_cli.options_from_args(_render_args([str(clip), "-o", str(tmp_path), "--language",
                                                       "fr-CA"]))
    assert french.language == "fr-CA"
    assert options.precise is None  # the .blend's own Precise Lips toggle
    precise = batch_cli.options_from_args(_render_args([str(clip), "-o", str(tmp_path), "--precise"]))
    assert precise.precise is True


@pytest.mark.parametrize("argv", [["--strength", "2"], ["--resolution", "big"], ["--emotion", "JOY"],
                                  ["--fps", "0"], ["--language", "../fr"]])
def test_bad_render_arguments_are_refused(tmp_path: Path, argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        _render_args(["a.wav", "-o", str(tmp_path), *argv])


def test_render_command_reports_a_missing_input_and_blend(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    from model_server.cli import main

    assert main(["render", str(tmp_path / "nope.wav"), "-o", str(tmp_path)]) == 2
    assert "input not found" in capsys.readouterr().err
    clip = _wav(tmp_path / "a.wav")
    assert main(["render", str(clip), "-o", str(tmp_path), "--blend", str(tmp_path / "x.blend")]) == 2
    assert "--blend: no such file" in capsys.readouterr().err


def test_unreachable_server_is_reported(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{batch_server.free_port()}"
    assert not batch_server.is_reachable(url)
    with pytest.raises(batch_server.JobServerError, match="does not answer"), batch_server.JobServer(url):
        pass


# --- issue 18: shared output folders, unwritable folders, AAC inputs, a killed job's leftovers ------------

_HOLD_LOCK = """
import sys, time
from pathlib import Path
from batch_render import outputs
with outputs.item_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold_lock(final: Path, seconds: float) -> subprocess.Popen:
    """Another process holding ``final``'s render lock for ``seconds`` (started and holding on return)."""
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(final), str(seconds)], cwd=root,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_two_renders_of_one_output_use_different_partial_files(tmp_path: Path) -> None:
    final = tmp_path / "line.mp4"
    first, second = outputs.partial_path(final), outputs.partial_path(final)
    assert first != second and first.parent == second.parent == tmp_path
    assert first.name.startswith(".line.") and first.name.endswith(outputs.PARTIAL_SUFFIX)
    assert outputs.final_of_partial(first) == final
    assert outputs.final_of_partial(tmp_path / ".line.partial.mp4") == final  # an older version's name


def test_item_lock_keeps_a_second_job_out_until_the_first_is_done(tmp_path: Path) -> None:
    final = tmp_path / "line.mp4"
    holder = _hold_lock(final, 1.5)
    try:
        with outputs.item_lock(final, wait=False) as got:
            assert got is False
        waited: list[bool] = []
        started = time.monotonic()
        with outputs.item_lock(final, on_wait=lambda: waited.append(True)) as got:
            assert got is True and waited == [True]
            assert time.monotonic() - started > 0.5
    finally:
        holder.wait(10)


def test_stale_partials_are_removed_but_not_a_running_render(tmp_path: Path) -> None:
    running = outputs.partial_path(tmp_path / "busy.mp4")
    stale = outputs.partial_path(tmp_path / "old.mp4")
    running.write_bytes(b"half")
    stale.write_bytes(b"half")
    holder = _hold_lock(tmp_path / "busy.mp4", 3.0)
    try:
        assert outputs.remove_stale_partials(tmp_path) == [stale]
        assert running.exists() and not stale.exists()
    finally:
        holder.kill()
        holder.wait(10)


def test_unwritable_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    with pytest.raises(BatchError, match=r"cannot write to the output folder .*choose another folder"):
        outputs.check_writable(blocker / "renders")
    outputs.check_writable(tmp_path / "fine" / "renders")
    assert list((tmp_path / "fine" / "renders").iterdir()) == []


def test_temp_folders_of_jobs_that_died_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = tmp_path / f"{outputs.TEMP_PREFIX}{dead.pid}-abc"
    (orphan / "sub").mkdir(parents=True)
    mine = tmp_path / f"{outputs.TEMP_PREFIX}{os.getpid()}-xyz"
    mine.mkdir()
    assert outputs.remove_orphan_temp_dirs(tmp_path) == [orphan]
    assert not orphan.exists() and mine.exists()


def test_aac_inputs_are_picked_up_and_marked_for_conversion(tmp_path: Path) -> None:
    m4a = tmp_path / "line.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=300:duration=0.5",
                    "-c:a", "aac", str(m4a)], check=True)
    disguised = tmp_path / "other.wav"
    disguised.write_bytes(m4a.read_bytes())
    plain = _wav(tmp_path / "plain.wav")
    items = batch_jobs.collect_items([tmp_path], tmp_path / "out")
    assert [i.audio.name for i in items] == ["line.m4a", "other.wav", "plain.wav"]
    assert [batch_jobs.needs_conversion(i.audio) for i in items] == [True, True, False]
    assert batch_jobs.needs_conversion(plain) is False
