#!/usr/bin/env bash
# Runs HERE (the development machine), from anywhere: builds <repo>/.gpu/ for the GPU test machine.
#   .gpu/            lmdeploy 0.18 + TurboMind + the wheels lmdeploy needs there (../shared/gpu/prepare.sh, 43 MiB)
#   .gpu/extra/      pytest and what it needs, which the GPU image lacks (2 MiB; installed only where missing)
# Carry it with carry: [".gpu"] and start the command with `bash scripts/gpu/device_setup.sh`.
# Usage: scripts/gpu/prepare_here.sh [path-to-shared-gpu-dir]   (default: /work/shared/gpu)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
shared=${1:-/work/shared/gpu}
"$shared/prepare.sh" "$repo"
mkdir -p "$repo/.gpu/extra"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d "$repo/.gpu/extra" \
  pytest==9.0.3 pluggy==1.7.0 iniconfig==2.3.1 pygments==2.21.0 packaging==26.3
du -sh "$repo/.gpu"
