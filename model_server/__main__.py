"""``python -m model_server serve|predict ...``: the server half of the ``au-talking-head`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main(prog="python -m model_server", only=("serve", "predict")))
