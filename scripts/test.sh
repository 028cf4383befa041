#!/usr/bin/env bash
# Sets up (idempotent) and runs the whole test suite on the CPU. GPU tests (tests/gpu) skip without CUDA.
# Browser tests need Debian's Chromium: installed here with apt-get when missing and we are root (never a browser
# that a test tool downloads). Extra arguments go to pytest (e.g. -m "not model" skips the real-model tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "test: chromium not found and cannot apt-get install it: browser tests will be skipped" >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
