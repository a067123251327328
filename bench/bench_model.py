"""Speed of the whole predict path on ONE CPU core: decode, features, model, smoothing.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_model.py [--seconds 60] [--repeats 5]

Writes a 60 s speech clip (espeak-ng, or a synthetic signal when espeak-ng is missing) to a WAV file,
then times decode (soundfile + resample to 16 kHz) -> log-mel -> ONNX network incl. the smoothing head,
with onnxruntime pinned to one thread. Prints a table; the target is >= 300x real time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import soundfile as sf


def _speech(seconds: float) -> tuple[np.ndarray, int]:
    try:
        import random

        from model_training.corpus import utterance
        from model_training.espeak_gen import EspeakEngine, EspeakVoice
        engine, rng, chunks, total = EspeakEngine(), random.Random(0), [], 0
        while total < seconds * engine.sample_rate:
            s = engine.synthesize(utterance(rng, "en"), EspeakVoice("en-us", "m3"))
            chunks.append(s.audio)
            total += len(s.audio)
        return np.concatenate(chunks)[: int(seconds * engine.sample_rate)], engine.sample_rate
    except (RuntimeError, OSError):
        t = np.arange(int(seconds * 22050)) / 22050
        return (0.3 * np.sin(2 * np.pi * 140 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32), 22050


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import librosa
    import onnxruntime as ort

    from model_server import acoustic
    from model_server.features import SAMPLE_RATE, log_mel

    audio, sr = _speech(args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "clip.wav"
        sf.write(wav, audio, sr)
        model = acoustic.AcousticModel.load(device="cpu")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        model._session = ort.InferenceSession(str(acoustic.DEFAULT_WEIGHTS), sess_options=opts,
                                              providers=["CPUExecutionProvider"])
        times: dict[str, list[float]] = {"decode": [], "features": [], "model+smoothing": [], "total": []}
        for _ in range(args.repeats + 1):
            t0 = time.perf_counter()
            data, rate = sf.read(wav, dtype="float32")
            x = librosa.resample(data, orig_sr=rate, target_sr=SAMPLE_RATE, res_type="soxr_hq")
            t1 = time.perf_counter()
            mel = log_mel(x)
            t2 = time.perf_counter()
            aus, _ = model.predict_features(mel)
            t3 = time.perf_counter()
            for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                v_list = times[k]
                v_list.append(v)
        print(f"clip {args.seconds:.0f} s, {len(aus)} frames, model {model.version}, 1 CPU thread")
        print(f"{'stage':<18}{'median ms':>12}{'x real time':>14}")
        for k, v in times.items():
            med = float(np.median(v[1:]))
            print(f"{k:<18}{med * 1000:>12.1f}{args.seconds / med:>14.0f}")
        total = float(np.median(times["total"][1:]))
        verdict = "PASS" if args.seconds / total >= 300 else "FAIL"
        print(f"target >= 300x real time: {args.seconds / total:.0f}x {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
