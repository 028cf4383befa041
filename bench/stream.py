"""Streaming benchmark: tokens/s and time to first token, engine alone vs through the running app.

    .venv/bin/python bench/stream.py [--backend auto] [--model default] [--users 1,16] [--max-new-tokens 128]

For each number of concurrent users it runs the same prompts twice: straight against the engine (asyncio tasks),
then through the live Gradio app on a free localhost port, from a separate process: once with browser-like clients
that read Gradio's event stream as the page does (the headline figures), once with one ``gradio_client`` per user
(reported under ``gradio_client``; its 50 ms polling loop inflates its times); the students are
``bench._common``'s, as in ``bench/load.py``, each asking one question. Time to first token through the app is the
first text that is neither the "…" placeholder nor the engine queue's "⏳" notice. Tokens are counted by the engine
in both cases (the app's path only sees text). Prints one JSON object; ratios compare the app with the engine
alone. Not covered: the checker (bench/checker.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import run_gradio_clients, run_sse_clients  # noqa: E402
from engine.base import Chunk, Engine, GenParams, Message  # noqa: E402
from engine.settings import EngineSettings  # noqa: E402

PROMPTS = [
    "Solve x^2 - 5x + 6 = 0 step by step.",
    "What is the derivative of x^3 + 2x?",
    "Explain how to add 1/3 and 1/4.",
    "A pencil costs $0.40 and a pen $1.20. What do 3 pencils and 2 pens cost?",
]


class CountingEngine(Engine):
    """Wraps an engine and counts the tokens it streams (the app's path only sees text)."""

    def __init__(self, inner: Engine) -> None:
        self.inner, self.info, self.tokens = inner, inner.info, 0

    async def stream(self, messages: Sequence[Message], params: GenParams, *, request_id: str | None = None
                     ) -> AsyncIterator[Chunk]:
        async for chunk in self.inner.stream(messages, params, request_id=request_id):
            self.tokens += chunk.tokens
            yield chunk

    async def abort(self, request_id: str) -> bool:
        return await self.inner.abort(request_id)

    async def close(self) -> None:
        await self.inner.close()


def _messages(i: int) -> list[dict[str, str]]:
    """What the engine alone is asked: the app's default (step-by-step) system prompt too, so that both paths read
    a prompt of about the same length (the app also adds sympy's grounding note where it has one)."""
    import tutor

    return [{"role": "system", "content": tutor.system_prompt(tutor.STEPS, "en")},
            {"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]


async def _engine_alone(engine: CountingEngine, users: int, params: GenParams) -> dict[str, float]:
    ttfts: list[float] = []

    async def one(i: int) -> None:
        start = time.perf_counter()
        first = None
        async for chunk in engine.stream(_messages(i), params):
            if first is None and chunk.text:
                first = time.perf_counter() - start
        ttfts.append(first if first is not None else float("nan"))

    before = engine.tokens
    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(users)))
    wall = time.perf_counter() - start
    return _summary(engine.tokens - before, wall, ttfts)


def _through_app(engine: CountingEngine, pool, url: str, users: int, params: GenParams, client=run_sse_clients
                 ) -> dict[str, float]:
    """``users`` one-question students at once, in ``pool``'s process, like real users' browsers: browser-like
    event-stream sessions (``run_sse_clients``) or one ``gradio_client`` each (``run_gradio_clients``, which polls
    every 50 ms). A session starts with its question (no page opened first)."""
    before = engine.tokens
    questions = [[PROMPTS[i % len(PROMPTS)]] for i in range(users)]
    wall, turns = pool.apply(client, (url, questions, (params.temperature, params.top_p, params.max_new_tokens),
                                      None, 3600.0, 3600.0, False))
    ttfts = [t.get("ttft_s", float("nan")) for t in turns]
    return {**_summary(engine.tokens - before, wall, ttfts), "errors": sum(1 for t in turns if t["error"])}


def _summary(tokens: int, wall: float, ttfts: list[float]) -> dict[str, float]:
    good = sorted(t for t in ttfts if t == t)
    return {
        "tokens": tokens,
        "seconds": round(wall, 3),
        "tokens_per_s": round(tokens / wall, 1) if wall else 0.0,
        "ttft_p50_ms": round(statistics.median(good) * 1000, 1) if good else None,
        "ttft_max_ms": round(good[-1] * 1000, 1) if good else None,
    }


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from the benchmark
    out = sys.stdout
    sys.stdout = sys.stderr  # libraries print progress; only the JSON goes to stdout
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--model", default="default")
    parser.add_argument("--model-format", default="auto")
    parser.add_argument("--users", default="1,16", help="comma-separated numbers of concurrent users")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--cache-max-entry-count", type=float, default=0.5)
    parser.add_argument("--fake-token-delay", type=float, default=0.005, help="seconds per token of the fake")
    args = parser.parse_args(argv)

    from bench._common import launch_app, machine_info, now_iso, warm_worker_pools
    from engine.factory import create_engine

    warm_worker_pools()  # as app.py does: the checker's and sympy's worker processes start while the model loads

    settings = EngineSettings(backend=args.backend, model=args.model, model_format=args.model_format,
                              cache_max_entry_count=args.cache_max_entry_count)
    load_start = time.perf_counter()
    inner = create_engine(settings)
    if args.backend == "fake":
        inner.token_delay = args.fake_token_delay  # type: ignore[attr-defined]
        inner.enqueue(*[" ".join(f"t{i}" for i in range(args.max_new_tokens))] * 10_000)  # type: ignore[attr-defined]
    load_s = time.perf_counter() - load_start
    engine = CountingEngine(inner)
    params = GenParams(temperature=0.0, top_p=1.0, max_new_tokens=args.max_new_tokens)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(_engine_alone(engine, 1, GenParams(0.0, 1.0, 16)))  # warm-up
    demo, url = launch_app(engine)
    results = []
    # The server (and the engine) run in this process's event loop thread; clients run in another process.
    import multiprocessing

    pool = multiprocessing.get_context("spawn").Pool(1)
    try:
        _through_app(engine, pool, url, 1, GenParams(0.0, 1.0, 16))  # warm-up
        for users in (int(u) for u in args.users.split(",")):
            alone = loop.run_until_complete(_engine_alone(engine, users, params))
            app = _through_app(engine, pool, url, users, params)
            app["gradio_client"] = _through_app(engine, pool, url, users, params, client=run_gradio_clients)
            ratio = app["tokens_per_s"] / alone["tokens_per_s"] if alone["tokens_per_s"] else None
            added = (app["ttft_p50_ms"] - alone["ttft_p50_ms"]) if app["ttft_p50_ms"] and alone["ttft_p50_ms"] else None
            results.append({"users": users, "engine": alone, "app": app,
                            "app_vs_engine_throughput": round(ratio, 3) if ratio else None,
                            "app_added_ttft_ms": round(added, 1) if added is not None else None})
    finally:
        pool.terminate()
        demo.close()
        loop.run_until_complete(engine.close())
    print(json.dumps({
        "benchmark": "stream",
        "backend": engine.info.backend, "model": engine.info.model, "weight_format": engine.info.weight_format,
        "device": engine.info.device, "machine": machine_info(), "date": now_iso(),
        "max_new_tokens": args.max_new_tokens, "load_seconds": round(load_s, 1), "results": results,
    }, indent=2), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
