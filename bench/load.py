"""Load test: N simulated students hold multi-turn conversations with the live app at once; prints one JSON object.

    .venv/bin/python bench/load.py [--backend auto] [--students 8] [--turns 2] [--max-new-tokens 128]
                                   [--questions short|bank] [--duration-limit 300] [--client gradio_client|sse]
                                   [--client-processes N] [--tutor-mode steps] [--practice-problem ID]
                                   [--cold-sessions] [--url http://HOST:PORT/]

The app is launched in this process around the engine, as ``app.py`` serves it (the engine switcher, the tutor, the
worker pools), on a free localhost port, unless ``--url`` names one already running. The students run in other
processes (one per 8 students, at most half the cores; ``--client-processes``), started together, one
``gradio_client`` each (the default; certificates verified only for an https URL, see
``bench._common.verifies_certificates``) or one browser-like event-stream session each (``--client sse``, which
also stores the chat after each reply as the page does). Each student
asks ``--turns`` questions in a row (``--questions``: short arithmetic, or the practice bank's problems; with
``--practice-problem``, the whole class works on that one problem, every turn carrying its id as the tutor panel
sends it and asking about it without restating it: "how do I start?"); every later turn sends the history back, as
the page does. No turn starts after ``--duration-limit`` seconds; turns still running
``--grace`` seconds later are abandoned and counted as unfinished. Before the clock starts each student opens the page
(one New chat event in its session, as a browser's page load creates the session long before the first question);
``--cold-sessions`` skips that, so each session starts with its first question.

Every question carries the student's own tag ("Student 17 (tag Q7X2ZK): …"). ``wrong_session`` counts turns whose
returned history is not exactly that student's own messages in order, whose reply carries another student's tag,
whose reply is not the text the engine wrote for that student's prompt (in-process app) or, with the fake
engine, whose echo lacks its own tag; and engine prompts that mix two students' messages. Tokens are counted by
the engine (``bench.stream.CountingEngine``); the engine's own throughput is measured afterwards by replaying the
prompts the app sent for the completed turns, straight on the engine, with as many students at once. With the app
in this process, the CPU time of Gradio's event-loop thread and of the whole process over the students' window is
read from /proc (``server_loop_busy``, ``server_loop_cpu_per_turn_ms``, ``server_process_cpu_cores``), the garbage
collector's pauses are recorded (``server_gc``), each turn's time to first token is split into the app's, the
engine's and the delivery's parts, with the time from Send to the message reaching Gradio's queue and from the
engine's last token to the student's last update (``ttft_phases``), and the chat handler's calls into the tutor
are timed (``tutor_ms``: sympy before and after the engine). Targets are printed, not asserted. Not covered:
single-stream speed (bench/stream.py), the checker (bench/checker.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import re
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (CLIENTS, GcPauses, LoopCpuSampler, StudentProcesses, default_client_processes,  # noqa: E402
                           launch_app, machine_info, ms, now_iso, percentile, verifies_certificates,
                           warm_worker_pools)
from bench.stream import CountingEngine  # noqa: E402
from engine.base import Chunk, GenParams, Message  # noqa: E402

TAG = re.compile(r"\(tag ([A-Z0-9]{6})\)")
ASKS = ["what is {i} + {n}?", "solve x + {i} = {m}.", "what is the derivative of x^{n}?", "simplify ({i}x + {i})/{i}.",
        "what is {n} times {i}?"]
# A class on one practice problem: the first question, then follow-ups (none restates the problem).
FOLLOW_UPS = ["how do I start this practice problem?", "can you check my first step?", "what should I do next?",
              "why does that step work?", "is there a quicker way?"]
TARGETS = {"gpu": {"students": 64, "errors": 0, "wrong_session": 0, "ttft_p95_ms": 1000, "app_vs_engine_min": 0.8},
           "cpu": {"students": 8, "errors": 0, "wrong_session": 0}}


def plan_questions(students: int, turns: int, seed: int = 7, kind: str = "short", practice: Any = None
                   ) -> tuple[list[str], list[list[str]]]:
    """(tags, questions per student): a unique random tag per student, in every question it asks. ``kind``:
    "short" asks one-line arithmetic and algebra (short replies); "bank" asks the tutor bank's practice problems,
    every topic in turn (the step-by-step replies a class gets). ``practice``: one bank problem the whole class
    works on (then ``kind`` is not used): the questions are about it and do not restate it (the page sends its id)."""
    rng = random.Random(seed)
    tags: list[str] = []
    while len(tags) < students:
        tag = "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=6))
        if tag not in tags:
            tags.append(tag)
    if practice is not None:
        asks = [FOLLOW_UPS[0] if k == 0 else FOLLOW_UPS[1 + (i + k) % (len(FOLLOW_UPS) - 1)] for i in range(students)
                for k in range(turns)]
    elif kind == "bank":
        import tutor
        from tutor.bank import round_robin

        problems = [p.statement for p in round_robin(tutor.default_bank().problems)]
        asks = [problems[(i * turns + k) % len(problems)] for i in range(students) for k in range(turns)]
    else:
        asks = [ASKS[(i + k) % len(ASKS)].format(i=i, n=k + 2, m=2 * i + 3) for i in range(students)
                for k in range(turns)]
    questions = [[f"Student {i} (tag {tag}){': ' if k == 0 else f', question {k + 1}: '}" + asks[i * turns + k]
                  for k in range(turns)] for i, tag in enumerate(tags)]
    return tags, questions


class RecordingEngine(CountingEngine):
    """Counts tokens (CountingEngine) and keeps, per request, the prompt, the text and the params it ran with."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.records: list[dict[str, Any]] = []

    async def stream(self, messages: Sequence[Message], params: GenParams, *, request_id: str | None = None
                     ) -> AsyncIterator[Chunk]:
        users = [m["content"] for m in messages if m["role"] == "user"]
        record = {"messages": [dict(m) for m in messages], "params": params, "text": "",
                  "tags": sorted({t for u in users for t in TAG.findall(u)}), "turn": len(users),
                  "asked_mono": time.monotonic(), "first_text_mono": None, "end_mono": None}
        self.records.append(record)
        async with contextlib.aclosing(super().stream(messages, params, request_id=request_id)) as chunks:
            async for chunk in chunks:
                if chunk.text and record["first_text_mono"] is None:
                    record["first_text_mono"] = time.monotonic()
                record["text"] += chunk.text
                if chunk.finish_reason is not None:
                    record["end_mono"] = time.monotonic()
                yield chunk


class TutorTimer:
    """Times the chat handler's two blocking calls into the tutor, for the app in this process: ``prepare_turn``
    before the engine is asked (sympy's answer to the question: most of ``app_to_engine`` that is not Gradio's)
    and ``finish_reply`` after the last token (sympy's verdict: part of ``after_engine``). Wraps them where
    ``ui.chat`` looks them up (the ``tutor`` module) until :meth:`stop`."""

    NAMES = ("prepare_turn", "finish_reply")

    def __init__(self) -> None:
        import tutor

        self._tutor = tutor
        self.seconds: dict[str, list[float]] = {name: [] for name in self.NAMES}
        self._original = {name: getattr(tutor, name) for name in self.NAMES}
        for name, function in self._original.items():
            setattr(tutor, name, self._timed(name, function))

    def _timed(self, name: str, function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name].append(time.perf_counter() - start)
        return timed

    def clear(self) -> None:
        for seconds in self.seconds.values():
            seconds.clear()

    def stop(self) -> None:
        for name, function in self._original.items():
            setattr(self._tutor, name, function)

    def figures(self) -> dict[str, Any]:
        """Calls, median, 95th percentile and longest, in ms, per call."""
        return {name: {"calls": len(s), "p50_ms": ms(percentile(s, 50)), "p95_ms": ms(percentile(s, 95)),
                       "max_ms": ms(percentile(s, 100))} for name, s in self.seconds.items()}


class JoinTimes:
    """When each chat message reached Gradio's queue (``Queue.push``, the end of the join request's route) and when
    Gradio started its event (``Queue.process_events``, which sends "process starts" first), for the app in this
    process, by message text: splits a turn's wait before "process starts" into the student's side (the client
    library and the HTTP request until the route runs), Gradio's queue, and the message's trip back. Until
    :meth:`stop`."""

    def __init__(self, demo: Any) -> None:
        self.arrived: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self._queue = demo._queue  # Gradio's queue object: no public hook on a join or an event's start
        push, process = self._queue.push, self._queue.process_events

        async def timed(body: Any, *args: Any, **kwargs: Any) -> Any:
            self._note(self.arrived, body)
            return await push(body, *args, **kwargs)

        async def timed_process(events: list[Any], *args: Any, **kwargs: Any) -> Any:
            self._note(self.started, events[0].data if events else None)
            return await process(events, *args, **kwargs)

        self._queue.push, self._queue.process_events = timed, timed_process

    @staticmethod
    def _note(times: dict[str, float], body: Any) -> None:
        data = getattr(body, "data", None)
        if isinstance(data, list) and data and isinstance(data[0], str):
            times.setdefault(data[0], time.monotonic())

    def stop(self) -> None:
        for name in ("push", "process_events"):
            self._queue.__dict__.pop(name, None)  # the class's methods again


# --- checks and figures (in this process) -----------------------------------------------------------------------

def by_turn(records: list[dict[str, Any]] | None) -> dict[tuple[str, int], dict[str, Any]]:
    """The engine's records of single-student prompts, by (the student's tag, the turn's number from 1)."""
    return {(r["tags"][0], r["turn"]): r for r in records or () if len(r["tags"]) == 1}


def check_isolation(turns: list[dict[str, Any]], tags: list[str], questions: list[list[str]],
                    records: list[dict[str, Any]] | None, echo: bool) -> dict[str, Any]:
    """Finds replies and histories that landed in the wrong chat. ``records``: the engine's, when in-process."""
    from ui.render import message_text, to_display

    texts = {key: to_display(r["text"]).strip() for key, r in by_turn(records).items() if r["text"].strip()}
    wrong: list[str] = []
    checked = {"histories": 0, "replies_matched_engine": 0, "replies_unverified": 0, "echo_tags": 0,
               "engine_prompts": len(records or ())}
    for r in records or ():
        if len(r["tags"]) > 1:
            wrong.append(f"an engine prompt mixes students {r['tags']}")
    for t in turns:
        if t["error"] or t["history"] is None:
            continue
        i, k, tag, problems = t["student"], t["turn"], tags[t["student"]], []
        items = [(m.get("role"), message_text(m.get("content"))) for m in t["history"]]
        users = [text for role, text in items if role == "user"]
        replies = [text for role, text in items if role == "assistant"]
        checked["histories"] += 1
        if users != [to_display(q.strip()) for q in questions[i][:k + 1]]:
            problems.append(f"user messages {users!r}")
        if len(replies) != k + 1:
            problems.append(f"{len(replies)} replies after {k + 1} turns")
        last = replies[-1] if replies else ""
        if set(TAG.findall(last)) - {tag}:
            problems.append(f"reply carries tags {sorted(set(TAG.findall(last)) - {tag})}")
        if echo:
            checked["echo_tags"] += 1
            if f"(tag {tag})" not in last:
                problems.append("the echo lacks its own tag")
        if records is not None:
            own = texts.get((tag, k + 1))
            if own is not None and last.startswith(own):
                checked["replies_matched_engine"] += 1
            elif any(last.startswith(text) for key, text in texts.items() if key[0] != tag):
                problems.append("reply is the text the engine wrote for another student")
            else:
                checked["replies_unverified"] += 1  # e.g. redacted in Socratic mode: not comparable
        if problems:
            wrong.append(f"student {i} turn {k + 1}: " + "; ".join(problems))
    return {"wrong_session": len(wrong), "wrong_session_first": wrong[:5], "isolation_checks": checked}


async def replay_on_engine(engine: CountingEngine, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The app's prompts straight on the engine: one task per student, its turns in order, all students at once."""
    by_student: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_student.setdefault(",".join(r["tags"]), []).append(r)
    ttfts: list[float] = []

    async def student(rs: list[dict[str, Any]]) -> None:
        for r in sorted(rs, key=lambda r: r["turn"]):
            start, first = time.perf_counter(), None
            async for chunk in engine.stream(r["messages"], r["params"]):
                if first is None and chunk.text:
                    first = time.perf_counter() - start
            ttfts.append(first if first is not None else float("nan"))

    before, start = engine.tokens, time.perf_counter()
    await asyncio.gather(*(student(rs) for rs in by_student.values()))
    wall, tokens = time.perf_counter() - start, engine.tokens - before
    return {"concurrency": len(by_student), "requests": len(records), "seconds": round(wall, 3), "tokens": tokens,
            "tokens_per_s": round(tokens / wall, 1) if wall else None,
            "ttft_p50_ms": ms(percentile(ttfts, 50)), "ttft_p95_ms": ms(percentile(ttfts, 95))}


def app_figures(turns: list[dict[str, Any]], wall: float, tokens: int | None) -> dict[str, Any]:
    done = [t for t in turns if not t["error"]]

    def pct(key: str, q: float) -> float | None:
        return ms(percentile([t.get(key, float("nan")) for t in done], q))

    return {"seconds": round(wall, 3), "tokens": tokens,
            "tokens_per_s": round(tokens / wall, 1) if tokens is not None and wall else None,
            "ttft_p50_ms": pct("ttft_s", 50), "ttft_p95_ms": pct("ttft_s", 95), "ttft_max_ms": pct("ttft_s", 100),
            "turn_latency_p50_ms": pct("latency_s", 50), "turn_latency_p95_ms": pct("latency_s", 95),
            "turn_latency_max_ms": pct("latency_s", 100),
            "gradio_queue_wait_p50_ms": pct("queue_wait_s", 50), "gradio_queue_wait_p95_ms": pct("queue_wait_s", 95),
            "gradio_queue_wait_max_ms": pct("queue_wait_s", 100),
            "gradio_join_p50_ms": pct("joined_s", 50), "gradio_join_p95_ms": pct("joined_s", 95),
            "first_update_p50_ms": pct("first_update_s", 50), "first_update_p95_ms": pct("first_update_s", 95),
            "engine_queue_notices": sum(t["engine_queue_notice"] for t in turns)}


def phases(turns: list[dict[str, Any]], tags: list[str], records: list[dict[str, Any]],
           joins: JoinTimes | None = None) -> dict[str, Any]:
    """Where a turn's time to first token goes, from the students' and the engine's timestamps on the machine's
    one monotonic clock (the app in this process): ``before_engine`` from Send to the app asking the engine
    (Gradio's join and queue, preprocessing, the tutor's sympy work), split at Gradio's "process starts" message
    (``in_gradio_queue``: join and queue; ``app_to_engine``: the rest), ``engine_first_text`` (the engine's own
    time to first token under this load), ``delivery`` (from the engine's first text to the student's: the
    handler's update, Gradio's postprocessing and event stream), and after the first token, ``after_engine``: from
    the engine's last token to the student's last update (the tutor's sympy verdict, the final update's trip).
    With ``joins`` (:class:`JoinTimes`), ``in_gradio_queue`` splits in three: ``to_gradio_queue``, from Send to the
    message reaching Gradio's queue (the client library's own work and the join request); ``queue_to_start``, from
    there to Gradio starting the event; ``start_to_student``, from there to the student reading "process starts"
    (the event stream's trip); and ``start_to_engine``, from Gradio starting the event to the app asking the engine
    (the handler's start and the tutor's planning; on the server's clock only, unlike ``app_to_engine``, which
    starts when the student reads "process starts"). Medians and 95th percentiles in ms."""
    recorded = by_turn(records)
    spans: dict[str, list[float]] = {"before_engine": [], "in_gradio_queue": [], "app_to_engine": [],
                                     "engine_first_text": [], "delivery": [], "after_engine": [],
                                     "to_gradio_queue": [], "queue_to_start": [], "start_to_student": [],
                                     "start_to_engine": []}
    arrived, started = (joins.arrived, joins.started) if joins else ({}, {})
    for t in turns:
        r = recorded.get((tags[t["student"]], t["turn"] + 1))
        if t["error"] or r is None or r["first_text_mono"] is None or "ttft_s" not in t:
            continue
        start = t["start_mono"]
        spans["before_engine"].append(r["asked_mono"] - start)
        if "queue_wait_s" in t:
            spans["in_gradio_queue"].append(t["queue_wait_s"])
            spans["app_to_engine"].append(r["asked_mono"] - start - t["queue_wait_s"])
        spans["engine_first_text"].append(r["first_text_mono"] - r["asked_mono"])
        spans["delivery"].append(start + t["ttft_s"] - r["first_text_mono"])
        if r.get("end_mono") is not None and "latency_s" in t:
            spans["after_engine"].append(start + t["latency_s"] - r["end_mono"])
        if t["sent"] in arrived:
            spans["to_gradio_queue"].append(arrived[t["sent"]] - start)
        if t["sent"] in started:
            if t["sent"] in arrived:
                spans["queue_to_start"].append(started[t["sent"]] - arrived[t["sent"]])
            if "queue_wait_s" in t:
                spans["start_to_student"].append(start + t["queue_wait_s"] - started[t["sent"]])
            spans["start_to_engine"].append(r["asked_mono"] - started[t["sent"]])
    # Left out when nothing measured them (an app served elsewhere: no JoinTimes).
    joined = ("to_gradio_queue", "queue_to_start", "start_to_student", "start_to_engine")
    return {f"{name}_p{q}_ms": ms(percentile(values, q)) for name, values in spans.items() for q in (50, 95)
            if values or name not in joined}


def targets_met(kind: str, result: dict[str, Any]) -> dict[str, bool | None]:
    want, app = TARGETS[kind], result["app"]
    met: dict[str, bool | None] = {"students": result["students"] >= want["students"],
                                   "errors": result["errors"] <= want["errors"],
                                   "wrong_session": result["wrong_session"] <= want["wrong_session"]}
    if kind == "gpu":
        ratio = result["app_vs_engine_throughput"]
        met["ttft_p95_ms"] = app["ttft_p95_ms"] is not None and app["ttft_p95_ms"] <= want["ttft_p95_ms"]
        met["app_vs_engine_min"] = None if ratio is None else ratio >= want["app_vs_engine_min"]
    return met


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto", choices=["auto", "fake", "transformers", "llamacpp", "lmdeploy"])
    parser.add_argument("--model", default="default")
    parser.add_argument("--model-format", default="auto")
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--turns", type=int, default=2, help="questions per student, each sending the history back")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--questions", default="short", choices=["short", "bank"],
                        help="short arithmetic and algebra, or the tutor bank's practice problems (longer replies)")
    parser.add_argument("--duration-limit", type=float, default=300.0, help="seconds after which no turn starts")
    parser.add_argument("--grace", type=float, default=120.0, help="seconds turns in flight may take after that")
    parser.add_argument("--url", default=None, help="an app already running (then no engine-side figures)")
    parser.add_argument("--client", default="gradio_client", choices=sorted(CLIENTS))
    parser.add_argument("--client-processes", type=int, default=0,
                        help="processes the students are spread over (0: one per 8 students, at most half the cores)")
    parser.add_argument("--practice-problem", default=None, metavar="ID",
                        help="the whole class works on this practice-bank problem (e.g. quadratics-03), as sent by the "
                             "tutor panel; overrides --questions")
    parser.add_argument("--cold-sessions", action="store_true",
                        help="students ask without opening the page first (their session starts with the question)")
    parser.add_argument("--tutor-mode", default=None, choices=["socratic", "steps", "check"],
                        help="the mode the students pick (and the launched app's default; steps if unset)")
    parser.add_argument("--cache-max-entry-count", type=float, default=0.5)
    parser.add_argument("--gc-threshold", type=int, default=None,
                        help="the launched app's first garbage-collector threshold (0: CPython's 700; "
                             "default: the app's, ui.runtime)")
    parser.add_argument("--switch-interval-ms", type=float, default=None,
                        help="the launched app's GIL switch interval (0: CPython's 5 ms; default: the app's)")
    parser.add_argument("--python-defaults", action="store_true",
                        help="launch the app without ui.runtime's tuning (no gc.freeze, CPython's thresholds)")
    parser.add_argument("--fake-token-delay", type=float, default=0.005, help="seconds per token of the fake")
    parser.add_argument("--fake-reply-tokens", type=int, default=0,
                        help="the fake's echo is padded to this many tokens (a real model's reply length)")
    return parser.parse_args(argv)


def _start_app(args: argparse.Namespace, loop: asyncio.AbstractEventLoop
               ) -> tuple[RecordingEngine, Any, Any, str, float]:
    """The engine and the page as app.py builds them (switcher, tutor, worker pools); no per-tab rate limit,
    so that quick simulated turns are not refused. Returns (recording engine, switcher, demo, url, load seconds)."""
    from engine.factory import create_engine
    from engine.settings import EngineSettings
    from engine.switcher import EngineSwitcher
    from tutor import STEPS, TutorSettings
    from ui import UIConfig

    pools = warm_worker_pools()
    settings = EngineSettings(backend=args.backend, model=args.model, model_format=args.model_format,
                              cache_max_entry_count=args.cache_max_entry_count)
    start = time.perf_counter()
    inner = create_engine(settings)
    load_seconds = round(time.perf_counter() - start, 1)
    if args.backend == "fake":
        inner.token_delay = args.fake_token_delay  # type: ignore[attr-defined]
        inner.echo_tokens = args.fake_reply_tokens  # type: ignore[attr-defined]
    engine = RecordingEngine(inner)

    async def warm() -> None:  # the first generation compiles / fills caches: not part of the figures
        async for _ in engine.stream([{"role": "user", "content": "Hello"}], GenParams(0.0, 1.0, 16)):
            pass

    loop.run_until_complete(warm())
    switcher = EngineSwitcher(engine, settings, create_engine)
    config = UIConfig(tutor=TutorSettings(default_mode=args.tutor_mode or STEPS), requests_per_minute=0)
    runtime = {k: v for k, v in (("gc_threshold0", args.gc_threshold), ("switch_interval_ms", args.switch_interval_ms))
               if v is not None}
    demo, url = launch_app(switcher, config, tuned=not args.python_defaults, runtime=runtime)
    pools.join()  # the first turns must not pay for starting the checker's and sympy's processes
    return engine, switcher, demo, url, load_seconds


def _remote_status(url: str) -> str | None:
    """The status line of an app started elsewhere (what it runs), from its page config."""
    import httpx

    with contextlib.suppress(Exception):
        for c in httpx.get(f"{url.rstrip('/')}/config", timeout=30).json()["components"]:
            if c.get("props", {}).get("elem_id") == "status-line":
                return str(c["props"].get("value", "")).replace("**Running:** ", "")
    return None


def _practice_problem(problem_id: str | None) -> Any:
    """The bank problem ``--practice-problem`` names, or None; an unknown id stops the bench with the ids there are."""
    if problem_id is None:
        return None
    import tutor

    bank = tutor.default_bank()
    problem = bank.get(problem_id)
    if problem is None:
        sys.exit(f"no practice problem {problem_id!r}; the bank has {', '.join(p.id for p in bank.problems[:6])}, …")
    return problem


def _on_problem(records: list[dict[str, Any]], problem: Any) -> int:
    """Engine prompts whose system prompt gives sympy's answer to ``problem``: the questions do not restate it, so
    only the practice problem's id, sent as the page sends it, can have told the tutor (``--practice-problem``
    reached the app)."""
    from checker.verify import compute

    result = compute(problem.statement)
    if result is None:
        return 0
    return sum(1 for r in records if r["messages"] and r["messages"][0]["role"] == "system"
               and result.expected in r["messages"][0]["content"])


def _pool_sizes() -> dict[str, int]:
    """Worker processes of the app's two sympy pools (sympy's answers to questions, the answer checks)."""
    from checker import default_pool
    from checker.cas_pool import default_cas_pool

    return {"cas": default_cas_pool().size, "checker": default_pool().size}


def _chat_conversion(demo: Any) -> str | None:
    """Where the page's chat event converts its components' data: "event loop" (``ui.inline``, registered with
    ``preprocess=False``) or "worker threads" (Gradio's default: one thread hop per component)."""
    fn = next((f for f in demo.fns.values() if f.api_name == "chat"), None) if demo is not None else None
    return None if fn is None else ("worker threads" if fn.preprocess else "event loop")


def _login_check(demo: Any) -> str | None:
    """Where Gradio's login check runs on each request: "event loop" (``ui.inline.check_login_on_loop``) or
    "worker thread" (FastAPI's way with Gradio's sync dependency)."""
    from ui.inline import login_checked_on_loop

    return None if demo is None else ("event loop" if login_checked_on_loop(demo.app) else "worker thread")


def _say(started: float, text: str) -> None:
    print(f"[{time.perf_counter() - started:7.1f} s] {text}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    practice = _practice_problem(args.practice_problem)
    tags, questions = plan_questions(args.students, args.turns, kind=args.questions, practice=practice)
    inputs = {"mode": args.tutor_mode, "problem_id": args.practice_problem}
    params = (0.0, 1.0, args.max_new_tokens)
    loop = asyncio.new_event_loop()
    engine = switcher = demo = load_seconds = loop_cpu = process_cpu = gc_runs = pool_sizes = timer = joins = None
    tutor_ms = conversion = login_check = None
    processes = args.client_processes or default_client_processes(args.students)
    students = StudentProcesses(processes)
    try:
        url = args.url
        if url is None:
            engine, switcher, demo, url, load_seconds = _start_app(args, loop)
            pool_sizes, timer, conversion = _pool_sizes(), TutorTimer(), _chat_conversion(demo)
            login_check = _login_check(demo)
            joins = JoinTimes(demo)
        _say(started, f"app at {url}; warm-up turn")
        # One warm-up turn (not counted): the client process's imports, the tutor's first sympy call.
        students.run(args.client, url, [["Warm-up (tag WARMUP): what is 1 + 1?"]] * processes, params,
                     {"mode": args.tutor_mode}, 60, 120)  # not the practice problem: its sympy answer stays uncached
        sampler = LoopCpuSampler(demo) if demo is not None else None
        pauses = GcPauses() if demo is not None else None
        if engine is not None:
            engine.records.clear()
        if timer is not None:
            timer.clear()
        _say(started, f"{args.students} students, {args.turns} turns each ({args.client})")
        before = engine.tokens if engine else 0
        wall, turns, clock_start = students.run(args.client, url, questions, params, inputs,
                                                args.duration_limit, args.grace, not args.cold_sessions)
        tokens = engine.tokens - before if engine else None
        if sampler is not None:
            time.sleep(0.05)  # one more sample after the window
            sampler.stop()
            loop_cpu = sampler.between(clock_start, clock_start + wall)
            process_cpu = sampler.between(clock_start, clock_start + wall, process=True)
        if pauses is not None:
            pauses.stop()
            gc_runs = pauses.between(clock_start, clock_start + wall)
        records = list(engine.records) if engine else None
        tutor_ms = timer.figures() if timer else None
        _say(started, "students done; checking" + (", then the same prompts on the engine alone" if engine else ""))
        checks = check_isolation(turns, tags, questions, records, echo=args.backend == "fake" and not args.url)
        if practice is not None and records is not None:
            checks["isolation_checks"]["prompts_on_the_practice_problem"] = _on_problem(records, practice)
        done = {(tags[t["student"]], t["turn"] + 1) for t in turns if not t["error"]}
        replay = [r for r in records or () if len(r["tags"]) == 1 and (r["tags"][0], r["turn"]) in done]
        alone = loop.run_until_complete(replay_on_engine(engine, replay)) if engine and replay else None
        _say(started, "done")
    finally:
        if timer is not None:
            timer.stop()
        if joins is not None:
            joins.stop()
        students.close()
        if demo is not None:
            demo.close()
        if switcher is not None:
            loop.run_until_complete(switcher.close())
        loop.close()
    app = app_figures(turns, wall, tokens)
    if records is not None:
        app["ttft_phases"] = phases(turns, tags, records, joins)
    if tutor_ms is not None:  # the chat handler's blocking calls into the tutor (sympy), per turn
        app["tutor_ms"] = tutor_ms
    if loop_cpu is not None:  # the in-process app's event loop thread: its share of the wall time, its cost per turn
        app["server_loop_cpu_s"] = round(loop_cpu, 2)
        app["server_loop_busy"] = round(loop_cpu / wall, 3) if wall else None
        app["server_loop_cpu_per_turn_ms"] = round(1000 * loop_cpu / max(1, len(turns)), 1)
    if gc_runs is not None:  # the garbage collector's pauses in the server process (every thread waits)
        app["server_gc"] = gc_runs
    if process_cpu is not None:  # every thread of the server process (Gradio, the engine's Python side, native code)
        app["server_process_cpu_cores"] = round(process_cpu / wall, 2) if wall else None
    ratio = app["tokens_per_s"] / alone["tokens_per_s"] if alone and app["tokens_per_s"] and alone["tokens_per_s"] \
        else None
    errors = [t["error"] for t in turns if t["error"] and t["error"] != "unfinished"]
    served_here = args.url is None
    machine = machine_info()
    info = engine.info if engine else None
    result = {
        "benchmark": "load", "date": now_iso(), "machine": machine,
        "backend": info.backend if info else None, "model": info.model if info else None,
        "weight_format": info.weight_format if info else None, "device": info.device if info else None,
        "status_line": info.status_line() if info else _remote_status(url),
        "settings": {"backend": args.backend, "model": args.model, "model_format": args.model_format,
                     "students": args.students, "turns": args.turns, "max_new_tokens": args.max_new_tokens,
                     "questions": f"practice:{args.practice_problem}" if practice else args.questions,
                     "duration_limit_s": args.duration_limit, "grace_s": args.grace, "client": args.client,
                     "page_opened_first": not args.cold_sessions, "client_processes": processes,
                     "gradio_client_ssl_verify": verifies_certificates(url) if args.client == "gradio_client"
                     else None,
                     "tutor_mode": args.tutor_mode or "app default", "url": args.url, "temperature": params[0],
                     "fake_token_delay": args.fake_token_delay if args.backend == "fake" else None,
                     "fake_reply_tokens": args.fake_reply_tokens if args.backend == "fake" else None,
                     "load_seconds": load_seconds,
                     "sympy_workers": pool_sizes,
                     "chat_conversion": conversion,  # ui.inline (null with --url)
                     "login_check": login_check,  # ui.inline.check_login_on_loop (null with --url)
                     # The serving process's runtime (ui.runtime): this process's, unless the app runs elsewhere.
                     "python_defaults": args.python_defaults if served_here else None,
                     "gc_threshold": list(gc.get_threshold()) if served_here else None,
                     "switch_interval_ms": sys.getswitchinterval() * 1000 if served_here else None,
                     "rate_limit": "off (in-process app)" if not args.url else "the app's"},
        "students": args.students, "turns_planned": args.students * args.turns, "turns_started": len(turns),
        "turns_completed": sum(1 for t in turns if not t["error"]),
        "turns_unfinished": sum(1 for t in turns if t["error"] == "unfinished"),
        "errors": len(errors), "error_messages": errors[:5], **checks,
        "app": app, "engine_alone": alone,
        "app_vs_engine_throughput": round(ratio, 3) if ratio else None,
        "app_added_ttft_p50_ms": round(app["ttft_p50_ms"] - alone["ttft_p50_ms"], 1)
        if alone and app["ttft_p50_ms"] is not None and alone["ttft_p50_ms"] is not None else None,
    }
    kind = "gpu" if "CUDA" in (result["status_line"] or "") else "cpu"
    result["targets"] = {kind: TARGETS[kind], "note": "printed, not asserted"}
    result["targets_met"] = targets_met(kind, result)
    return result


def main(argv: list[str] | None = None, out: Any = None) -> int:
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from the benchmark
    out = out or sys.stdout
    args = parse_args(argv)
    with contextlib.redirect_stdout(sys.stderr):  # libraries print progress; only the JSON goes to ``out``
        result = run(args)
    print(json.dumps(result, indent=2, ensure_ascii=False), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
