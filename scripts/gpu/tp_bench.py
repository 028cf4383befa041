"""Tensor parallelism on the GPU machine (issue 8): tokens/s at 1 and 16 streams for tp=1 and tp=2, per model.

    python3 scripts/gpu/tp_bench.py --model NAME=DIR [--model NAME=DIR ...] [--random-7b DIR] [--tp 1,2]
                                    [--users 1,16] [--max-new-tokens 256]

Each model is served by ``engine.lmdeploy_backend.LmdeployEngine`` (TurboMind) once per tp, one at a time (the
engine is closed before the next starts), with ``ignore_eos`` so every reply is exactly ``--max-new-tokens`` long;
the streams are asked at once, straight against the engine (``bench/stream.py``'s engine-alone path). ``--random-7b
DIR`` first builds (once) a random-weight fp16 model of Qwen2-7B's shape in DIR, on the GPU, with the tokenizer of
the first ``--model``: speed only, its text is noise. Prints one JSON line per (model, tp), with load time and the
GPU memory each GPU gave to the engine. NVLink multicast stays off (``engine.lmdeploy_api.MULTICAST_OFF``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.stream import CountingEngine, _engine_alone  # noqa: E402
from engine.base import GenParams  # noqa: E402
from engine.settings import EngineSettings  # noqa: E402

QWEN2_7B = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768, rope_theta=1e6,
                tie_word_embeddings=False)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json",
                   "chat_template.jinja", "generation_config.json")


def build_random_7b(dest: Path, tokenizer_from: Path) -> Path:
    if (dest / "config.json").is_file():
        return dest
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    start = time.perf_counter()
    source = json.loads((tokenizer_from / "config.json").read_text())
    config = Qwen2Config(**QWEN2_7B, eos_token_id=source.get("eos_token_id"), bos_token_id=source.get("bos_token_id"),
                         torch_dtype="float16")
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float16)
    with torch.device("cuda"):
        model = Qwen2ForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial, max_shard_size="4GB")
    for name in TOKENIZER_FILES:
        if (tokenizer_from / name).is_file() and name != "generation_config.json":
            shutil.copy(tokenizer_from / name, partial / name)
    del model
    torch.cuda.empty_cache()
    partial.rename(dest)
    print(f"built {dest} in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return dest


def run_one(name: str, model_dir: Path, tp: int, users: list[int], max_new_tokens: int, ratio: float) -> dict:
    import torch

    from engine.lmdeploy_backend import LmdeployEngine

    record: dict = {"benchmark": "tp", "model": name, "tp": tp, "gpus_visible": torch.cuda.device_count(),
                    "gpu": torch.cuda.get_device_name(0), "max_new_tokens": max_new_tokens,
                    "cache_max_entry_count": ratio}
    if tp > torch.cuda.device_count():
        return {**record, "skipped": f"needs {tp} GPUs"}
    settings = EngineSettings(backend="lmdeploy", model=str(model_dir), tp=tp, cache_max_entry_count=ratio,
                              session_len=4096, max_batch_size=64)
    loop = asyncio.new_event_loop()
    start = time.perf_counter()
    try:
        inner = LmdeployEngine(model_dir, settings, ignore_eos=True)
    except Exception as err:  # report and go on with the next configuration
        return {**record, "error": f"{type(err).__name__}: {err}"}
    record["load_seconds"] = round(time.perf_counter() - start, 1)
    engine = CountingEngine(inner)
    try:
        record["status_line"] = inner.info.status_line()
        record["weight_format"] = inner.info.weight_format
        loop.run_until_complete(_engine_alone(engine, 1, GenParams(0.0, 1.0, 16)))  # warm-up
        params = GenParams(temperature=0.0, top_p=1.0, max_new_tokens=max_new_tokens)
        record["results"] = [{"users": n, **loop.run_until_complete(_engine_alone(engine, n, params))} for n in users]
        record["memory"] = loop.run_until_complete(inner.memory_readout())
    finally:
        loop.run_until_complete(engine.close())
        loop.close()
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="NAME=DIR (repeatable)")
    parser.add_argument("--random-7b", type=Path, help="build (once) and include a random-weight Qwen2-7B-shaped model")
    parser.add_argument("--tp", default="1,2")
    parser.add_argument("--users", default="1,16")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--cache-max-entry-count", type=float, default=0.5)
    args = parser.parse_args(argv)
    models = [(m.split("=", 1)[0], Path(m.split("=", 1)[1])) for m in args.model]
    if args.random_7b:
        if not models:
            parser.error("--random-7b takes its tokenizer from the first --model")
        models.append(("random-qwen2-7b-fp16", build_random_7b(args.random_7b, models[0][1])))
    users = [int(u) for u in args.users.split(",")]
    for name, folder in models:
        for tp in (int(t) for t in args.tp.split(",")):
            print(json.dumps(run_one(name, folder, tp, users, args.max_new_tokens, args.cache_max_entry_count)),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
