"""start_server, stop_server, check_server in background mode: a real server process started by the add-on."""

from __future__ import annotations

import json
import sys
import urllib.request
from types import ModuleType

import pytest

from tests.blender.addon_fixtures import free_port
from tests.blender.conftest import EXTENSION_MODULE


def test_start_check_and_stop_a_server(fresh: ModuleType) -> None:
    bpy = fresh
    settings = bpy.context.scene.au_talking_head
    settings.server_url = f"http://127.0.0.1:{free_port()}"
    ops = sys.modules[f"{EXTENSION_MODULE}.operators.bl_server"]
    assert not bpy.ops.au_talking_head.stop_server.poll()
    assert bpy.ops.au_talking_head.start_server() == {"FINISHED"}
    try:
        proc = ops._PROCESS
        assert proc is not None and proc.alive
        with urllib.request.urlopen(settings.server_url + "/v1/health", timeout=5) as resp:
            assert "server_version" in json.loads(resp.read())
        assert ops.status()[0] == "RUNNING" and "started here" in ops.status()[1]
        assert not bpy.ops.au_talking_head.start_server.poll(), "one server from Blender at a time"
        assert bpy.ops.au_talking_head.check_server() == {"FINISHED"}
    finally:
        assert bpy.ops.au_talking_head.stop_server() == {"FINISHED"}
    assert proc.process.wait(timeout=20) is not None
    assert ops.status()[0] == "STOPPED"


def test_start_server_reports_when_no_python_can_run_it(fresh: ModuleType, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path) -> None:  # type: ignore[no-untyped-def]
    bpy = fresh
    launch = sys.modules[f"{EXTENSION_MODULE}.server.launch"]
    monkeypatch.setattr(launch.sys, "executable", str(tmp_path / "no-python"))
    monkeypatch.setenv("AU_TALKING_HEAD_PYTHON", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("PATH", str(tmp_path))
    bpy.context.scene.au_talking_head.server_url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RuntimeError, match="cannot start the model server: tried"):
        bpy.ops.au_talking_head.start_server()
