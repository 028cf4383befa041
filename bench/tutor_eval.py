"""Tutoring benchmark over the practice bank: final-answer accuracy without and with CAS grounding, and the
verifier's precision and recall against the bank's references.

    .venv/bin/python bench/tutor_eval.py [--backend auto] [--model default] [--limit 26] [--max-new-tokens 640]

For each problem (round-robin over topics, ``--limit`` of them) the active model answers twice in step-by-step
mode, greedy: once with the plain mode prompt, once with sympy's result added (``tutor.grounding_note``; only
where sympy understands the question). A reply is correct when its final answer passes ``check_answer`` against
the bank's reference with the problem's rules. The verifier (``checker.verify_solution``) is scored on the
ungrounded replies against that ground truth — precision of "verified" (the reply really is right), recall (right
replies it verifies), precision of "disputed" — and, without the model, on the whole bank with the reference as
a correct reply and the distractor as a near miss. Prints one JSON object. Not covered: speed (bench/stream.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checker import check_answer, extract_final_answer  # noqa: E402
from checker.verify import compute, verify_solution  # noqa: E402
from engine.base import Engine, GenParams  # noqa: E402
from engine.settings import EngineSettings  # noqa: E402
from tutor.bank import Problem, default_bank, round_robin  # noqa: E402
from tutor.grounding import grounding_note  # noqa: E402
from tutor.modes import STEPS, system_prompt  # noqa: E402


def pick(problems: tuple[Problem, ...], limit: int | None, only_grounded: bool) -> list[Problem]:
    """Round-robin over topics so a small ``limit`` still covers them all."""
    return round_robin((p for p in problems if not only_grounded or compute(p.statement) is not None), limit)


async def answer(engine: Engine, problem: Problem, note: str | None, params: GenParams) -> tuple[str, float]:
    prompt = system_prompt(STEPS, "en") + (f"\n\n{note}" if note else "")
    messages = [{"role": "system", "content": prompt}, {"role": "user", "content": problem.statement}]
    start = time.perf_counter()
    text = "".join([chunk.text async for chunk in engine.stream(messages, params)])
    return text, time.perf_counter() - start


def correct(reply: str, problem: Problem) -> bool:
    found = extract_final_answer(reply)
    return bool(found) and check_answer(found, problem.answer, **problem.check_rules()).equivalent


def ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def verifier_scores(pairs: list[tuple[str, bool]]) -> dict[str, object]:
    """``pairs``: (verifier status, reply really correct)."""
    counts = Counter(pairs)
    verified_right, verified_wrong = counts[("verified", True)], counts[("verified", False)]
    disputed_wrong, disputed_right = counts[("disputed", False)], counts[("disputed", True)]
    right = sum(v for (_, ok), v in counts.items() if ok)
    wrong = sum(v for (_, ok), v in counts.items() if not ok)
    return {"replies": len(pairs), "right": right, "wrong": wrong,
            "status_counts": dict(Counter(s for s, _ in pairs)),
            "verified_precision": ratio(verified_right, verified_right + verified_wrong),
            "verified_recall": ratio(verified_right, right),
            "disputed_precision": ratio(disputed_wrong, disputed_wrong + disputed_right),
            "disputed_recall": ratio(disputed_wrong, wrong),
            "coverage": ratio(len(pairs) - counts[("unknown", True)] - counts[("unknown", False)], len(pairs))}


def bank_verifier(problems: tuple[Problem, ...]) -> dict[str, object]:
    """The verifier with the reference as a correct reply and the distractor as a wrong one (no model)."""
    pairs = []
    for p in problems:
        pairs.append((verify_solution(p.statement, f"\\boxed{{{p.answer}}}").status, True))
        if p.distractor:
            pairs.append((verify_solution(p.statement, f"\\boxed{{{p.distractor}}}").status, False))
    return verifier_scores(pairs)


async def run_model(engine: Engine, problems: list[Problem], params: GenParams,
                    concurrency: int = 16) -> dict[str, object]:
    """Ask each problem twice (plain, grounded); ``concurrency`` problems at a time, as a class would (a GPU engine
    batches them; a CPU engine queues them). sympy's work runs in threads, off the event loop."""
    gate = asyncio.Semaphore(concurrency)

    async def one(p: Problem) -> dict[str, object]:
        async with gate:
            note = await asyncio.to_thread(grounding_note, p.statement, "en")
            plain, t_plain = await answer(engine, p, note=None, params=params)
            grounded, t_grounded = (await answer(engine, p, note, params)) if note else (plain, 0.0)
        status = (await asyncio.to_thread(verify_solution, p.statement, plain)).status
        row = {"id": p.id, "topic": p.topic, "grounded": note is not None,
               "plain_ok": await asyncio.to_thread(correct, plain, p),
               "grounded_ok": await asyncio.to_thread(correct, grounded, p), "verifier": status,
               "plain_found": extract_final_answer(plain),
               "grounded_found": extract_final_answer(grounded) if note else None,
               "seconds": round(t_plain + t_grounded, 1)}
        print(json.dumps(row), file=sys.stderr, flush=True)
        return row

    start = time.perf_counter()
    rows = list(await asyncio.gather(*(one(p) for p in problems)))
    wall = time.perf_counter() - start
    with_note = [r for r in rows if r["grounded"]]
    summary = {
        "problems": len(rows), "with_sympy_result": len(with_note),
        "accuracy_plain": ratio(sum(r["plain_ok"] for r in rows), len(rows)),
        "accuracy_grounded": ratio(sum(r["grounded_ok"] for r in rows), len(rows)),
        "accuracy_plain_where_grounded": ratio(sum(r["plain_ok"] for r in with_note), len(with_note)),
        "accuracy_grounded_where_grounded": ratio(sum(r["grounded_ok"] for r in with_note), len(with_note)),
        "verifier_on_model_replies": verifier_scores([(r["verifier"], r["plain_ok"]) for r in rows]),
        "generation_seconds": round(sum(r["seconds"] for r in rows), 1),
        "wall_seconds": round(wall, 1), "concurrency": concurrency,
    }
    if summary["accuracy_plain"] is not None:
        summary["grounding_lift_points"] = round(100 * (summary["accuracy_grounded"] - summary["accuracy_plain"]), 1)
    summary["rows"] = rows
    return summary


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--model", default="default")
    parser.add_argument("--model-format", default="auto")
    parser.add_argument("--limit", type=int, default=None, help="problems to run (round-robin over topics)")
    parser.add_argument("--only-grounded", action="store_true", help="only problems sympy can answer")
    parser.add_argument("--max-new-tokens", type=int, default=640,
                        help="per reply; small models are verbose, and a cut-off reply has no final answer")
    parser.add_argument("--no-model", action="store_true", help="score the verifier on the bank only")
    parser.add_argument("--concurrency", type=int, default=16, help="problems in flight at once")
    args = parser.parse_args(argv)

    bank = default_bank()
    start = time.perf_counter()
    report: dict[str, object] = {"benchmark": "tutor_eval", "bank_problems": len(bank.problems),
                                 "machine": f"{platform.node()} ({os.cpu_count()} CPUs)",
                                 "verifier_on_bank": bank_verifier(bank.problems)}
    report["verifier_on_bank_seconds"] = round(time.perf_counter() - start, 1)
    if not args.no_model:
        from engine.factory import create_engine

        settings = EngineSettings(backend=args.backend, model=args.model, model_format=args.model_format)
        load = time.perf_counter()
        engine = create_engine(settings)
        report.update(backend=engine.info.backend, model=engine.info.model,
                      weight_format=engine.info.weight_format, device=engine.info.device,
                      load_seconds=round(time.perf_counter() - load, 1), max_new_tokens=args.max_new_tokens)
        params = GenParams(temperature=0.0, top_p=1.0, max_new_tokens=args.max_new_tokens, seed=0)
        problems = pick(bank.problems, args.limit, args.only_grounded)
        loop = asyncio.new_event_loop()
        try:
            report["model_eval"] = loop.run_until_complete(run_model(engine, problems, params, args.concurrency))
        finally:
            loop.run_until_complete(engine.close())
            loop.close()
    print(json.dumps(report, indent=2, ensure_ascii=False), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
