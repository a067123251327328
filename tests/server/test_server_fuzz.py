"""Fuzz run against the real server: >= 500 mutated audio files, zero 5xx, the server healthy after."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.server.server_harness import ServerProcess, encode, ffmpeg_encode

N_FILES = 520


def seeds_of(speech_samples: tuple[np.ndarray, int], tmp: Path) -> list[bytes]:
    """Short valid files of every container the server reads: the material the mutations start from."""
    samples, rate = speech_samples
    clip = samples[: rate * 1]  # one second keeps each request cheap
    wav = encode(clip, rate, "WAV", "PCM_16")
    return [
        wav,
        encode(clip, rate, "WAV", "FLOAT"),
        encode(np.stack([clip, clip], 1), rate, "WAV", "PCM_24"),
        encode(clip, rate, "FLAC"),
        encode(clip, rate, "OGG", "VORBIS"),
        encode(clip, rate, "AIFF", "PCM_16"),
        ffmpeg_encode(wav, ".mp3", tmp),
        ffmpeg_encode(wav, ".opus", tmp, "-c:a", "libopus"),
    ]


def mutate(data: bytes, rng: np.random.Generator, pool: list[bytes]) -> bytes:
    """One to three random mutations: bit flips, byte runs, header damage, cuts, splices, junk."""
    b = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(0, 9))
        n = len(b)
        if n == 0:
            b = bytearray(rng.bytes(int(rng.integers(1, 64))))
            continue
        pos = int(rng.integers(0, n))
        if kind == 0:  # flip bits
            for p in rng.integers(0, n, int(rng.integers(1, 32))):
                b[int(p)] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:  # damage the header
            for p in rng.integers(0, min(n, 64), int(rng.integers(1, 8))):
                b[int(p)] = int(rng.integers(0, 256))
        elif kind == 2:  # truncate
            del b[pos:]
        elif kind == 3:  # overwrite a run with random bytes
            run = int(rng.integers(1, 512))
            b[pos:pos + run] = rng.bytes(run)
        elif kind == 4:  # overwrite a run with a special value
            run = int(rng.integers(1, 256))
            b[pos:pos + run] = bytes([int(rng.choice([0, 0x7F, 0x80, 0xFF]))]) * run
        elif kind == 5:  # duplicate a chunk
            run = int(rng.integers(1, 4096))
            b[pos:pos] = b[pos:pos + run]
        elif kind == 6:  # delete a chunk
            del b[pos:pos + int(rng.integers(1, 4096))]
        elif kind == 7:  # splice with another file
            other = pool[int(rng.integers(0, len(pool)))]
            b = b[:pos] + bytearray(other[int(rng.integers(0, len(other))):])
        else:  # append junk or huge little-endian numbers in header fields
            if rng.random() < 0.5:
                b += rng.bytes(int(rng.integers(1, 2048)))
            else:
                p = int(rng.integers(0, max(1, min(n - 4, 60))))
                b[p:p + 4] = int(rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF])).to_bytes(4, "little")
    return bytes(b)


@pytest.mark.slow
def test_fuzz_520_mutated_files_zero_5xx(server: ServerProcess, speech_samples, tmp_path: Path) -> None:
    rng = np.random.default_rng(20260421)
    pool = seeds_of(speech_samples, tmp_path)
    bodies = [mutate(pool[i % len(pool)], rng, pool) for i in range(N_FILES)]
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    started = time.monotonic()

    def send(body: bytes) -> tuple[int, str]:
        r = server.post(body, {"landmarks": "false"}, timeout=60)
        code = r.json().get("error", "") if r.status_code != 200 else ""
        if r.status_code == 200:
            doc = r.json()
            assert doc["schema"] == "au-tracks/1" and doc["frame_count"] >= 1
        return r.status_code, code

    with ThreadPoolExecutor(4) as pool_exec:
        for status, code in pool_exec.map(send, bodies):
            statuses[status] += 1
            errors[code] += 1
    elapsed = time.monotonic() - started
    print(f"\nfuzz: {N_FILES} files in {elapsed:.1f} s; statuses {dict(statuses)}; errors {dict(errors)}")
    assert sum(statuses.values()) == N_FILES
    assert not [s for s in statuses if s >= 500], f"5xx answers: {dict(statuses)}\n{server.log()}"
    assert set(statuses) <= {200, 400, 413}, dict(statuses)
    assert statuses[400] > 50 and statuses[200] > 20, "the mutations must hit both outcomes"
    assert server.proc.poll() is None, "the server process must still run"
    health = httpx.get(server.url + "/v1/health").json()
    assert health["status"] == "ok" and health["jobs"]["admitted"] == 0
    clean = server.post(pool[0], {"landmarks": "false"})
    assert clean.status_code == 200
