"""``au-talking-head demo``: the bundled speech clip on the default Gaussian-splat head, to an MP4.

Pure module: ``configure`` adds the arguments; ``run`` renders through the same batch job as
``au-talking-head render`` (so the demo exercises the real path: model server, add-on operators, splat
engine, FFMPEG). The demo always renders again (``setup.sh`` runs it on every call); the previous video
is replaced only once the new one is complete.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .cli import add_render_options, blender_side
from .errors import BatchError
from .jobs import BatchItem, BatchOptions, probe

#: The bundled clip (Piper en_US-joe-medium, made by scripts/make_demo_clip.py) and its phone timings.
ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEMO_CLIP = ASSETS / "demo_speech.wav"
DEMO_PHONES = ASSETS / "demo_speech.phones.json"
#: Demo defaults: small enough to render quickly on 2 CPU cores.
DEMO_RESOLUTION = (384, 384)
DEMO_FPS = 25.0


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` arguments to ``parser``."""
    parser.add_argument("--out", type=Path, default=Path("out/demo.mp4"),
                        help="the MP4 (default out/demo.mp4)")
    parser.add_argument("--audio", type=Path, default=DEMO_CLIP,
                        help="speech clip (default: the bundled one)")
    add_render_options(parser)
    parser.set_defaults(fps=DEMO_FPS, resolution=DEMO_RESOLUTION)


def run(args: argparse.Namespace) -> int:
    """Render the demo; returns 0 on success."""
    out = Path(args.out)
    if out.suffix.lower() != ".mp4":
        print(f"au-talking-head demo: error: --out must end in .mp4, got {out}", file=sys.stderr)
        return 2
    if not Path(args.audio).is_file():
        print(f"au-talking-head demo: error: speech clip not found: {args.audio} "
              "(make it with scripts/make_demo_clip.py)", file=sys.stderr)
        return 2
    options = BatchOptions(items=[BatchItem(Path(args.audio).resolve(), out.resolve())], blend=None,
                           fps=args.fps, emotion=args.emotion, strength=args.strength,
                           resolution=args.resolution, force=True, server_url=args.server,
                           engine=args.engine, samples=args.samples)
    started = time.monotonic()
    try:
        report = blender_side().run_job(options)
    except BatchError as exc:  # JobServerError included
        print(f"au-talking-head demo: error: {exc}", file=sys.stderr)
        return 2
    if report.failed:
        print(report.summary(), file=sys.stderr)
        return 1
    result = report.results[0]
    wall_s = time.monotonic() - started
    info = probe(out)
    streams = f"{info.video_codec} {info.width}x{info.height} + {info.audio_codec}, {info.duration_s:.2f} s" \
        if info else "ffprobe not found"
    per_frame = result.render_s / result.frames if result.frames else 0.0
    print(f"demo: wrote {out} ({streams}); {result.frames} frames; wall {wall_s:.1f} s, "
          f"render {result.render_s:.1f} s = {per_frame:.3f} s/frame (engine {result.engine})")
    return 0
