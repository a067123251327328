"""The ``au-talking-head`` console command: ``serve | predict | render | demo``.

Each subcommand lives in its own module, which provides ``configure(parser)`` (adds arguments, imports
nothing heavy) and ``run(args) -> int`` (does the work). ``render`` and ``demo`` drive Blender (the bpy
module) and live with the add-on.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("model_server.serve", "run the local HTTP model server"),
    "predict": ("model_server.predict", "turn one audio file into au-tracks/1 JSON"),
    "render": ("batch_render.cli", "render audio files (or a folder) to MP4, one per input"),
    "demo": ("batch_render.demo", "render the bundled speech clip on the default splat head"),
}


def main(argv: Sequence[str] | None = None, prog: str = "au-talking-head",
         only: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run one subcommand; returns the process exit code."""
    parser = argparse.ArgumentParser(prog=prog, description="AU Talking Head: speech to facial animation")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name not in only:
            continue
        subparser = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            subparser.set_defaults(_missing=module_name)
            continue
        module.configure(subparser)
        subparser.set_defaults(_run=module.run)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "_missing", None):
        print(f"{prog} {args.command}: not built yet ({args._missing} does not exist in this version)",
              file=sys.stderr)
        return 2
    return int(args._run(args))


if __name__ == "__main__":
    sys.exit(main())
