"""Model server benchmarks: warm HTTP round trip for a 10 s clip, and the predict path in x real time.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_server.py [--requests 40]

Targets (issue 4): warm round trip <= 100 ms median on CPU for a 10 s clip; predict path >= 300x real
time. Starts a real server process on a free port (token from the environment) and prints a table.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.server_harness import TOKEN, ServerProcess  # noqa: E402

TEXT = ("Good morning everyone. Today we will look at how the face moves when we speak, and why the "
        "eyes and brows matter just as much as the lips. Let us begin.")


def speech_clip(seconds: float, tmp: Path) -> bytes:
    """``seconds`` of espeak-ng speech at 16 kHz mono (text repeated as needed), WAV bytes."""
    wav = tmp / "clip.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), TEXT], check=True, capture_output=True)
    data, rate = sf.read(wav, dtype="float32")
    import soxr

    data = soxr.resample(data, rate, 16000)
    reps = int(np.ceil(seconds * 16000 / data.size))
    data = np.tile(data, reps)[: int(seconds * 16000)]
    buf = io.BytesIO()
    sf.write(buf, data, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    clip10 = speech_clip(10.0, tmp)
    clip60 = speech_clip(60.0, tmp)
    rows: list[tuple[str, str, str]] = []

    from model_server.decode import decode_audio
    from model_server.pipeline import PredictOptions, get_model, predict_tracks

    model = get_model()
    for label, clip, seconds in (("10 s", clip10, 10.0), ("60 s", clip60, 60.0)):
        for landmarks in (False, True):
            opts = PredictOptions(landmarks=landmarks)
            predict_tracks(clip, opts, model=model)
            ms = statistics.median(timed(lambda c=clip, o=opts: predict_tracks(c, o, model=model), 10))
            rows.append((f"predict_tracks {label}, landmarks={landmarks}", f"{ms:.1f} ms",
                         f"{seconds * 1000 / ms:.0f}x real time"))
        decoded = decode_audio(clip)
        ms = statistics.median(timed(lambda d=decoded: model.predict(d.samples), 10))
        rows.append((f"acoustic model only {label}", f"{ms:.1f} ms", f"{seconds * 1000 / ms:.0f}x real time"))

    os.environ["AU_TALKING_HEAD_TOKEN"] = TOKEN
    server = ServerProcess(tmp).wait_ready()
    try:
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as client:
            for landmarks in ("false", "true"):
                def call(lm: str = landmarks) -> None:
                    r = client.post("/v1/tracks", content=clip10, params={"landmarks": lm})
                    assert r.status_code == 200, r.text
                call()
                call()
                times = sorted(timed(call, args.requests))
                rows.append((f"HTTP round trip 10 s clip, landmarks={landmarks}",
                             f"{statistics.median(times):.1f} ms",
                             f"p90 {times[int(0.9 * len(times))]:.1f} ms"))
            health = client.get("/v1/health").json()
        rows.append(("server peak RSS", f"{server.peak_rss_mb():.0f} MiB", f"device {health['device']}"))
    finally:
        server.stop()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'median':>10}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    print(f"(model {model.version} on {model.device}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; "
          f"targets: round trip <= 100 ms, predict >= 300x real time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
