#!/usr/bin/env bash
# Creates .venv and installs requirements.txt into it. Idempotent: a second run does nothing unless
# requirements.txt changed (its sha256 is stamped into .venv). Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
want=$(cat requirements.txt | sha256sum | cut -c1-64)
if [[ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$want" ]]; then
  echo "setup: installing requirements.txt into .venv (first time: about 5 minutes, several GB for torch)"
  # llama-cpp-python compiles llama.cpp once (about 8 minutes on 2 cores; pip caches the wheel): CPU only, and
  # portable, so a cached wheel also runs on another CPU.
  CMAKE_ARGS=${CMAKE_ARGS:-"-DGGML_NATIVE=OFF -DGGML_CUDA=OFF"} \
    .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
  echo "$want" > .venv/.requirements.sha256
fi
