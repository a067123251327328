"""``au-talking-head render``: speech files (or folders of them) to MP4 videos, one per input.

Pure module: ``configure`` adds the arguments and imports nothing heavy; ``run`` checks the inputs, then
imports the Blender half (``bl_render``, which needs the bpy module or a running Blender) and renders.

In the project's virtual environment (the bpy module, in-process)::

    au-talking-head render clips/ -o renders/ [--blend scene.blend] [--emotion HAPPINESS --strength 0.7]
                                              [--language fr]   # of the clips' <stem>.txt transcripts
                                              [--precise]       # the server's precise mode

Inside a real Blender with the extension installed (the same arguments after ``--``)::

    blender -b scene.blend --python batch_render/bl_entry.py -- clips/ -o renders/
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path
from types import ModuleType

from au_contract import connection, option_flags

from .errors import BatchError
from .jobs import BatchOptions, collect_items, parse_resolution

log = logging.getLogger(__name__)

#: Render engines accepted by ``--engine`` (the splat engine is the default scene's).
ENGINES = ("AU_TALKING_HEAD_SPLAT", "CYCLES", "BLENDER_EEVEE", "BLENDER_EEVEE_NEXT", "BLENDER_WORKBENCH")


def _resolution(text: str) -> tuple[int, int]:
    try:
        return parse_resolution(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_render_options(parser: argparse.ArgumentParser) -> None:
    """The options ``render`` and ``demo`` share (look, server, engine)."""
    # --fps --emotion --strength: the contract's request options (names, ranges, messages, help)
    option_flags.add_arguments(parser, ("fps", "emotion", "strength"), defaults={"fps": None},
                                  default_help={"fps": "the .blend's own; the default scene's is 30"})
    parser.add_argument("--resolution", type=_resolution, default=None, metavar="WxH",
                        help="frame size, e.g. 512x512 (default: the .blend's own; default scene 512x512)")
    parser.add_argument("--server", default=None, metavar="URL",
                        help=f"model server URL (default: reuse {connection.DEFAULT_URL} if it answers, "
                             "else start one for the job and stop it after)")
    parser.add_argument("--engine", choices=ENGINES, default=None,
                        help="render engine (default: the .blend's own; the default scene uses the "
                             "Gaussian splat engine)")
    parser.add_argument("--samples", type=int, default=None,
                        help="Cycles/EEVEE samples (default: the scene's)")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``render`` arguments to ``parser``."""
    parser.add_argument("inputs", nargs="+", type=Path, metavar="AUDIO_OR_FOLDER",
                        help="speech files, or folders whose audio files are all rendered")
    parser.add_argument("-o", "--out-dir", type=Path, required=True, help="folder for the MP4 files")
    parser.add_argument("--blend", type=Path, default=None,
                        help="a .blend with a rig (scene.au_talking_head.rig) and a camera "
                             "(default: the generated default head with its splat twin)")
    parser.add_argument("--force", action="store_true",
                        help="re-render inputs whose MP4 already exists and is valid (default: skip them)")
    add_render_options(parser)
    # --language: of the transcripts beside the audio files (<stem>.txt, dialog mode)
    option_flags.add_arguments(parser, ("language",), defaults={"language": None},
                               default_help={"language": "the .blend's panel setting; the default scene's "
                                                         "is en"})
    # --precise: the server's precise mode for every line (absent: the .blend's Precise Lips toggle)
    option_flags.add_arguments(parser, ("precise",), defaults={"precise": None})


def options_from_args(args: argparse.Namespace) -> BatchOptions:
    """Build the job from parsed ``render`` arguments.

    Raises:
        BatchError: if an input or the .blend does not exist.
    """
    if args.blend is not None and not Path(args.blend).is_file():
        raise BatchError(f"--blend: no such file: {args.blend}")
    return BatchOptions(
        items=collect_items(args.inputs, args.out_dir), blend=args.blend, fps=args.fps,
        emotion=args.emotion, strength=args.strength, resolution=args.resolution, force=args.force,
        server_url=args.server, engine=args.engine, samples=args.samples, language=args.language,
        precise=args.precise,
    )


def blender_side() -> ModuleType:
    """Import ``bl_render`` (the Blender half), explaining what is missing when bpy is not there.

    Raises:
        BatchError: if neither the bpy module nor a running Blender is available.
    """
    try:
        return importlib.import_module(f"{__package__}.bl_render")
    except ImportError as exc:
        if "bpy" not in str(exc):
            raise
        raise BatchError("Blender is needed to render: install the bpy module in this environment "
                         "('pip install bpy==5.0.1', Python 3.11), or run inside Blender: "
                         "blender -b scene.blend --python batch_render/bl_entry.py -- ARGS") from None


def run(args: argparse.Namespace) -> int:
    """Render every input; returns 0 if all were rendered or skipped, 1 if any failed, 2 on bad usage."""
    try:
        options = options_from_args(args)
        report = blender_side().run_job(options)
    except BatchError as exc:  # JobServerError included
        print(f"au-talking-head render: error: {exc}", file=sys.stderr)
        return 2
    print(report.summary(), file=sys.stderr if report.failed else sys.stdout)
    return report.exit_code()
