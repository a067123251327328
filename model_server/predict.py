"""``au-talking-head predict IN -o OUT.json``: one audio file to au-tracks/1 JSON, without a server."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path

from au_contract import option_flags

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``predict`` arguments (imports nothing heavy)."""
    parser.add_argument("input", type=Path, metavar="IN_AUDIO", help="speech file (WAV, FLAC, OGG, MP3...)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.json",
                        help="where to write the au-tracks/1 JSON ('-' for standard output)")
    option_flags.add_arguments(parser)  # --fps --emotion --strength --seed --no-blinks ... (contract)
    parser.add_argument("--max-duration", type=float, default=3600.0, help="longest accepted audio, seconds")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto", help="model device")


def run(args: argparse.Namespace) -> int:
    """Predict and write the JSON; returns 0, or 2 with a message on stderr for bad input."""
    from .acoustic import ModelNotFoundError
    from .decode import AudioError
    from .pipeline import OptionsError, PredictOptions, get_model, predict_tracks

    try:
        options = option_flags.options_from_namespace(args, PredictOptions,
                                                         max_duration_s=args.max_duration)
    except OptionsError as exc:
        print(f"predict: {exc}", file=sys.stderr)
        return 2
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
        problem = write_atomically(args.output, text)
        if problem:
            print(f"predict: cannot write {args.output}: {problem}", file=sys.stderr)
            return 2
    t = tracks.meta["timing_ms"]
    print(f"predict: {args.input.name}: {tracks.duration_s:.2f} s -> {tracks.frame_count} frames at "
          f"{tracks.fps:g} fps in {t['total_ms']:.0f} ms ({tracks.meta['device']}, model "
          f"{tracks.meta['model']})", file=sys.stderr)
    return 0


def write_atomically(path: Path, text: str) -> str:
    """Write ``text`` to ``OUT.part`` beside ``path``, then rename it; returns ``""`` or what went wrong.

    Whatever happens (a full disk, a file-size limit, Ctrl+C), neither a half-written ``path`` nor the
    ``.part`` file is left behind.
    """
    tmp = path.with_name(path.name + ".part")
    done = False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        done = True
    except OSError as exc:
        return f"{exc.strerror or exc} (nothing was written)"
    finally:
        if not done:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    return ""
