"""Pieces the benchmarks share: the app started in-process the way ``app.py`` serves it, simulated students
(one ``gradio_client`` each, or browser-like event-stream sessions) holding multi-turn chats with it, a
description of the machine, percentiles.

A student's turn is recorded as a dict: when it started, when Gradio's queue let it in, the first update (the
"…" placeholder), the first text that is neither that nor the engine queue's "⏳" notice (time to first token),
the end, the history the app returned, an error. The students run wherever the caller puts them (the benches use
a separate process, like real browsers). Not covered: what the figures mean (each ``bench/*.py``), building the
engine (``engine.factory``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gc
import json
import os
import platform
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PLACEHOLDER, WAITING = "…", "⏳"  # ui.chat: the bubble before the first text, and the engine queue's notice
# The chat API's optional inputs a simulated student may set, by parameter name: the component type that holds each
# in the page's config (the browser-like client finds its slot by that type).
INPUT_KINDS = {"mode": "radio", "problem_id": "browserstate"}


def warm_worker_pools() -> threading.Thread:
    """As ``app.py`` does: start the checker's and sympy's worker processes in the background (1-2 s each)."""
    from checker import default_pool
    from checker.cas_pool import default_cas_pool

    thread = threading.Thread(target=lambda: (default_pool().warm_up(), default_cas_pool().warm_up()), daemon=True)
    thread.start()
    return thread


def launch_app(engine: Any, config: Any = None, *, tuned: bool = True, runtime: dict[str, Any] | None = None
               ) -> tuple[Any, str]:
    """The chat page around ``engine`` on a free localhost port, served as ``app.py`` serves it (``ui.launch``:
    queued and tuned; ``tuned``, ``runtime``: as there); returns (demo, url). The caller closes the demo."""
    from ui import UIConfig, build_ui, launch

    config = config or UIConfig()
    demo = build_ui(engine, config)
    _, url, _ = launch(demo, engine, config, tuned=tuned, runtime=runtime, server_name="127.0.0.1",
                       server_port=None, prevent_thread_lock=True, quiet=True)
    return demo, url


class LoopCpuSampler:
    """Samples :func:`server_loop_cpu` every ``interval`` seconds in a thread, so that the loop's CPU over a window
    known only afterwards (the students' clock, started in other processes) can be read: :meth:`between`."""

    def __init__(self, demo: Any, interval: float = 0.02) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()

        self.process_samples: list[tuple[float, float]] = []

        def run() -> None:
            while not self._stop.is_set():
                cpu = server_loop_cpu(demo)
                if cpu is None:
                    return
                now = time.time()
                self.samples.append((now, cpu))
                self.process_samples.append((now, _proc_cpu("/proc/self/stat")))
                self._stop.wait(interval)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float, *, process: bool = False) -> float | None:
        """CPU seconds of the loop thread (or, with ``process``, of the whole server process: every thread, the
        engine's included) from ``start`` to ``end`` (``time.time()``), to the nearest samples."""
        samples = self.process_samples if process else self.samples
        before = [cpu for t, cpu in samples if t <= start]
        after = [cpu for t, cpu in samples if t >= end]
        return after[0] - before[-1] if before and after else None


class GcPauses:
    """Records the cyclic garbage collector's runs in this process (``gc.callbacks``): when, which generation and
    for how long. A collection holds the GIL, so every thread (Gradio's event loop, the engine's) stops meanwhile;
    a full (generation 2) collection walks every object the process has, torch's and Gradio's included."""

    def __init__(self) -> None:
        self.runs: list[tuple[float, int, float]] = []  # (time.time() at the start, generation, seconds)
        self._started: tuple[float, float] | None = None
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = (time.time(), time.perf_counter())
        elif self._started is not None:
            self.runs.append((self._started[0], info["generation"], time.perf_counter() - self._started[1]))
            self._started = None

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._callback)

    def between(self, start: float, end: float) -> dict[str, Any]:
        """The collections that started from ``start`` to ``end`` (``time.time()``): counts per generation, the
        total and the longest pause in ms."""
        runs = [(gen, seconds) for t, gen, seconds in self.runs if start <= t <= end]
        pauses = [seconds for _, seconds in runs]
        return {"collections": {str(g): sum(1 for gen, _ in runs if gen == g) for g in (0, 1, 2)},
                "pause_total_ms": round(1000 * sum(pauses), 1),
                "pause_max_ms": round(1000 * max(pauses), 1) if pauses else 0.0,
                "frozen_objects": gc.get_freeze_count()}


def server_loop_cpu(demo: Any) -> float | None:
    """CPU seconds used so far by the thread that runs Gradio's event loop (uvicorn's), from /proc (Linux), or
    None. Every request, every queued event and every streamed update is handled on that one thread, so its CPU
    time per turn is what bounds how many students one process can serve."""
    thread = getattr(getattr(demo, "server", None), "thread", None)
    tid = getattr(thread, "native_id", None)
    return None if tid is None else _proc_cpu(f"/proc/self/task/{tid}/stat")


def _proc_cpu(stat: str) -> float | None:
    """utime + stime, in seconds, from a /proc stat file (a process's or a thread's)."""
    try:
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu_names() -> list[str]:
    """GPU names from torch.cuda; torch is imported only where an NVIDIA driver is visible (it takes seconds)."""
    if "torch" not in sys.modules and not (shutil.which("nvidia-smi") or os.path.exists("/dev/nvidiactl")):
        return []
    try:
        import torch

        if torch.cuda.is_available():
            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken CUDA setup is reported as "no GPU", not a crash of the benchmark
        pass
    return []


def machine_info() -> dict[str, Any]:
    """Host name, CPU model and cores, GPU names; ``name`` is the short label reports use."""
    gpus = _gpu_names()
    cores = os.cpu_count() or 0
    name = f"{gpus[0]}{f' x{len(gpus)}' if len(gpus) > 1 else ''}" if gpus else f"CPU: {_cpu_model()} ({cores} cores)"
    return {"name": name, "host": platform.node(), "cpu": _cpu_model(), "cpu_cores": cores, "gpus": gpus,
            "python": platform.python_version(), "platform": platform.platform()}


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100, linear interpolation, numpy's default), or ``None`` for no values."""
    import numpy as np

    good = [v for v in values if v == v]  # NaN marks "never happened"
    return float(np.percentile(good, q)) if good else None


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


# --- simulated students ------------------------------------------------------------------------------------------

def _observe(turn: dict[str, Any], history: Any, started: float) -> None:
    """Note the first update, the engine-queue notice and the first real text of a turn's reply."""
    from ui.render import message_text

    now = time.monotonic() - started
    turn.setdefault("first_update_s", now)
    last = history[-1] if history else None
    if not last or last.get("role") != "assistant":
        return
    text = message_text(last.get("content"))
    if text.startswith(WAITING):
        turn["engine_queue_notice"] = True
    elif text and text != PLACEHOLDER and "ttft_s" not in turn:
        turn["ttft_s"] = now


def _new_turn(student: int, k: int, text: str, t0: float) -> dict[str, Any]:
    now = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process of the machine (see bench.load.phases)
    return {"student": student, "turn": k, "sent": text, "start_s": now - t0, "start_mono": now, "history": None,
            "error": None, "engine_queue_notice": False}


def _finish(turn: dict[str, Any], history: Any, t0: float) -> None:
    turn["end_s"] = time.monotonic() - t0
    turn["latency_s"] = turn["end_s"] - turn["start_s"]
    turn["history"] = history
    if not history or history[-1].get("role") != "assistant":
        turn["error"] = "refused: no reply was added (rate or length limit)"


def verifies_certificates(url: str) -> bool:
    """Whether a simulated gradio_client student verifies the server's certificate: only for an https URL.
    gradio_client makes a new httpx client for every request (the join, the event stream), and with verification
    on each one loads the CA bundle first, about 20 ms of CPU, even for a plain-HTTP URL that has no certificate. On
    loopback that was most of a turn's time before the server had the message (README, Measured); a browser does
    nothing like it."""
    return urlsplit(url).scheme == "https"


def run_gradio_clients(url: str, questions: list[list[str]], params: tuple, inputs: dict[str, Any] | None,
                       stop_after: float, grace: float, open_page: bool = True, only: Sequence[int] | None = None,
                       start: Callable[[], Any] | None = None) -> tuple[float, list[dict[str, Any]]]:
    """One gradio_client per student, each in its own thread; returns (wall seconds, turns). With ``open_page``
    each student first runs the page's New chat event, before the clock starts: a browser's session (and Gradio's
    per-session state) exists from the page load, long before the first question. ``only``: the students (indexes
    into ``questions``) this call runs, all by default; ``start`` is called (and may block) just before the clock
    starts, so that students run by several processes start together. ``inputs``: what a student sets in the page
    besides the message and the history, by the chat API's parameter names (``INPUT_KINDS``), None for unset."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client
    from gradio_client.utils import Status

    running = (Status.PROCESSING, Status.ITERATING, Status.FINISHED)  # out of Gradio's queue

    ids = list(range(len(questions)) if only is None else only)
    verify = verifies_certificates(url)
    with ThreadPoolExecutor(8) as ex:  # building a client fetches the app's config: do it before the clock starts
        clients = dict(zip(ids, ex.map(lambda _: Client(url, verbose=False, ssl_verify=verify), ids)))
    turns: list[dict[str, Any]] = []
    extra = {name: value for name, value in (inputs or {}).items() if value is not None}
    ready, go = threading.Barrier(len(ids) + 1), threading.Barrier(len(ids) + 1)
    t0 = 0.0

    def student(i: int) -> None:
        history: list = []
        if open_page:
            clients[i].predict(api_name="/clear")
        ready.wait()
        go.wait()
        for k, text in enumerate(questions[i]):
            if time.monotonic() - t0 >= stop_after:
                return
            turn = _new_turn(i, k, text, t0)
            turns.append(turn)
            try:
                job = clients[i].submit(text, history, *params, api_name="/chat", **extra)
                seen = 0
                while True:  # polled, not iterated, to see the queue status as well as the outputs
                    done = job.done()
                    if job.status().code in running:
                        turn.setdefault("queue_wait_s", time.monotonic() - t0 - turn["start_s"])
                    outputs = job.outputs()
                    for out in outputs[seen:len(outputs)]:
                        _observe(turn, out, t0 + turn["start_s"])
                    seen = len(outputs)
                    if done:
                        break
                    if time.monotonic() - t0 > stop_after + grace:
                        job.cancel()
                        turn["error"] = "unfinished"
                        return
                    time.sleep(0.01)
                history = job.result()
                _finish(turn, history, t0)
            except Exception as err:  # recorded, not raised: a benchmark reports errors as figures
                turn["error"] = repr(err)
                return

    threads = [threading.Thread(target=student, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    ready.wait()
    if start is not None:
        start()
    t0 = time.monotonic()
    go.wait()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    for c in clients.values():
        c.close()
    return wall, turns


def run_sse_clients(url: str, questions: list[list[str]], params: tuple, inputs: dict[str, Any] | None,
                    stop_after: float, grace: float, open_page: bool = True, only: Sequence[int] | None = None,
                    start: Callable[[], Any] | None = None) -> tuple[float, list[dict[str, Any]]]:
    """One browser-like session per student speaking Gradio's queue protocol (join, read the event stream), as
    ``bench.stream._sse_run`` does, but multi-turn and reading the outputs (diffs applied with gradio_client's
    ``apply_diff``, as the page applies them) and, when a reply ends, storing the chat as the page does (its
    not-queued step into the browser's storage) before the next message; returns (wall seconds, turns).
    ``inputs``, ``open_page``, ``only``, ``start``: as in :func:`run_gradio_clients`."""
    import httpx
    from gradio_client.utils import apply_diff

    base = url.rstrip("/")
    config = httpx.get(f"{base}/config", timeout=30).json()
    dep = next(d for d in config["dependencies"] if d.get("api_name") == "chat")
    clear = next(d for d in config["dependencies"] if d.get("api_name") == "clear")
    # What the page runs after each reply, not queued: the chat into the browser's storage (ui.chat), if it has it.
    store = next((d for d in config["dependencies"] if d.get("trigger_after") == dep["id"] and not d.get("queue", True)
                  and d.get("backend_fn")), None)
    kinds = {c["id"]: c.get("type") for c in config["components"]}
    slots = {name: next((n for n, cid in enumerate(dep["inputs"]) if kinds.get(cid) == kind), None)
             for name, kind in INPUT_KINDS.items() if (inputs or {}).get(name) is not None}
    if None in slots.values():
        raise ValueError(f"the page's /chat takes no {[n for n, slot in slots.items() if slot is None]}")
    turns: list[dict[str, Any]] = []
    t0 = time.monotonic()

    async def one_turn(http: httpx.AsyncClient, turn: dict[str, Any], session: str, history: list) -> None:
        data: list[Any] = [turn["sent"], history, *params] + [None] * (len(dep["inputs"]) - 5)
        for name, slot in slots.items():
            data[slot] = inputs[name]  # type: ignore[index]
        r = await http.post(f"{base}/gradio_api/queue/join", json={
            "data": data, "fn_index": dep["id"], "session_hash": session, "event_data": None, "trigger_id": None})
        r.raise_for_status()
        turn["joined_s"] = time.monotonic() - t0 - turn["start_s"]
        event, outputs = r.json().get("event_id"), None
        async with http.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}) as resp:
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") not in (None, event):
                    continue
                kind = msg.get("msg")
                if kind == "process_starts":
                    turn.setdefault("queue_wait_s", time.monotonic() - t0 - turn["start_s"])
                elif kind == "process_generating":
                    data = msg["output"]["data"]
                    outputs = list(data) if outputs is None else [apply_diff(o, d) for o, d in zip(outputs, data)]
                    _observe(turn, outputs[0], t0 + turn["start_s"])
                elif kind == "process_completed":
                    if not msg.get("success", True):
                        raise RuntimeError(str(msg.get("output")))
                    _finish(turn, msg["output"]["data"][0], t0)
                    return
        raise RuntimeError("the event stream ended before the reply was complete")

    sessions = [f"load{i}-{time.time_ns()}" for i in range(len(questions))]

    async def store_chat(http: httpx.AsyncClient, session: str, history: list) -> None:
        """As the page does when a reply ends, before the student's next message (its time is in no turn's figures;
        its failure is the turn's error)."""
        if store is not None:
            r = await http.post(f"{base}/gradio_api/run/predict", json={
                "data": [history], "fn_index": store["id"], "session_hash": session, "event_data": None,
                "trigger_id": None})
            r.raise_for_status()
            if r.json().get("data") != [history]:
                raise RuntimeError("the page would store another chat than the one it shows")

    async def page_load(http: httpx.AsyncClient, session: str) -> None:
        r = await http.post(f"{base}/gradio_api/queue/join", json={
            "data": [], "fn_index": clear["id"], "session_hash": session, "event_data": None, "trigger_id": None})
        r.raise_for_status()
        async with http.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}) as resp:
            async for line in resp.aiter_lines():
                if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                    return

    async def student(http: httpx.AsyncClient, i: int) -> None:
        session, history = sessions[i], []
        for k, text in enumerate(questions[i]):
            if time.monotonic() - t0 >= stop_after:
                return
            turn = _new_turn(i, k, text, t0)
            turns.append(turn)
            try:
                left = stop_after + grace - (time.monotonic() - t0)
                await asyncio.wait_for(one_turn(http, turn, session, history), max(left, 0.001))
            except asyncio.TimeoutError:
                turn["error"] = "unfinished"
                return
            except Exception as err:  # recorded, not raised: a benchmark reports errors as figures
                turn["error"] = repr(err)
                return
            if turn["error"]:
                return
            history = turn["history"]
            try:
                await store_chat(http, session, history)
            except Exception as err:  # the page's storage step failed: an error of the app, counted with the turn's
                turn["error"] = f"storing the chat: {err!r}"
                return

    ids = list(range(len(questions)) if only is None else only)

    async def run_all() -> float:
        nonlocal t0
        limits = httpx.Limits(max_connections=2 * len(ids) + 10)
        async with httpx.AsyncClient(timeout=None, limits=limits) as http:
            if open_page:
                await asyncio.gather(*(page_load(http, sessions[i]) for i in ids))
            if start is not None:
                await asyncio.to_thread(start)
            t0 = time.monotonic()
            await asyncio.gather(*(student(http, i) for i in ids))
            return time.monotonic() - t0

    wall = asyncio.run(run_all())
    return wall, turns


CLIENTS = {"gradio_client": run_gradio_clients, "sse": run_sse_clients}


def default_client_processes(students: int) -> int:
    """Processes the simulated students are spread over: one per 8 students, at most half the cores (the app needs
    the rest), at least one. Real students each have their own machine; one process for 64 gradio_clients measures
    that process's own limits (its GIL) as much as the app's."""
    return max(1, min(-(-students // 8), (os.cpu_count() or 2) // 2))


def _group(client: str, url: str, questions: list[list[str]], params: tuple, inputs: dict[str, Any] | None,
           stop_after: float, grace: float, open_page: bool, only: Sequence[int], barrier: Any
           ) -> tuple[float, list[dict[str, Any]], float]:
    started: list[float] = []

    def start() -> None:
        barrier.wait()
        started.append(time.time())

    wall, turns = CLIENTS[client](url, questions, params, inputs, stop_after, grace, open_page, only, start)
    return wall, turns, started[0]


class StudentProcesses:
    """The processes simulated students run in (another process than the app's, as real browsers are), kept for a
    warm-up and the measured run. ``close()`` ends them."""

    def __init__(self, processes: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.processes = processes
        self._manager = context.Manager()
        self._pool = context.Pool(processes)

    def run(self, client: str, url: str, questions: list[list[str]], params: tuple, inputs: dict[str, Any] | None,
            stop_after: float, grace: float, open_page: bool = True) -> tuple[float, list[dict[str, Any]], float]:
        """The students spread over the processes (students 0, P, 2P, ... in the first), started together (a
        barrier); returns (the longest process's wall seconds, every turn, when the clock started as
        ``time.time()``)."""
        groups = [list(range(k, len(questions), self.processes)) for k in range(min(self.processes, len(questions)))]
        barrier = self._manager.Barrier(len(groups))
        results = self._pool.starmap(_group, [(client, url, questions, params, inputs, stop_after, grace, open_page,
                                               g, barrier) for g in groups])
        return (max(wall for wall, _, _ in results), [turn for _, turns, _ in results for turn in turns],
                min(start for _, _, start in results))

    def close(self) -> None:
        self._pool.terminate()
        self._manager.shutdown()
