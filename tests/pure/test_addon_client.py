"""The add-on's HTTP client against a small local HTTP server in a thread (the client is under test), its
token lookup, its errors; the background job; the server launcher's choice of program."""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from au_contract.health import HealthInfo
from au_contract.options import RequestOptions
from blender_addon.server import client, worker
from blender_addon.server import launch as server_launch

SEEN: dict[str, object] = {}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/v1/health":
            self._send(200, HealthInfo(status="ok", model_loaded=True, server_version="9.9",
                                       model_version="m1", device="cpu").to_dict())
        else:  # another program on the port: JSON, but not a health answer
            self._send(200, {"status": "ok"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        SEEN.update(path=self.path, auth=self.headers.get("Authorization"), body=body)
        if self.headers.get("Authorization") != "Bearer good-token-123456":
            self._send(401, {"error": "unauthorized", "message": "Missing or wrong token"})
        elif body.startswith(b"slow"):
            time.sleep(1.5)
            self._send(200, {"ok": True})
        elif body.startswith(b"bad"):
            self._send(400, {"error": "not_audio", "message": "cannot decode this file"})
        elif body.startswith(b"busy"):
            self._send(429, {"error": "busy", "message": "The server is busy"})
        elif body.startswith(b"host"):
            self._send(403, {"error": "bad_host", "message": "Host header 'x' is not allowed"})
        elif body.startswith(b"future"):
            self._send(415, {"error": "some_future_code", "message": "not supported"})
        else:
            self._send(200, {"schema": "au-tracks/1"})


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_tracks_sends_bytes_options_and_token(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(client.TOKEN_ENV, "good-token-123456")
    c = client.Client(url + "/")
    health = c.health()
    assert isinstance(health, HealthInfo) and health.summary() == "model m1 on cpu"
    options = RequestOptions(fps=30 / 1.001, emotion="happiness", blinks=False, smoothing=0.25,
                             landmarks=False)
    raw = c.tracks(b"RIFFxxxx", options)
    assert json.loads(raw) == {"schema": "au-tracks/1"}
    assert SEEN["body"] == b"RIFFxxxx" and SEEN["auth"] == "Bearer good-token-123456"
    path = str(SEEN["path"])
    assert path.startswith("/v1/tracks?")
    # the query is the contract's text of the (validated) options: the server reads back the same options
    sent = RequestOptions.from_query(urllib.parse.parse_qsl(path.partition("?")[2], keep_blank_values=True))
    assert sent == options.validated() and sent.emotion == "HAPPINESS"
    assert "blinks=false" in path and "landmarks=false" in path and "smoothing=0.25" in path


def test_health_that_is_not_the_contract_is_a_bad_answer(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "HEALTH_PATH", "/other")  # JSON from a program that is not our server
    with pytest.raises(client.ServerError, match="lacks 'model_loaded'") as info:
        client.Client(url).health()
    assert info.value.code == "bad_answer"


def test_errors_say_what_to_do(url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(client.TOKEN_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    token_file = tmp_path / "au-talking-head" / "token"
    token_file.parent.mkdir()
    token_file.write_text("wrong-token-000000\n")
    assert client.read_token() == "wrong-token-000000"
    with pytest.raises(client.ServerError, match="refused the token") as info:
        client.Client(url).tracks(b"RIFF", RequestOptions(fps=30))
    assert info.value.code == "unauthorized" and str(token_file) in str(info.value)
    token_file.write_text("good-token-123456")
    # hints by the contract's error code (au_contract.errors), by HTTP status for codes it does not know
    for body, code, hint in ((b"bad", "not_audio", "Check that the file is a speech recording"),
                             (b"busy", "busy", "try again in a few seconds"),
                             (b"host", "bad_host", "use the address http://127.0.0.1:PORT"),
                             (b"future", "some_future_code", "The audio format is not supported")):
        with pytest.raises(client.ServerError) as info:
            client.Client(url).tracks(body, RequestOptions(fps=30))
        assert info.value.code == code and hint.lower() in str(info.value).lower(), str(info.value)
    with pytest.raises(client.ServerError, match=r"did not answer within 0\.5 s") as info:
        client.Client(url, timeout_s=0.5).tracks(b"slow", RequestOptions(fps=30))
    assert info.value.code == "timeout"
    with pytest.raises(client.ServerError, match="audio file is empty"):
        client.Client(url).tracks(b"", RequestOptions(fps=30))


def test_unreachable_and_remote_urls_are_refused() -> None:
    with pytest.raises(client.ServerError, match=r"no model server at http://127\.0\.0\.1:9") as info:
        client.Client("http://127.0.0.1:9").health(timeout_s=1)
    assert info.value.code == "unreachable"
    for bad in ("http://example.com:8765", "https://127.0.0.1:8765", "127.0.0.1:8765"):
        with pytest.raises(client.ServerError) as info:
            client.Client(bad)
        assert info.value.code == "bad_url"
    assert client.port_of("http://localhost:9000") == 9000


def test_background_job_result_error_and_cancel() -> None:
    ok = worker.BackgroundJob(lambda cancel: 41 + 1)
    assert ok.wait(5) and ok.result() == 42
    failing = worker.BackgroundJob(lambda cancel: 1 / 0)
    assert failing.wait(5)
    with pytest.raises(ZeroDivisionError):
        failing.result()
    gate = threading.Event()
    slow = worker.BackgroundJob(lambda cancel: gate.wait(5))
    with pytest.raises(RuntimeError, match="still running"):
        slow.result()
    slow.cancel()
    gate.set()
    assert slow.wait(5)
    with pytest.raises(worker.JobCancelledError):
        slow.result()


def test_server_command_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(server_launch.PYTHON_ENV, raising=False)
    fake = tmp_path / "python"
    fake.write_text("")
    cmd = server_launch.server_command(8123, str(fake), can_import=lambda p: True)
    assert cmd == [str(fake), "-m", "model_server", "serve", "--host", "127.0.0.1", "--port", "8123"]
    monkeypatch.setenv(server_launch.PYTHON_ENV, str(fake))
    assert server_launch.server_command(1, "", can_import=lambda p: p == str(fake))[0] == str(fake)
    monkeypatch.setenv(server_launch.PYTHON_ENV, str(tmp_path / "missing"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(server_launch.LaunchError,
                       match=r"not found.*cannot import model_server.*Server Python"):
        server_launch.server_command(1, "", can_import=lambda p: False)
    # this interpreter (the project venv) really can import the server
    assert server_launch.server_command(1, "")[0] == sys.executable


def test_server_process_reports_an_early_exit() -> None:
    proc = server_launch.ServerProcess([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])
    with pytest.raises(server_launch.LaunchError, match="exited with code 3 while starting: boom"):
        proc.wait_ready(lambda: False, timeout_s=20)
