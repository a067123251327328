"""Model server benchmarks: the predict path in x real time on one core, and the warm HTTP round trip.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_server.py [--repeats 15] [--requests 40]

Targets (issues 3 and 4): the whole predict path (decode, prosody analysis, features, model, smoothing,
upper face, resample, emotion, landmarks) at least 300x real time on ONE CPU core for a 60 s clip (issue
12: at least 100x with the clip's transcript, also shown for the longest line dialog mode aligns), and
a warm round trip for a 10 s clip at most 100 ms median on CPU with the default parameters (landmarks
included). The predict path runs in this process with every thread pool pinned to one thread
(OMP/OpenBLAS/MKL and onnxruntime ``intra_op_num_threads = 1``); the round trip goes to a real server
process started with its default settings on a free port. Medians are over ``--repeats`` runs
(the minimum is shown too: on a busy machine it is the better estimate of the cost itself).
Prints one table; exit status 0.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.server_harness import TOKEN, ServerProcess  # noqa: E402

TEXT = ("Good morning everyone. Today we will look at how the face moves when we speak, and why the "
        "eyes and brows matter just as much as the lips. Let us begin.")
STAGES = ("decode_ms", "analysis_ms", "model_ms", "upper_face_ms", "resample_ms", "emotion_ms",
          "landmarks_ms")


def speech_clip_and_text(seconds: float, tmp: Path) -> tuple[bytes, str]:
    """``seconds`` of espeak-ng speech at 16 kHz mono (TEXT repeated as needed, the last copy cut where
    the clip ends), WAV bytes, and its transcript (the copies of TEXT the clip holds, whole or cut)."""
    wav = tmp / "clip.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), TEXT], check=True, capture_output=True)
    data, rate = sf.read(wav, dtype="float32")
    import soxr

    data = soxr.resample(data, rate, 16000)
    reps = int(np.ceil(seconds * 16000 / data.size))
    whole = int(seconds * 16000) // data.size  # copies of TEXT heard to the end
    data = np.tile(data, reps)[: int(seconds * 16000)]
    buf = io.BytesIO()
    sf.write(buf, data, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue(), " ".join([TEXT] * max(whole, 1))


def single_thread_model() -> Any:
    """The shipped acoustic model on the CPU with onnxruntime pinned to one thread."""
    import onnxruntime as ort

    from model_server.acoustic import DEFAULT_WEIGHTS, AcousticModel
    from model_server.pipeline import MODEL_ENV

    path = os.environ.get(MODEL_ENV) or str(DEFAULT_WEIGHTS)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    return AcousticModel(session, dict(session.get_modelmeta().custom_metadata_map), "cpu")


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Wall times of ``n`` calls, milliseconds."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def dialog_row(clip: bytes, text: str, seconds: float, model: Any, repeats: int, precise: bool = False
               ) -> tuple[str, str, str, str]:
    """The predict path in dialog mode: the clip with its transcript (``precise``: in precise mode)."""
    from model_server.pipeline import PredictOptions, predict_tracks
    from model_server.transcript_align import clear_readings

    options = PredictOptions(transcript=text, language="en", precise=precise)
    tracks = predict_tracks(clip, options, model=model)

    stages: list[float] = []

    def fresh() -> None:  # a new line each time: the server's kept espeak-ng reading is not reused
        clear_readings()
        stages.append(predict_tracks(clip, options, model=model).meta["timing_ms"]["dialog_ms"])

    totals = timed(fresh, repeats)
    med = statistics.median(totals)
    d, stage_ms = tracks.meta["dialog"], statistics.median(stages)  # the timed runs' (the first is cold)
    mode = ", precise" if precise else ""
    return (f"predict path {seconds:.0f} s clip + transcript{mode}, 1 thread", f"{med:.1f} ms",
            f"min {min(totals):.1f} ms", f"{seconds * 1000 / med:.0f}x real time (target >= 100x); used "
            f"{d['used']}, match {d.get('match')}, dialog stage {stage_ms:.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="predict-path runs per clip (default 15)")
    parser.add_argument("--requests", type=int, default=40, help="HTTP requests per setting (default 40)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    made = {s: speech_clip_and_text(s, tmp) for s in (10.0, 60.0)}
    clips = {s: clip for s, (clip, _) in made.items()}
    rows: list[tuple[str, str, str, str]] = []

    from model_server.pipeline import PredictOptions, predict_tracks

    model = single_thread_model()
    stage_note = ""
    for seconds, clip in clips.items():
        predict_tracks(clip, PredictOptions(), model=model)  # warm caches (mel basis, landmark basis)
        stages: dict[str, list[float]] = {k: [] for k in STAGES}
        encode: list[float] = []

        totals: list[float] = []  # wall time of predict_tracks (the predict path), ms
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            tracks = predict_tracks(clip, PredictOptions(), model=model)
            totals.append((time.perf_counter() - t0) * 1000.0)
            for key in STAGES:
                stages[key].append(tracks.meta["timing_ms"][key])
            t0 = time.perf_counter()
            tracks.to_json_bytes()  # timed apart: part of the round trip, not of the predict path
            encode.append((time.perf_counter() - t0) * 1000.0)
        med = statistics.median(totals)
        rows.append((f"predict path {seconds:.0f} s clip, 1 thread", f"{med:.1f} ms",
                     f"min {min(totals):.1f} ms", f"{seconds * 1000 / med:.0f}x real time (min: "
                     f"{seconds * 1000 / min(totals):.0f}x; target >= 300x)"))
        rows.append((f"  JSON encoding {seconds:.0f} s, landmarks", f"{statistics.median(encode):.1f} ms",
                     f"min {min(encode):.1f} ms", "au-tracks/1 bytes (server side of the round trip)"))
        if seconds == 60.0:
            stage_note = ", ".join(f"{k[:-3]} {statistics.median(stages[k]):.1f}" for k in STAGES)
        rows.append(dialog_row(clip, made[seconds][1], seconds, model, max(3, args.repeats // 3)))
    for seconds, clip in clips.items():  # precise mode (an option): three views of the voice
        precise = PredictOptions(precise=True)
        predict_tracks(clip, precise, model=model)
        def run(c: bytes = clip, o: PredictOptions = precise) -> None:
            predict_tracks(c, o, model=model)

        totals = timed(run, args.repeats)
        med = statistics.median(totals)
        rows.append((f"predict path {seconds:.0f} s clip, precise, 1 thread", f"{med:.1f} ms",
                     f"min {min(totals):.1f} ms", f"{seconds * 1000 / med:.0f}x real time (min: "
                     f"{seconds * 1000 / min(totals):.0f}x; an option: the targets are the default's)"))
        rows.append(dialog_row(clip, made[seconds][1], seconds, model, max(3, args.repeats // 3), True))
    from model_server.dialog import MAX_DIALOG_S

    longest, longest_text = speech_clip_and_text(MAX_DIALOG_S, tmp)  # the longest line aligned to its text
    rows.append(dialog_row(longest, longest_text, MAX_DIALOG_S, model, 3))
    bench_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    os.environ["AU_TALKING_HEAD_TOKEN"] = TOKEN
    server = ServerProcess(tmp).wait_ready()
    try:
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as client:
            for landmarks in ("true", "false"):
                def call(lm: str = landmarks) -> None:
                    params = {} if lm == "true" else {"landmarks": lm}  # "true" = the default request
                    r = client.post("/v1/tracks", content=clips[10.0], params=params)
                    assert r.status_code == 200, r.text
                timed(call, 3)
                times = timed(call, args.requests)
                label = "default (landmarks)" if landmarks == "true" else "landmarks=false"
                rows.append((f"HTTP round trip 10 s clip, {label}", f"{statistics.median(times):.1f} ms",
                             f"p90 {p90(times):.1f} ms", f"min {min(times):.1f} ms; target median <= 100 ms"))
            health = client.get("/v1/health").json()
        rows.append(("peak RSS: server process", f"{server.peak_rss_mb():.0f} MiB", "",
                     f"device {health['device']}, model {health['model_version']}"))
    finally:
        server.stop()
    rows.append(("peak RSS: this process (predict path)", f"{bench_rss:.0f} MiB", "", ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'median':>10}  {'spread':>15}  note")
    for name, value, spread, note in rows:
        print(f"{name:<{width}}  {value:>10}  {spread:>15}  {note}")
    print(f"60 s clip stages, median ms: {stage_note}")
    print(f"(model {model.version}; predict path: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"onnxruntime intra_op 1 thread; server: default settings; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
