"""Hostile input and faults against the real server process (issue 18): answer-size and frame caps,
idle and slow-header connections, slow uploads, clients that go away, memory after large bodies, loose
Host parsing, bad ``serve``/``predict`` flags, a full disk under ``predict``, a parent that dies."""

from __future__ import annotations

import functools
import io
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from tests.server.server_harness import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=4)
def long_tone_flac(seconds: float = 1200.0) -> bytes:
    """A loud, modulated tone as FLAC at 8 kHz: 20 minutes in about 4 MB, a few seconds of real work
    (not silence, which skips the model)."""
    rate = 8000
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), rate, format="FLAC")
    return buf.getvalue()


@functools.lru_cache(maxsize=2)
def silent_flac(seconds: float) -> bytes:
    """Digital silence as FLAC: ten minutes are a few kilobytes."""
    buf = io.BytesIO()
    sf.write(buf, np.zeros(int(seconds * 16000), np.int16), 16000, format="FLAC")
    return buf.getvalue()


def wait_for_jobs(proc: ServerProcess, running: int, admitted: int | None = None,
                  timeout_s: float = 30.0) -> float:
    """Wait until /v1/health shows this many running (and admitted) jobs; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        jobs = httpx.get(proc.url + "/v1/health", timeout=5).json()["jobs"]
        if jobs["running"] == running and (admitted is None or jobs["admitted"] == admitted):
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"jobs never reached running={running} admitted={admitted}: {jobs}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS")


# --- items 1 and 2: bounded work -------------------------------------------------------------------------

@pytest.mark.parametrize("fps", ["1000", "1e-4", "3e-5", "1e-300", "0", "-30", "nan", "inf", "241"])
def test_fps_outside_1_to_240_is_a_fast_400(server: ServerProcess, fps: str) -> None:
    started = time.monotonic()
    r = server.post(silent_flac(60.0), {"fps": fps})
    assert r.status_code == 400 and r.json()["error"] == "bad_parameter", r.text
    assert "fps" in r.json()["message"] and "240" in r.json()["message"]
    assert time.monotonic() - started < 5.0


def test_answer_size_is_capped_before_any_work(start_server) -> None:  # type: ignore[no-untyped-def]
    proc = start_server(["--max-response-mb", "8"])
    rss_before = rss_mib(proc.proc.pid)
    started = time.monotonic()
    r = proc.post(silent_flac(600.0), {"fps": "240", "landmarks": "true"})
    assert r.status_code == 413 and r.json()["error"] == "response_too_large", r.text
    message = r.json()["message"]
    assert "landmarks=false" in message and "--max-response-mb" in message
    assert time.monotonic() - started < 5.0
    assert rss_mib(proc.proc.pid) < rss_before + 100
    # the same file within the cap: without landmarks 10 minutes at 30 fps is about 2 MB
    doc = proc.post(silent_flac(600.0), {"fps": "30", "landmarks": "false"}).json()
    assert doc["frame_count"] == 18000
    assert httpx.get(proc.url + "/v1/health").json()["limits"]["max_response_bytes"] == 8 * 2**20


# --- item 3: idle connections, slow headers ---------------------------------------------------------------

def test_idle_connections_cannot_lock_clients_out(start_server) -> None:  # type: ignore[no-untyped-def]
    proc = start_server(["--max-connections", "16", "--head-timeout", "2"])
    idle = [socket.create_connection(("127.0.0.1", proc.port)) for _ in range(80)]
    try:
        for _ in range(3):
            r = httpx.get(proc.url + "/v1/health", timeout=5)
            assert r.status_code == 200 and r.json()["status"] == "ok"
        slow = socket.create_connection(("127.0.0.1", proc.port))
        slow.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finishes its headers
        slow.settimeout(10)
        started = time.monotonic()
        assert slow.recv(100) == b"", "a connection without a complete request head must be closed"
        assert time.monotonic() - started < 5.0
        slow.close()
    finally:
        for sock in idle:
            sock.close()


# --- item 4: slow uploads and clients that go away --------------------------------------------------------

def test_slow_uploads_do_not_take_job_slots(start_server, speech_wav: bytes) -> None:  # type: ignore[no-untyped-def]
    proc = start_server(["--max-jobs", "1", "--max-queue", "0", "--body-timeout", "30"])

    def trickle() -> Iterator[bytes]:
        for _ in range(12):
            time.sleep(0.5)
            yield b"\0" * 10

    results: list[int] = []
    uploads = [threading.Thread(target=lambda: results.append(
        proc.post(trickle(), timeout=60).status_code)) for _ in range(10)]  # type: ignore[arg-type]
    for thread in uploads:
        thread.start()
    time.sleep(1.0)
    assert httpx.get(proc.url + "/v1/health").json()["jobs"]["admitted"] == 0
    r = proc.post(speech_wav, {"landmarks": "false"}, timeout=30)
    assert r.status_code == 200, r.text[:300]
    for thread in uploads:
        thread.join()
    # zeros are not audio; the uploads end together, so with one slot some of them are told to retry
    assert len(results) == 10 and set(results) <= {400, 429} and 400 in results


def test_client_that_goes_away_cancels_its_job(start_server, speech_wav: bytes) -> None:  # type: ignore[no-untyped-def]
    proc = start_server(["--max-jobs", "1", "--max-queue", "4"])
    body = long_tone_flac()
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        proc.post(body, {"landmarks": "false"}, timeout=httpx.Timeout(30, read=1.0))
    wait_for_jobs(proc, running=0, admitted=0, timeout_s=3.0)
    r = proc.post(speech_wav, {"landmarks": "false"}, timeout=30)
    assert r.status_code == 200
    # the 20-minute job alone takes several seconds; it was killed, not left to finish
    assert time.monotonic() - started < 3.0 + r.elapsed.total_seconds() + 1.0
    assert "client went away" in proc.log()


# --- item 8: memory after large requests -----------------------------------------------------------------

@pytest.mark.slow
def test_memory_returns_near_the_baseline_after_large_bodies(start_server) -> None:  # type: ignore[no-untyped-def]
    proc = start_server(["--max-body-mb", "64"])
    baseline = rss_mib(proc.proc.pid)
    rng = np.random.default_rng(0)
    wav = io.BytesIO()
    sf.write(wav, (rng.normal(0, 0.05, 30 * 2**20 // 2) * 32767).astype(np.int16), 44100, format="WAV")
    junk = b"\x00junk" * (12 * 2**20)
    for body in (wav.getvalue(), junk, wav.getvalue(), junk):
        r = proc.post(body, {"landmarks": "false"}, timeout=300)
        assert r.status_code in (200, 400), r.text[:300]
    time.sleep(1.0)
    after = rss_mib(proc.proc.pid)
    print(f"\nserver RSS: baseline {baseline:.0f} MiB, after 4 x ~60 MiB bodies {after:.0f} MiB, "
          f"peak {proc.peak_rss_mb():.0f} MiB")
    assert after < baseline + 100, (baseline, after)


# --- item 12: Host parsing --------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["[::1]evil.com", "[::1]:80evil", "localhost:80:80", "127.0.0.1:", "[::1]:"])
def test_host_with_trailing_garbage_is_refused(server: ServerProcess, host: str) -> None:
    r = httpx.get(server.url + "/v1/health", headers={"Host": host})
    assert r.status_code == 403 and r.json()["error"] == "bad_host"


# --- item 9, 2, 10: command lines -------------------------------------------------------------------------

def _cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "model_server", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload]


@pytest.mark.parametrize(("flag", "value"), [("--max-duration", "nan"), ("--max-duration", "inf"),
                                             ("--body-timeout", "nan"), ("--max-body-mb", "nan"),
                                             ("--port", "70000"), ("--max-jobs", "0"), ("--max-queue", "-1"),
                                             ("--max-response-mb", "0"), ("--head-timeout", "inf"),
                                             ("--max-connections", "1")])
def test_bad_serve_flags_end_with_a_message(flag: str, value: str) -> None:
    done = _cli("serve", "--port", "0", flag, value) if flag != "--port" else _cli("serve", flag, value)
    assert done.returncode == 2, done.stderr[-2000:]
    assert flag in done.stderr and "must be" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("fps", ["1e-300", "1000", "nan"])
def test_predict_refuses_a_bad_fps_with_a_message(tmp_path: Path, speech_wav: bytes, fps: str) -> None:
    wav = tmp_path / "line.wav"
    wav.write_bytes(speech_wav)
    done = _cli("predict", str(wav), "-o", str(tmp_path / "out.json"), "--fps", fps)
    assert done.returncode == 2 and "fps" in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.glob("out.json*"))


def _small_file_limit() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_predict_leaves_no_part_file_when_the_disk_is_full(tmp_path: Path, speech_wav: bytes) -> None:
    wav = tmp_path / "line.wav"
    wav.write_bytes(speech_wav)
    out = tmp_path / "out" / "line.json"
    done = _cli("predict", str(wav), "-o", str(out), preexec_fn=_small_file_limit)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "cannot write" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists() and not list(out.parent.glob("*.part"))


# --- item 13: a server started for a job exits with its parent --------------------------------------------

def test_server_exits_when_its_parent_pid_ends(tmp_path: Path) -> None:
    parent = subprocess.Popen(["sleep", "60"])
    proc = ServerProcess(tmp_path, ["--parent-pid", str(parent.pid)]).wait_ready()
    try:
        parent.kill()
        parent.wait()
        proc.proc.wait(timeout=20)
        assert "parent process" in proc.log()
    finally:
        proc.stop()
