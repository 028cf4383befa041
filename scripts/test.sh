#!/usr/bin/env bash
# Sets up (idempotent) and runs the whole test suite on the CPU. GPU tests (tests/gpu) skip without CUDA.
# Extra arguments go to pytest (e.g. -m "not model" to skip the real-model tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
