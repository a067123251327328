"""Dialog mode in Blender: the Generate panel's transcript field and the ``<audio>.txt`` sidecar."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.blender.addon_fixtures import Clip, espeak_clip, make_rig

TEXT = "mama made my map"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return espeak_clip(tmp_path_factory.mktemp("dialog"), TEXT, "line")


def test_sidecar_transcript_is_picked_up_and_recorded(fresh: ModuleType, model_server, clip: Clip) -> None:
    bpy = fresh
    make_rig(bpy)
    settings = bpy.context.scene.au_talking_head
    settings.server_url = model_server.url
    sidecar = clip.path.with_suffix(".txt")
    sidecar.write_text(TEXT + "\n", encoding="utf-8")
    try:
        assert bpy.ops.au_talking_head.generate_from_audio(filepath=str(clip.path)) == {"FINISHED"}
    finally:
        sidecar.unlink()
    line = settings.lines[0]
    assert line.transcript == TEXT + "\n"
    assert "Transcript:" not in settings.last_message
    assert line.transcript_result.startswith("Transcript used")


def test_panel_transcript_with_an_unknown_language_warns_but_generates(fresh: ModuleType, model_server,
                                                                      clip: Clip) -> None:
    bpy = fresh
    make_rig(bpy)
    settings = bpy.context.scene.au_talking_head
    settings.server_url = model_server.url
    settings.transcript, settings.language = TEXT, "xx-nope"
    assert bpy.ops.au_talking_head.generate_from_audio(filepath=str(clip.path)) == {"FINISHED"}
    assert "Transcript: espeak-ng has no voice 'xx-nope'" in settings.last_message
    assert settings.lines[0].transcript == TEXT
    # the line keeps the server's verdict on its transcript: a dialogue scene's lines each say theirs
    assert settings.lines[0].transcript_result.startswith("Transcript: espeak-ng has no voice 'xx-nope'")


def test_a_sidecar_that_is_not_utf8_changes_nothing(fresh: ModuleType, model_server, clip: Clip,
                                                   tmp_path: Path) -> None:
    bpy = fresh
    make_rig(bpy)
    settings = bpy.context.scene.au_talking_head
    settings.server_url = model_server.url
    wav = tmp_path / "bad.wav"
    wav.write_bytes(clip.path.read_bytes())
    wav.with_suffix(".txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(RuntimeError, match=r"Nothing changed: the transcript file .*bad.txt is not UTF-8"):
        bpy.ops.au_talking_head.generate_from_audio(filepath=str(wav))
    assert len(settings.lines) == 0


def test_regenerating_an_earlier_line_reads_that_lines_own_transcript(fresh: ModuleType, model_server,
                                                                      clip: Clip, tmp_path: Path) -> None:
    # a dialogue scene: line A typed in the panel, then line B typed in the panel, then line C from a file
    # with its <audio>.txt. Picking A in the list and pressing Regenerate must read A's text in A's
    # language, not B's (the panel's last); picking C leaves the field to C's file, so the next new line
    # reads its own file too
    bpy = fresh
    make_rig(bpy)
    settings = bpy.context.scene.au_talking_head
    settings.server_url = model_server.url
    other = espeak_clip(tmp_path, "bob paid for my baby", "other")
    third = espeak_clip(tmp_path, "my mom makes maps", "third")
    third.path.with_suffix(".txt").write_text("my mom makes maps", encoding="utf-8")
    settings.transcript, settings.language = TEXT, "en-US"
    generate = bpy.ops.au_talking_head.generate_from_audio
    assert generate(filepath=str(clip.path), frame_start=1) == {"FINISHED"}
    settings.transcript, settings.language = "bob paid for my baby", "en"
    assert generate(filepath=str(other.path), frame_start=200) == {"FINISHED"}
    settings.transcript = ""
    assert generate(filepath=str(third.path), frame_start=400) == {"FINISHED"}
    lines = {line.transcript: i for i, line in enumerate(settings.lines)}
    assert set(lines) == {TEXT, "bob paid for my baby", "my mom makes maps"}
    settings.line_index = lines[TEXT]
    assert (settings.transcript, settings.language) == (TEXT, "en-US")
    assert bpy.ops.au_talking_head.regenerate() == {"FINISHED"}
    first = settings.lines[lines[TEXT]]
    assert first.transcript == TEXT and first.language == "en-US"
    assert "Transcript:" not in settings.last_message  # A's text matched A's audio ...
    assert "Transcript used (en-us)" in settings.last_message  # ... in the voice of A's language tag
    assert first.transcript_result.startswith("Transcript used (en-us): ")
    assert " p/b/m closed" in settings.lines[lines["bob paid for my baby"]].transcript_result
    settings.line_index = lines["my mom makes maps"]
    assert settings.transcript == ""  # the line's transcript is its file's
    assert bpy.ops.au_talking_head.regenerate() == {"FINISHED"}
    assert settings.lines[lines["my mom makes maps"]].transcript == "my mom makes maps"
