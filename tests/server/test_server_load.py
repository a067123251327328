"""Load run against the real server: 8 concurrent clients x 50 requests, no errors, bounded memory."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.server.server_harness import ServerProcess

CLIENTS = 8
REQUESTS = 50


@pytest.mark.slow
def test_load_8_clients_x_50_requests(start_server, speech_wav: bytes) -> None:  # type: ignore[no-untyped-def]
    proc: ServerProcess = start_server(["--max-jobs", "2", "--max-queue", str(CLIENTS)])
    rss_start = proc.peak_rss_mb()

    def client(i: int) -> list[tuple[int, float]]:
        out = []
        with httpx.Client(base_url=proc.url, headers=proc.headers(), timeout=120) as session:
            for k in range(REQUESTS):
                params = {"seed": i * 1000 + k, "landmarks": "true" if k % 2 else "false"}
                t0 = time.perf_counter()
                r = session.post("/v1/tracks", content=speech_wav, params=params)
                out.append((r.status_code, time.perf_counter() - t0))
                if r.status_code == 200:
                    assert r.json()["meta"]["seed"] == params["seed"]
        return out

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [x for part in pool.map(client, range(CLIENTS)) for x in part]
    elapsed = time.perf_counter() - started
    codes = [c for c, _ in results]
    latencies = sorted(t for _, t in results)
    peak = proc.peak_rss_mb()
    median_ms = statistics.median(latencies) * 1e3
    print(f"\nload: {CLIENTS} clients x {REQUESTS} requests in {elapsed:.1f} s "
          f"({len(results) / elapsed:.1f} req/s); latency median {median_ms:.0f} ms, "
          f"p95 {latencies[int(0.95 * len(latencies))] * 1e3:.0f} ms; server peak RSS {peak:.0f} MiB "
          f"(after start {rss_start:.0f} MiB)")
    assert len(codes) == CLIENTS * REQUESTS
    assert set(codes) == {200}, {c: codes.count(c) for c in set(codes)}
    assert peak < rss_start + 600, "memory must stay bounded"
    assert httpx.get(proc.url + "/v1/health").json()["jobs"]["admitted"] == 0
