"""The sidebar panel's draw() with a recording layout, and the reasons greyed-out buttons give."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from tests.blender.conftest import EXTENSION_MODULE


class RecordingLayout:
    """A stand-in for ``bpy.types.UILayout`` that records every call (draw() is tested, not Blender)."""

    def __init__(self, calls: list[tuple[str, tuple, dict]], path: str = "layout") -> None:
        object.__setattr__(self, "_calls", calls)
        object.__setattr__(self, "_path", path)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            self._calls.append((name, args, kwargs))
            if name in ("row", "column", "box", "split", "column_flow", "grid_flow"):
                return RecordingLayout(self._calls, f"{self._path}.{name}")
            return SimpleNamespace()  # operator() returns properties; draw() sets none
        return call

    def __setattr__(self, name: str, value: object) -> None:
        self._calls.append(("set:" + name, (value,), {}))


def _draw(bpy: ModuleType) -> list[tuple[str, tuple, dict]]:
    calls: list[tuple[str, tuple, dict]] = []
    panel = bpy.types.VIEW3D_PT_au_talking_head
    panel.draw(SimpleNamespace(layout=RecordingLayout(calls)), bpy.context)
    return calls


def _props(calls: list) -> list[str]:
    return [args[1] for name, args, _ in calls if name == "prop"]


def _operators(calls: list) -> list[str]:
    return [args[0] for name, args, _ in calls if name == "operator"]


def _labels(calls: list) -> list[str]:
    return [kw.get("text", "") for name, _, kw in calls if name == "label"]


def test_draw_shows_every_control(fresh: ModuleType) -> None:
    calls = _draw(fresh)
    for prop in ("server_url", "rig", "audio_path", "frame_start", "emotion", "strength", "blinks", "prosody",
                 "smoothing", "seed", "tolerance", "transcript", "language"):
        assert prop in _props(calls), prop
    ops = _operators(calls)
    for op in ("start_server", "stop_server", "generate_from_audio", "regenerate", "bake"):
        assert f"au_talking_head.{op}" in ops, op
    if hasattr(fresh.ops.au_talking_head, "generate_rig") and _registered(fresh, "generate_rig"):
        assert "au_talking_head.generate_rig" in ops
    assert any(label.startswith("Server: ") for label in _labels(calls))
    assert not any(label.startswith("Estimated lag") for label in _labels(calls)), "no run yet, no summary"


def _registered(bpy: ModuleType, name: str) -> bool:
    try:
        getattr(bpy.ops.au_talking_head, name).get_rna_type()
    except KeyError:
        return False
    return True


def test_draw_shows_the_quality_summary_and_the_last_error(fresh: ModuleType) -> None:
    settings = fresh.context.scene.au_talking_head
    settings.has_quality = True
    settings.quality_has_lag, settings.quality_lag_ms = True, 33.0
    settings.quality_closures, settings.quality_jitter = 7, 0.0123
    labels = _labels(_draw(fresh))
    assert "Estimated lag: +33 ms" in labels and "Lip closures: 7" in labels and "Jitter: 0.012" in labels
    gen = sys.modules[f"{EXTENSION_MODULE}.operators.bl_animate"]
    gen.last_error = "no model server at http://127.0.0.1:1"
    try:
        assert any("Failed: no model server" in label for label in _labels(_draw(fresh)))
    finally:
        gen.last_error = ""


@pytest.mark.parametrize("op, reason", [
    ("generate_from_audio", "Pick a rig first"),
    ("regenerate", "Pick a rig first"),
    ("bake", "Pick or generate a rig first"),
    ("stop_server", "No server was started from this Blender"),
])
def test_greyed_out_buttons_say_why(fresh: ModuleType, op: str, reason: str) -> None:
    operator = getattr(fresh.ops.au_talking_head, op)
    assert not operator.poll()
    with pytest.raises(RuntimeError, match=reason):
        operator()


def test_regenerate_needs_a_first_generation(fresh: ModuleType) -> None:
    bpy = fresh
    ctl = bpy.data.objects.new("Control", None)
    bpy.context.scene.collection.objects.link(ctl)
    from au_contract import AU_CODES, CONTROL_MARKER_PROP, EMOTION_PROPS

    for name in (*AU_CODES, *EMOTION_PROPS.values()):
        ctl[name] = 0.0
    ctl[CONTROL_MARKER_PROP] = 1
    bpy.context.scene.au_talking_head.rig = ctl
    assert bpy.ops.au_talking_head.generate_from_audio.poll()
    with pytest.raises(RuntimeError, match="Nothing to regenerate yet"):
        bpy.ops.au_talking_head.regenerate()


def test_panel_shows_the_model_version_the_real_server_reported(fresh: ModuleType, tmp_path: Path) -> None:
    """A real server process's /v1/health, read by the contract, is what the panel's status line says."""
    import httpx

    from au_contract.connection import HEALTH_PATH
    from au_contract.health import HealthInfo
    from tests.server.server_harness import ServerProcess

    proc = ServerProcess(tmp_path).wait_ready()
    try:
        reported = HealthInfo.from_dict(httpx.get(proc.url + HEALTH_PATH, timeout=10).json())
        assert reported.model_loaded and reported.model_version
        fresh.context.scene.au_talking_head.server_url = proc.url
        assert fresh.ops.au_talking_head.check_server() == {"FINISHED"}
        calls = _draw(fresh)
        status = [(kw.get("text"), kw.get("icon")) for name, _, kw in calls
                  if name == "label" and kw.get("text", "").startswith("Server: ")]
        assert status == [(f"Server: running: model {reported.model_version} on {reported.device}",
                           "CHECKMARK")]
    finally:
        proc.stop()
    assert fresh.ops.au_talking_head.check_server() == {"FINISHED"}
    assert "Server: not running (unreachable)" in _labels(_draw(fresh))


def test_lines_list_draws_the_lines_and_their_buttons(fresh: ModuleType) -> None:
    bpy = fresh
    settings = bpy.context.scene.au_talking_head
    line = settings.lines.add()
    line.name, line.uid, line.frame_start, line.frame_count, line.emotion = "hello", 1, 200, 90, "SADNESS"
    settings.line_index = 0
    calls: list[tuple[str, tuple, dict]] = []
    panel = bpy.types.VIEW3D_PT_au_talking_head_lines
    panel.draw(SimpleNamespace(layout=RecordingLayout(calls)), bpy.context)
    lists = [args for name, args, _ in calls if name == "template_list"]
    assert lists and lists[0][0] == "AUTH_UL_lines"
    assert lists[0][2:] == (settings, "lines", settings, "line_index")
    for op in ("regenerate", "move_line", "remove_line"):
        assert f"au_talking_head.{op}" in _operators(calls), op
    assert any(label.startswith("hello: Sadness") for label in _labels(calls))
    # one row of the list: mute toggle, name, frames, emotion
    row: list[tuple[str, tuple, dict]] = []
    bpy.types.AUTH_UL_lines.draw_item(None, bpy.context, RecordingLayout(row), settings, line, 0, settings,
                                      "line_index")
    assert _props(row) == ["mute"] and "200-289" in _labels(row) and "Sadness" in _labels(row)
    with pytest.raises(RuntimeError, match=r"Nothing to regenerate yet|Pick a rig first"):
        bpy.ops.au_talking_head.regenerate()
