"""Checker benchmark: latency per check (median, p90, p99) and checks per second from 8 threads.

    .venv/bin/python bench/checker.py [--rounds 3] [--threads 8] [--workers N]

Runs the checker's own mixed table (tests/checker_cases.py: plain text, LaTeX, sets, intervals, units, forms,
near misses …) through a warm :class:`checker.CheckerPool`, first one check at a time (latency), then from
``--threads`` threads at once (throughput). Deliberate denial-of-service inputs are timed separately (how long
until the verdict, and how long the next check takes while the killed worker is replaced) and are not part of the
latency statistics. Prints one JSON object. Targets: median ≤ 20 ms, p99 ≤ 250 ms. Not covered: the chat engine
(bench/stream.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import checker  # noqa: E402
from checker.pool import CheckerPool  # noqa: E402
from tests.checker_cases import CASES  # noqa: E402

DOS = [("x^1999 - 3x^7 + 1 > 0", "x > 1"), ("e^(e^(e^(e^(e^5))))", "1"), ("9^9^9^9", "2"),
       ("factorial(10^9)", "1"), ("(" * 10_000 + "1" + ")" * 10_000, "1"), ("x" * 1_000_000, "1")]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the table for the latency numbers")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: as checker does)")
    args = parser.parse_args()

    workers = args.workers or checker.pool.default_size()
    pool = CheckerPool(size=workers)
    start = time.perf_counter()
    pool.warm_up()
    cold_start = time.perf_counter() - start

    latencies: list[float] = []
    mismatches = 0
    for _ in range(args.rounds):
        for answer, reference, rules, expected in CASES:
            t0 = time.perf_counter()
            verdict = checker.check_answer(answer, reference, pool=pool, **rules)
            latencies.append(time.perf_counter() - t0)
            want = expected is True or expected == "correct"
            mismatches += verdict.equivalent is not want
    assert not any(v.timed_out for v in [checker.check_answer("1", "1", pool=pool)])

    jobs = [c for _ in range(args.rounds) for c in CASES]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.threads) as ex:
        list(ex.map(lambda c: checker.check_answer(c[0], c[1], pool=pool, **c[2]), jobs))
    threaded = time.perf_counter() - t0

    dos = []
    for answer, reference in DOS:
        t0 = time.perf_counter()
        verdict = checker.check_answer(answer, reference, pool=pool)
        took = time.perf_counter() - t0
        t1 = time.perf_counter()
        after = checker.check_answer("x^2 - 1", "(x-1)(x+1)", pool=pool)
        dos.append({"input": answer[:30] + ("…" if len(answer) > 30 else ""), "reason": verdict.reason,
                    "timed_out": verdict.timed_out, "verdict_ms": _ms(took),
                    "next_check_ms": _ms(time.perf_counter() - t1), "next_check_ok": after.equivalent})
    pool.close()

    print(json.dumps({
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "workers": workers,
        "cold_start_s": round(cold_start, 2),
        "table_cases": len(CASES),
        "checks_timed": len(latencies),
        "verdict_mismatches": mismatches,
        "latency_ms": {"median": _ms(statistics.median(latencies)), "p90": _ms(_percentile(latencies, 0.90)),
                       "p99": _ms(_percentile(latencies, 0.99)), "max": _ms(max(latencies)),
                       "mean": _ms(statistics.fmean(latencies))},
        "threads": args.threads,
        "threaded_checks": len(jobs),
        "checks_per_s_threads": round(len(jobs) / threaded, 1),
        "checks_per_s_sequential": round(len(latencies) / sum(latencies), 1),
        "targets": {"median_ms": 20, "p99_ms": 250},
        "denial_of_service": dos,
    }, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
