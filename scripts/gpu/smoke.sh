#!/usr/bin/env bash
# Runs ON the GPU machine, from the repo root, carrying .gpu: the early smoke run. Sets up lmdeploy, then runs
# tests/gpu (the tiny random-weight Qwen2 model under TurboMind: streaming, abort, 16 concurrent streams).
# Logs go to $OUT: setup.log, nvidia-smi.txt, pytest_gpu.log, gpu_report.jsonl (tokens/s as JSON lines).
set -uo pipefail
out=${OUT:-/tmp/gpu-out}; mkdir -p "$out"
bash scripts/gpu/device_setup.sh > "$out/setup.log" 2>&1 || { cat "$out/setup.log"; exit 1; }
tail -1 "$out/setup.log"
# shellcheck disable=SC1091
. /tmp/gpu_env.sh
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TUTOR_CACHE_DIR=${TUTOR_CACHE_DIR:-/tmp/tutor-cache}
nvidia-smi > "$out/nvidia-smi.txt" 2>&1; cat "$out/nvidia-smi.txt"
TUTOR_GPU_REPORT=$out/gpu_report.jsonl timeout "${SMOKE_TIMEOUT:-420}" \
  python3 -m pytest tests/gpu -q -s -p no:cacheprovider 2>&1 | tee "$out/pytest_gpu.log"
rc=${PIPESTATUS[0]}
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv >> "$out/nvidia-smi.txt" 2>&1
exit "$rc"
