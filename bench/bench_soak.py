"""Soak run (issue 18): the hostile mix against one server for N minutes, with a normal client beside it.

The hostile mix replays what broke the server before: fps=1000 and 1e-300 on long silent files, an
answer that would be gigabytes (fps 240 + landmarks on an hour of silence), 80 idle TCP connections,
ten 1-byte-per-second uploads, clients that go away mid-request, 250 MB bodies (noise WAV and junk),
AAC, broken audio, wrong tokens and hostile Host/Origin headers. A normal client sends an 8-second
speech clip (default options, landmarks included) every half second.

Targets: the normal client's p95 latency under 1 s, no 5xx anywhere, the server's RSS at the end within
100 MiB of its RSS at the start.

    .venv/bin/python bench/bench_soak.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import collections
import io
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures import ServerProcess, espeak_wav  # noqa: E402


def rss_mib(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def flac(samples: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="FLAC")
    return buf.getvalue()


class Soak:
    """Runs the mix; every answer's status is counted per kind."""

    def __init__(self, server: ServerProcess, minutes: float, tmp: Path) -> None:
        self.server, self.until = server, time.monotonic() + minutes * 60.0
        self.codes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.speech = espeak_wav(tmp / "speech.wav").read_bytes()
        self.silence_10min = flac(np.zeros(600 * 16000, np.int16), 16000)
        self.silence_1h = flac(np.zeros(3600 * 8000, np.int16), 8000)
        t = np.arange(1200 * 8000) / 8000
        self.tone_20min = flac((0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 8000)
        noise = (np.random.default_rng(0).normal(0, 0.05, 125 * 2**20) * 32767).astype(np.int16)
        buf = io.BytesIO()
        sf.write(buf, noise, 44100, format="WAV")
        self.wav_250mb = buf.getvalue()
        self.junk_250mb = b"\x00junk" * (50 * 2**20)
        m4a = tmp / "line.m4a"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=300:duration=2",
                        "-c:a", "aac", str(m4a)], check=True)
        self.m4a = m4a.read_bytes()

    @property
    def running(self) -> bool:
        return time.monotonic() < self.until

    def count(self, kind: str, code: int | str) -> None:
        with self.lock:
            self.codes[kind][code] += 1

    def post(self, kind: str, body: bytes | Iterator[bytes], params: dict | None = None,
             headers: dict | None = None, timeout: float | httpx.Timeout = 300.0) -> None:
        try:
            r = httpx.post(self.server.url + "/v1/tracks", content=body, params=params or {},
                           headers={**self.server.headers(), **(headers or {})}, timeout=timeout)
            self.count(kind, r.status_code)
        except httpx.TimeoutException:
            self.count(kind, "client gave up")
        except httpx.HTTPError as exc:
            self.count(kind, type(exc).__name__)

    def loop(self, pause_s: float, action: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            while self.running:
                action()
                time.sleep(pause_s)
        return run

    # --- the normal client -------------------------------------------------------------------------------
    def normal(self) -> None:
        while self.running:
            started = time.perf_counter()
            try:
                r = httpx.post(self.server.url + "/v1/tracks", content=self.speech,
                               headers=self.server.headers(), timeout=60)
                code: int | str = r.status_code
            except httpx.HTTPError as exc:
                code = type(exc).__name__
            with self.lock:
                self.latencies.append(time.perf_counter() - started)
            self.count("normal client", code)
            time.sleep(0.5)

    # --- hostile clients ----------------------------------------------------------------------------------
    def bad_fps(self) -> None:
        for fps in ("1000", "1e-4", "3e-5", "1e-300", "nan"):
            self.post("fps out of range", self.silence_10min, {"fps": fps, "landmarks": "true"})

    def huge_answer(self) -> None:
        self.post("answer too large", self.silence_1h, {"fps": "240", "landmarks": "true"})

    def idle_connections(self) -> None:
        socks: list[socket.socket] = []
        while self.running:
            socks = [s for s in socks if s.fileno() >= 0]
            while len(socks) < 80:
                try:
                    socks.append(socket.create_connection(("127.0.0.1", self.server.port), timeout=5))
                    self.count("idle connection", "opened")
                except OSError:
                    self.count("idle connection", "refused")
                    break
            time.sleep(1.0)
            for s in list(socks):  # reopen the ones the server closed
                s.setblocking(False)
                try:
                    if s.recv(1) == b"":
                        s.close()
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
        for s in socks:
            s.close()

    def slow_upload(self) -> None:
        def trickle() -> Iterator[bytes]:
            for _ in range(60):
                if not self.running:
                    return
                time.sleep(1.0)
                yield b"\0"
        self.post("slow upload (1 B/s)", trickle())

    def goes_away(self) -> None:
        self.post("client goes away", self.tone_20min, {"landmarks": "false"},
                  timeout=httpx.Timeout(30, read=0.5))

    def big_bodies(self) -> None:
        self.post("250 MB noise WAV", self.wav_250mb, {"landmarks": "false"})
        time.sleep(20)
        self.post("250 MB junk", self.junk_250mb)

    def misc(self) -> None:
        self.post("AAC (m4a)", self.m4a)
        self.post("truncated WAV", self.speech[: len(self.speech) // 3])
        self.post("wrong token", self.speech, headers={"Authorization": "Bearer nope"})
        self.post("Host [::1]evil.com", self.speech, headers={"Host": "[::1]evil.com"})
        self.post("cross-site Origin", self.speech, headers={"Origin": "http://evil.example"})

    def run(self) -> None:
        threads = [threading.Thread(target=self.normal, daemon=True),
                   threading.Thread(target=self.idle_connections, daemon=True),
                   *[threading.Thread(target=self.loop(0.1, self.slow_upload), daemon=True)
                     for _ in range(10)],
                   threading.Thread(target=self.loop(2.0, self.bad_fps), daemon=True),
                   threading.Thread(target=self.loop(5.0, self.huge_answer), daemon=True),
                   threading.Thread(target=self.loop(3.0, self.goes_away), daemon=True),
                   threading.Thread(target=self.loop(40.0, self.big_bodies), daemon=True),
                   threading.Thread(target=self.loop(2.0, self.misc), daemon=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(1.0, self.until - time.monotonic() + 400))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the mix runs (default 10)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="auth-soak-"))
    server = ServerProcess(tmp).wait_ready()
    try:
        soak = Soak(server, args.minutes, tmp)
        for _ in range(5):  # warm: the first requests load lazily imported code
            httpx.post(server.url + "/v1/tracks", content=soak.speech, headers=server.headers(), timeout=60)
        time.sleep(1.0)
        rss_start = rss_mib(server.proc.pid)
        started = time.monotonic()
        soak.run()
        elapsed = time.monotonic() - started
        time.sleep(5.0)  # idle: keep-alive and head timers close what is left
        rss_end = rss_mib(server.proc.pid)
        peak = rss_mib(server.proc.pid, "VmHWM")
        alive = server.proc.poll() is None
    finally:
        server.stop()
    lat = sorted(soak.latencies)
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")
    five_xx = sum(n for counts in soak.codes.values() for code, n in counts.items()
                  if isinstance(code, int) and code >= 500)
    normal_bad = sum(n for code, n in soak.codes["normal client"].items() if code != 200)
    print(f"\nsoak: {elapsed / 60:.1f} min against one server (pid {server.proc.pid}), 2 jobs + 8 waiting\n")
    print(f"| {'kind':<22} | answers |")
    print(f"|{'-' * 24}|{'-' * 9}|")
    for kind, counts in sorted(soak.codes.items()):
        print(f"| {kind:<22} | {', '.join(f'{c}: {n}' for c, n in sorted(counts.items(), key=str))} |")
    median = statistics.median(lat) * 1e3
    checks = [("normal client p95 latency", f"{p95 * 1e3:.0f} ms (median {median:.0f} ms, "
               f"max {lat[-1] * 1e3:.0f} ms, {len(lat)} requests)", p95 < 1.0),
              ("normal client errors", str(normal_bad), normal_bad == 0),
              ("5xx answers (all clients)", str(five_xx), five_xx == 0),
              ("server RSS start -> end", f"{rss_start:.0f} -> {rss_end:.0f} MiB (peak {peak:.0f} MiB)",
               rss_end - rss_start < 100),
              ("server alive at the end", str(alive), alive)]
    print(f"\n| {'target':<28} | {'measured':<62} | ok |")
    print(f"|{'-' * 30}|{'-' * 64}|----|")
    for name, value, ok in checks:
        print(f"| {name:<28} | {value:<62} | {'yes' if ok else 'NO'} |")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
