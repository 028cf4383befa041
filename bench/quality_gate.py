"""Quality gate from the command line: model folders (fp16 vs W4A16) on the built-in math problems. Prints JSON.

    python bench/quality_gate.py --model DIR [--model DIR ...] [--backend auto] [--limit 50] [--store]

The core is ``engine.quality.run_gate`` (the teacher's panel runs the same): about 50 problems with exact answers,
generated from a fixed seed (written for this project), asked greedily with a "put the final answer in \\boxed{}"
instruction, all in flight at once; graded here with ``checker.extract_final_answer`` and ``checker.check_answer``
(form "simplified"). Per model: accuracy, tokens/s of that run, tokens/s on a fixed prompt set at 1 and 16
concurrent streams, weight memory (from config.json) and size on disk, load time. Models are loaded one at a
time. ``--store`` also writes the result as ``quality.json`` into each model folder that is a quantized build
(what the model picker shows). Not covered: the tutoring prompts (bench/tutor_eval.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def weight_bytes_on_disk(model_dir: Path) -> int:
    return sum(p.stat().st_size for p in model_dir.glob("*.safetensors"))


def label(model_dir: Path, taken: set[str]) -> str:
    """'W4A16' for an AWQ checkpoint, else 'fp16'; a folder name is added when two models would share one."""
    try:
        quant = json.loads((model_dir / "config.json").read_text()).get("quantization_config") or {}
    except (OSError, ValueError):
        quant = {}
    name = "W4A16" if quant.get("quant_method") == "awq" else "fp16"
    return name if name not in taken else f"{name} ({model_dir.name})"


def main(argv: list[str] | None = None) -> int:
    out = sys.stdout
    sys.stdout = sys.stderr  # only the JSON goes to stdout
    try:
        return _run(argv, out)
    finally:
        sys.stdout = out


def _run(argv: list[str] | None, out) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="model folder (repeat to compare)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--max-new-tokens", type=int, default=384)
    parser.add_argument("--speed-tokens", type=int, default=128, help="new tokens per stream in the speed probe")
    parser.add_argument("--streams", default="1,16", help="concurrent streams for the speed probe")
    parser.add_argument("--cache-max-entry-count", type=float, default=0.5)
    parser.add_argument("--store", action="store_true", help="write quality.json into quantized build folders")
    args = parser.parse_args(argv)

    import checker
    from engine.factory import create_engine
    from engine.quality import (
        Candidate,
        GateConfig,
        builtin_problems,
        config_weight_bytes,
        final_answer_grader,
        run_gate,
        store_result,
    )
    from engine.quantize import read_metadata
    from engine.settings import EngineSettings

    folders = [Path(m) for m in args.model]
    candidates: dict[str, Candidate] = {}
    for folder in folders:
        settings = EngineSettings(backend=args.backend, model=str(folder),
                                  cache_max_entry_count=args.cache_max_entry_count)
        candidates[label(folder, set(candidates))] = Candidate(
            lambda progress, s=settings: create_engine(s, progress), str(folder), config_weight_bytes(folder))
    config = GateConfig(args.max_new_tokens, args.speed_tokens, tuple(int(s) for s in args.streams.split(",")))
    problems = builtin_problems(args.limit)
    grade = final_answer_grader(checker.extract_final_answer, checker.check_answer)
    result = asyncio.run(run_gate(candidates, problems, grade, config=config,
                                  problem_set=f"built-in math ({len(problems)} problems)",
                                  progress=lambda f, text: print(f"[{f:6.1%}] {text}", flush=True)))
    results = []
    for folder, fmt in zip(folders, result.formats):
        results.append({
            "model": str(folder), "label": fmt.label, "backend": fmt.backend, "weight_format": fmt.weight_format,
            "device": fmt.device, "weight_bytes_on_disk": weight_bytes_on_disk(folder),
            "weight_bytes": fmt.weight_bytes, "problems": fmt.problems, "correct": fmt.correct,
            "accuracy": None if fmt.accuracy is None else round(fmt.accuracy, 3), "tokens": fmt.tokens,
            "seconds": fmt.eval_seconds, "tokens_per_s": fmt.eval_tokens_per_s,
            **{f"tokens_per_s_{s}_stream{'s' if s > 1 else ''}": v for s, v in fmt.tokens_per_s.items()},
            "load_seconds": fmt.load_seconds, "failed_replies": fmt.failed_replies, "error": fmt.error,
            "samples": list(fmt.samples),
        })
        if args.store and read_metadata(folder) is not None:
            print(f"stored: {store_result(folder, result)}", flush=True)
    print(json.dumps({"benchmark": "quality_gate", "results": results}, indent=2), file=out)
    return 0 if not any(f.error for f in result.formats) else 1


if __name__ == "__main__":
    sys.exit(main())
