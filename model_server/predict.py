"""``au-talking-head predict IN -o OUT.json``: one audio file to au-tracks/1 JSON, without a server."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from au_contract import EMOTIONS

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``predict`` arguments (imports nothing heavy)."""
    parser.add_argument("input", type=Path, metavar="IN_AUDIO", help="speech file (WAV, FLAC, OGG, MP3...)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.json",
                        help="where to write the au-tracks/1 JSON ('-' for standard output)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate, fractional allowed (default 30)")
    parser.add_argument("--emotion", default="NEUTRAL", type=str.upper, choices=EMOTIONS,
                        help="emotion preset (default NEUTRAL)")
    parser.add_argument("--strength", type=float, default=1.0, help="emotion strength 0..1 (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for blinks and brow raises")
    parser.add_argument("--no-blinks", dest="blinks", action="store_false", help="no blinks")
    parser.add_argument("--no-prosody", dest="prosody", action="store_false", help="no prosody brow raises")
    parser.add_argument("--smoothing", type=float, default=0.0, help="extra smoothing 0..1 (default 0)")
    parser.add_argument("--no-landmarks", dest="landmarks", action="store_false", help="omit landmarks")
    parser.add_argument("--max-duration", type=float, default=3600.0, help="longest accepted audio, seconds")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto", help="model device")


def run(args: argparse.Namespace) -> int:
    """Predict and write the JSON; returns 0, or 2 with a message on stderr for bad input."""
    from .acoustic import ModelNotFoundError
    from .decode import AudioError
    from .pipeline import OptionsError, PredictOptions, get_model, predict_tracks

    options = PredictOptions(fps=args.fps, emotion=args.emotion, strength=args.strength, seed=args.seed,
                             blinks=args.blinks, prosody=args.prosody, smoothing=args.smoothing,
                             landmarks=args.landmarks, max_duration_s=args.max_duration)
    try:
        data = args.input.read_bytes()
        tracks = predict_tracks(data, options, model=get_model(args.device))
    except OSError as exc:
        print(f"predict: cannot read {args.input}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except AudioError as exc:
        print(f"predict: {args.input}: {exc.message} [{exc.code}]", file=sys.stderr)
        return 2
    except (OptionsError, ModelNotFoundError) as exc:
        print(f"predict: {exc}", file=sys.stderr)
        return 2
    text = tracks.to_json()
    if str(args.output) == "-":
        sys.stdout.write(text + "\n")
    else:
        tmp = args.output.with_name(args.output.name + ".part")
        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(args.output)  # never leave a half-written file behind
        except OSError as exc:
            print(f"predict: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    t = tracks.meta["timing_ms"]
    print(f"predict: {args.input.name}: {tracks.duration_s:.2f} s -> {tracks.frame_count} frames at "
          f"{tracks.fps:g} fps in {t['total_ms']:.0f} ms ({tracks.meta['device']}, model "
          f"{tracks.meta['model']})", file=sys.stderr)
    return 0
