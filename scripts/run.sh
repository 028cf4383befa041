#!/usr/bin/env bash
# Sets up (idempotent) and runs the app on the offline default model: http://127.0.0.1:7860
# Extra arguments go to app.py (see: .venv/bin/python app.py --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python app.py "$@"
