#!/usr/bin/env bash
# Runs ON the GPU machine after session.sh built the AWQ model: bench/load.py once per variant, in turn, so that
# variants of the serving process (ui.runtime) are compared on the same machine in one call.
#   bash scripts/gpu/load_ab.sh NAME='--extra bench/load.py flags' [NAME='...' ...]
# Each run: 64 students, W4A16 under TurboMind, LOAD_CLIENT (sse), LOAD_QUESTIONS (bank), LOAD_TURNS (2),
# LOAD_TOKENS (512); JSON to $OUT/bench_load_NAME.json. A run is skipped when less than 70 s of the call's
# SESSION_LIMIT_S (570) is left. LOAD_SCRIPT: another script that takes bench/load.py's flags (default: that one).
set -uo pipefail
. "${GPU_ENV:-/tmp/gpu_env.sh}"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} TUTOR_CACHE_DIR=${TUTOR_CACHE_DIR:-/tmp/tutor-cache}
out=${OUT:-/tmp/gpu-out}; mkdir -p "$out"
awq=$TUTOR_CACHE_DIR/quantized/qwen2.5-coder-0.5b-instruct-awq
started=$SECONDS; limit=${SESSION_LIMIT_S:-570}
for variant in "$@"; do
  name=${variant%%=*}; flags=${variant#*=}
  left=$((limit - (SECONDS - started)))
  (( left > 70 )) || { echo "== SKIP $name: $left s left"; continue; }
  # shellcheck disable=SC2086
  timeout $((left - 5)) python3 "${LOAD_SCRIPT:-bench/load.py}" --backend lmdeploy --model "$awq" --students ${LOAD_STUDENTS:-64} \
    --turns ${LOAD_TURNS:-2} --max-new-tokens ${LOAD_TOKENS:-512} --questions ${LOAD_QUESTIONS:-bank} \
    --client ${LOAD_CLIENT:-sse} $flags > "$out/bench_load_$name.json" 2> "$out/load_$name.err" \
    || { echo "== FAILED: $name"; tail -5 "$out/load_$name.err"; }
  python3 - "$out/bench_load_$name.json" "$name" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(0)
a = d["app"]
print(sys.argv[2], "ttft", a["ttft_p50_ms"], a["ttft_p95_ms"], "ratio", d["app_vs_engine_throughput"], "errors",
      d["errors"], "wrong", d["wrong_session"], "gc", a.get("server_gc"), "busy", a.get("server_loop_busy"),
      "phases", a.get("ttft_phases"), "tutor", a.get("tutor_ms"), flush=True)
PY
done
