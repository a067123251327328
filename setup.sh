#!/usr/bin/env bash
# Command 1: set everything up (idempotent) and run the main job on the embedded default:
# the bundled speech clip -> default Gaussian-splat head -> out/demo.mp4 with sound.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install.sh
exec .venv/bin/au-talking-head demo --out out/demo.mp4 "$@"
