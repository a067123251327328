#!/usr/bin/env bash
# Command 2: set up (idempotent, fast when already done), then run every test tier, lint and types.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --with-test-blenders
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
.venv/bin/ruff check .
.venv/bin/mypy au_contract model_server model_training rigs blender_addon batch_render
.venv/bin/python -m pytest "$@"
