"""Quality gate: a short built-in math evaluation of one or more model folders (fp16 vs W4A16), graded by the checker.

    python bench/quality_gate.py --model DIR [--model DIR ...] [--backend auto] [--limit 50]

About 50 problems with exact answers, generated from a fixed seed (written for this project), are asked of each
model greedily with a "put the final answer in \\boxed{}" instruction; the final answer is taken with
``checker.extract_final_answer`` and graded with ``checker.check_answer``. For each model: accuracy, tokens/s over
the whole run (all problems in flight at once, as a class would be) and the weight files' size on disk. Prints JSON.
Not covered: the tutoring prompts (bench/tutor_eval.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

INSTRUCTION = "Solve the problem. Give only a short solution and put the final answer in \\boxed{}."


def problems(n: int = 50, seed: int = 2026) -> list[tuple[str, str]]:
    """(question, reference answer) pairs: arithmetic, fractions, percentages, linear and quadratic equations."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    makers = [
        lambda: (lambda a, b: (f"Compute {a} \\times {b}.", str(a * b)))(rng.randint(12, 99), rng.randint(12, 99)),
        lambda: (lambda a, b: (f"Compute {a} + {b}.", str(a + b)))(rng.randint(100, 999), rng.randint(100, 999)),
        lambda: (lambda p, n_: (f"What is {p}% of {n_}?", f"{p * n_ / 100:g}"))(rng.choice([10, 15, 20, 25, 40]),
                                                                                 rng.choice([80, 120, 240, 360])),
        lambda: (lambda a, b, c: (f"Solve for x: {a}x + {b} = {a * c + b}.", str(c)))(
            rng.randint(2, 9), rng.randint(1, 20), rng.randint(-9, 9)),
        lambda: (lambda r, s: (f"Solve x^2 - {r + s}x + {r * s} = 0.", f"x = {r} or x = {s}"))(
            rng.randint(1, 6), rng.randint(7, 12)),
        lambda: (lambda a, b: (f"Simplify \\frac{{1}}{{{a}}} + \\frac{{1}}{{{b}}}.", f"{a + b}/{a * b}"))(
            rng.choice([2, 3, 5, 7]), rng.choice([4, 9, 11, 13])),
        lambda: (lambda k: (f"What is the derivative of x^{k} with respect to x?", f"{k}*x^{k - 1}"))(
            rng.randint(2, 9)),
    ]
    while len(out) < n:
        out.append(makers[len(out) % len(makers)]())
    return out


def weight_bytes(model_dir: Path) -> int:
    return sum(p.stat().st_size for p in model_dir.glob("*.safetensors"))


async def evaluate(engine, items: list[tuple[str, str]], max_new_tokens: int) -> dict[str, object]:
    import checker
    from engine.base import GenParams

    params = GenParams(temperature=0.0, top_p=1.0, max_new_tokens=max_new_tokens)

    async def one(question: str) -> tuple[str, int]:
        text, tokens = "", 0
        messages = [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": question}]
        async for chunk in engine.stream(messages, params):
            text, tokens = text + chunk.text, tokens + chunk.tokens
        return text, tokens

    start = time.perf_counter()
    replies = await asyncio.gather(*(one(q) for q, _ in items))
    seconds = time.perf_counter() - start
    correct, samples = 0, []
    for (question, reference), (text, _) in zip(items, replies):
        found = checker.extract_final_answer(text)
        # form="simplified": restating the question ("27 \\times 52") is not an answer to it.
        verdict = await asyncio.to_thread(checker.check_answer, found, reference, form="simplified") if found else None
        ok = bool(verdict and verdict.equivalent)
        correct += ok
        if len(samples) < 3:
            samples.append({"question": question, "reference": reference, "found": found, "correct": ok})
    tokens = sum(t for _, t in replies)
    return {"problems": len(items), "correct": correct, "accuracy": round(correct / len(items), 3),
            "tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1),
            "samples": samples}


def main(argv: list[str] | None = None) -> int:
    out = sys.stdout
    sys.stdout = sys.stderr  # only the JSON goes to stdout
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="model folder (repeat to compare)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--max-new-tokens", type=int, default=384)
    parser.add_argument("--cache-max-entry-count", type=float, default=0.5)
    args = parser.parse_args(argv)

    from engine.factory import create_engine
    from engine.settings import EngineSettings

    items = problems(args.limit)
    results = []
    for model in args.model:
        engine = create_engine(EngineSettings(backend=args.backend, model=model,
                                              cache_max_entry_count=args.cache_max_entry_count))
        loop = asyncio.new_event_loop()
        try:
            figures = loop.run_until_complete(evaluate(engine, items, args.max_new_tokens))
        finally:
            loop.run_until_complete(engine.close())
            loop.close()
        results.append({"model": model, "backend": engine.info.backend, "weight_format": engine.info.weight_format,
                        "device": engine.info.device, "weight_bytes_on_disk": weight_bytes(Path(model)), **figures})
    print(json.dumps({"benchmark": "quality_gate", "results": results}, indent=2), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
