"""Operators ``start_server``, ``stop_server`` and ``check_server``; the server status shown in the panel.

The add-on starts the server as a child process (``server_launch``), waits for ``/v1/health`` (from a
modal timer in the UI, synchronously in background mode) and stops only a process it started itself.
In the UI a timer checks the server's health every few seconds in a background thread, so the panel's
status is current without ever blocking a redraw.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import bpy

from au_contract import errors as codes

from .. import bl_props
from ..server import client
from ..server import launch as server_launch

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0
REFRESH_S = 5.0

_PROCESS: server_launch.ServerProcess | None = None
#: (state, text): state in "RUNNING", "STOPPED", "STARTING", "UNKNOWN".
_STATUS: dict[str, str] = {"state": "UNKNOWN", "text": "not checked yet"}
_CHECKING = threading.Event()


def status() -> tuple[str, str]:
    """The last known server state and a line for the panel."""
    if _PROCESS is not None and _PROCESS.alive and _STATUS["state"] != "RUNNING":
        return "STARTING", "starting..."
    return _STATUS["state"], _STATUS["text"]


def started_here() -> bool:
    """True if a server process started by this Blender is running."""
    return _PROCESS is not None and _PROCESS.alive


def check(url: str, timeout_s: float = 1.5) -> bool:
    """Check the server at ``url`` now (blocking up to ``timeout_s``) and update the status."""
    try:
        info = client.Client(url).health(timeout_s=timeout_s)
    except client.ServerError as exc:
        state = "UNKNOWN" if exc.code == codes.BAD_ANSWER else "STOPPED"
        _STATUS.update(state=state, text=f"not usable ({exc})" if state == "UNKNOWN" else
                       f"not running ({exc.code})")
        return False
    where = " (started here)" if started_here() else ""
    _STATUS.update(state="RUNNING", text=f"running{where}: {info.summary()}")  # au_contract.health
    return True


def _refresh() -> float | None:
    """bpy.app.timers callback: re-check the server's health in a thread, every REFRESH_S seconds."""
    scene = bpy.context.scene
    if scene is None or not hasattr(scene, "au_talking_head") or _CHECKING.is_set():
        return REFRESH_S
    url = scene.au_talking_head.server_url
    _CHECKING.set()

    def work() -> None:
        try:
            check(url)
        finally:
            _CHECKING.clear()

    threading.Thread(target=work, daemon=True, name="au-talking-head-health").start()
    return REFRESH_S


class AUTH_OT_start_server(bpy.types.Operator):
    """Start the local model server as a child process of Blender"""

    bl_idname = "au_talking_head.start_server"
    bl_label = "Start Server"
    bl_options = {"REGISTER"}  # noqa: RUF012 (Blender API)

    _timer = None
    _deadline = 0.0

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if started_here():
            cls.poll_message_set("The server started from Blender is already running")
            return False
        return True

    def _launch(self, context: bpy.types.Context) -> tuple[str, str | None]:
        """Start the process; returns (url, error message or None)."""
        global _PROCESS
        url = context.scene.au_talking_head.server_url
        try:
            client.check_url(url)
        except client.ServerError as exc:
            return url, str(exc)
        if check(url):
            return url, "already running"
        prefs = bl_props.preferences()
        try:
            cmd = server_launch.server_command(client.port_of(url), prefs.server_python if prefs else "")
            _PROCESS = server_launch.ServerProcess(cmd)
        except (server_launch.LaunchError, OSError) as exc:
            return url, str(exc)
        _STATUS.update(state="STARTING", text="starting...")
        return url, None

    def _report_launch_problem(self, url: str, error: str) -> set[OperatorReturnItems]:
        """Report why no new server was started: one already runs (fine) or the launch failed."""
        if error == "already running":
            self.report({"INFO"}, f"A model server is already running at {url}")
            return {"FINISHED"}
        self.report({"ERROR"}, error)
        return {"CANCELLED"}

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        url, error = self._launch(context)
        if error:  # as before: an empty message counts as no error
            return self._report_launch_problem(url, error)
        assert _PROCESS is not None
        try:
            _PROCESS.wait_ready(lambda: check(url, 0.5), START_TIMEOUT_S)
        except server_launch.LaunchError as exc:
            _STATUS.update(state="STOPPED", text="failed to start")
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Model server running at {url}")
        return {"FINISHED"}

    def invoke(self, context: bpy.types.Context, _event: bpy.types.Event) -> set[OperatorReturnItems]:
        if bpy.app.background or context.window is None:
            return self.execute(context)
        url, error = self._launch(context)
        if error:  # as before: an empty message counts as no error
            return self._report_launch_problem(url, error)
        self._url = url
        self._deadline = time.monotonic() + START_TIMEOUT_S
        self._timer = context.window_manager.event_timer_add(0.5, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[OperatorReturnItems]:
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        done, error = False, None
        if _PROCESS is None or not _PROCESS.alive:
            done, error = True, str(_PROCESS.exit_error()) if _PROCESS else "the server process is gone"
        elif check(self._url, 0.3):
            done = True
        elif time.monotonic() > self._deadline:
            _PROCESS.stop()
            done, error = True, f"the model server did not answer within {START_TIMEOUT_S:.0f} s"
        if not done:
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self._timer)
        for area in context.screen.areas if context.screen else ():
            area.tag_redraw()
        if error:
            _STATUS.update(state="STOPPED", text="failed to start")
            self.report({"ERROR"}, error)
            return {"CANCELLED"}
        self.report({"INFO"}, f"Model server running at {self._url}")
        return {"FINISHED"}


class AUTH_OT_stop_server(bpy.types.Operator):
    """Stop the model server that Blender started"""

    bl_idname = "au_talking_head.stop_server"
    bl_label = "Stop Server"
    bl_options = {"REGISTER"}  # noqa: RUF012 (Blender API)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not started_here():
            cls.poll_message_set("No server was started from this Blender (stop an outside server where "
                                 "it runs)")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        global _PROCESS
        proc, _PROCESS = _PROCESS, None
        if proc is not None:
            proc.stop()
        _STATUS.update(state="STOPPED", text="stopped")
        self.report({"INFO"}, "Model server stopped")
        return {"FINISHED"}


class AUTH_OT_check_server(bpy.types.Operator):
    """Check whether the model server answers at the Server URL"""

    bl_idname = "au_talking_head.check_server"
    bl_label = "Check Server"
    bl_options = {"REGISTER"}  # noqa: RUF012 (Blender API)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        url = context.scene.au_talking_head.server_url
        ok = check(url)
        self.report({"INFO"} if ok else {"WARNING"}, f"Model server at {url}: {status()[1]}")
        return {"FINISHED"}


CLASSES = (AUTH_OT_start_server, AUTH_OT_stop_server, AUTH_OT_check_server)


def register_extra() -> None:
    if not bpy.app.background:
        bpy.app.timers.register(_refresh, first_interval=1.0, persistent=True)


def unregister_extra() -> None:
    global _PROCESS
    if bpy.app.timers.is_registered(_refresh):
        bpy.app.timers.unregister(_refresh)
    if _PROCESS is not None:
        _PROCESS.stop()
        _PROCESS = None
