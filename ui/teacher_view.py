"""The teacher's classroom view: how many students are generating or waiting, speed, first-token time, GPU memory,
a chart of the last minutes, and a Stop for any one runaway generation.

Figures come from :class:`engine.metrics.MeteredEngine`; the memory split is whatever Markdown the ``memory``
callable returns (plain or async, e.g. the engine panel's ``EngineControls.live_readout``). Every handler checks
the teacher gate on the server: the unlocked flag is a ``gr.State`` (kept on the server, per tab) set only by a
correct password. A ``gr.Timer`` refreshes the view every 2 s, only while the view is unlocked and open; a tick
reads counters under a lock and builds two small tables, nothing heavier (the memory readout refreshes on unlock
and on its button only, as it may query the GPU). Not covered: changing the engine (``ui.engine_panel``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import gradio as gr
import pandas as pd

from engine.metrics import MeteredEngine, Snapshot
from ui.teacher import TeacherGate

MemoryReadout = Callable[[], "str | Awaitable[str]"]

REFRESH_SECONDS = 2.0
SHORT_ID = 8  # characters of a request id shown and accepted by Stop
HEADERS = ["Request", "Student", "Started", "State", "Tokens", "Tokens/s", "Question"]
LOCKED = ("🔒 The classroom view is locked. Start the app with `TUTOR_TEACHER_PASSWORD` set to see it "
          "(students' questions are shown here).")
ASK = "Enter the teacher password to see the classroom."
NUMBER_LABELS = ["Active students", "Running", "Queued", "Tokens/s (10 s)", "First token p50 / p95 (5 min)",
                 "Requests", "Errors"]


def numbers_markdown(snap: Snapshot) -> str:
    """One-row Markdown table of the headline figures (labels in ``NUMBER_LABELS``)."""
    ttft = "–" if snap.ttft_p50 is None else f"{snap.ttft_p50:.2f} s / {snap.ttft_p95:.2f} s"
    cells = [snap.sessions, snap.running, snap.queued, f"{snap.tokens_per_s:.1f}", ttft, snap.total, snap.errors]
    return ("| " + " | ".join(NUMBER_LABELS) + " |\n|" + "---|" * len(cells) + "\n| "
            + " | ".join(str(c) for c in cells) + " |")


class TeacherView:
    """Handlers of the view (the gate is checked in each)."""

    def __init__(self, metered: MeteredEngine, gate: TeacherGate, memory: MemoryReadout | None) -> None:
        self.metered, self.gate, self.memory = metered, gate, memory

    def _allowed(self, unlocked: bool) -> bool:
        return self.gate.enabled and bool(unlocked)

    async def unlock(self, password: str) -> tuple[Any, ...]:
        ok = await self.gate.check(password)
        memory = await self.memory_text(ok)
        return (ok, "Unlocked for this browser tab." if ok else "Wrong password.", gr.update(value=""),
                gr.Column(visible=ok), gr.Timer(active=ok), memory, *self.refresh(ok, None))

    def refresh(self, unlocked: bool, selected: str | None, shown: list | None = None) -> tuple[Any, ...]:
        """Numbers, running table, Stop choices (left alone when unchanged, so an open list stays open), charts,
        and the choices now shown."""
        if not self._allowed(unlocked):
            return "", pd.DataFrame(columns=HEADERS), gr.update(choices=[], value=None), None, None, []
        snap, rows, samples = self.metered.snapshot(), self.metered.running(), self.metered.history()
        table = pd.DataFrame([
            [r.request_id[:SHORT_ID], r.session, time.strftime("%H:%M:%S", time.localtime(r.started)),
             "running" if r.queue_position is None else f"queued #{r.queue_position}", r.tokens,
             round(r.tokens_per_s, 1), r.preview] for r in rows], columns=HEADERS)
        choices = [(f"{r.request_id[:SHORT_ID]} · {r.session} · {r.preview}", r.request_id[:SHORT_ID]) for r in rows]
        keep = selected if selected in {v for _, v in choices} else None
        listed = [list(c) for c in choices]
        pick = gr.skip() if listed == shown else gr.update(choices=choices, value=keep)
        now = time.time()
        ago = [round(s.time - now) for s in samples]
        rate = pd.DataFrame({"seconds": ago, "tokens_per_s": [s.tokens_per_s for s in samples]})
        load = pd.DataFrame({
            "seconds": ago * 2, "requests": [s.running for s in samples] + [s.queued for s in samples],
            "state": ["running"] * len(samples) + ["queued"] * len(samples),
        })
        return numbers_markdown(snap), table, pick, rate, load, listed

    async def stop(self, unlocked: bool, short_id: str | None) -> str:
        """Abort the running or queued request whose id starts with ``short_id`` (as Stop in the student's tab)."""
        if not self._allowed(unlocked):
            return LOCKED if not self.gate.enabled else ASK
        short_id = (short_id or "").strip()
        matches = [r.request_id for r in self.metered.running()
                   if len(short_id) >= 6 and r.request_id.startswith(short_id)]
        if len(matches) != 1:
            return f"No running generation `{short_id or '—'}` (it may have finished). Pick one from the list."
        found = await self.metered.abort(matches[0])
        return f"Stopped generation `{short_id}`." if found else f"Generation `{short_id}` had already finished."

    async def memory_text(self, unlocked: bool) -> str:
        """The memory readout; a plain callable runs in a thread (it may query the GPU), an async one here."""
        if not self._allowed(unlocked) or self.memory is None:
            return ""
        try:
            if inspect.iscoroutinefunction(self.memory):
                return await self.memory()
            return await asyncio.to_thread(self.memory)  # type: ignore[arg-type]
        except Exception as err:  # a readout failure must not break the view
            return f"Memory readout unavailable ({type(err).__name__}: {err})."


def build_teacher_view(metered: MeteredEngine, gate: TeacherGate, memory: MemoryReadout | None = None) -> None:
    """Add the view to the Blocks being built."""
    view = TeacherView(metered, gate, memory)
    api = dict(api_visibility="undocumented", show_progress="hidden")
    with gr.Accordion("Classroom and performance (teacher)", open=False, elem_id="teacher-view") as accordion:
        unlocked = gr.State(False)
        listed = gr.State([])  # the Stop choices this tab shows
        timer = gr.Timer(REFRESH_SECONDS, active=False)
        message = gr.Markdown(ASK if gate.enabled else LOCKED, elem_id="teacher-view-message")
        with gr.Row(visible=gate.enabled):
            password = gr.Textbox(type="password", label="Teacher password", scale=3,
                                  elem_id="teacher-view-password")
            unlock = gr.Button("Unlock", scale=1, elem_id="teacher-view-unlock")
        with gr.Column(visible=False) as body:
            numbers = gr.Markdown(elem_id="teacher-numbers")
            table = gr.Dataframe(headers=HEADERS, interactive=False, wrap=True, max_height=320,
                                 label="Running and queued generations", elem_id="teacher-running")
            with gr.Row():
                pick = gr.Dropdown([], value=None, allow_custom_value=True, scale=3, elem_id="teacher-pick",
                                   label="Generation to stop (request id)")
                stop = gr.Button("Stop generation", variant="stop", scale=1, elem_id="teacher-stop")
            with gr.Row():
                rate = gr.LinePlot(x="seconds", y="tokens_per_s", x_title="seconds (0 = now)", y_title="tokens/s",
                                   title="Tokens per second", height=220, elem_id="teacher-rate")
                load = gr.LinePlot(x="seconds", y="requests", color="state", x_title="seconds (0 = now)",
                                   y_title="requests", title="Running and queued", height=220,
                                   elem_id="teacher-load")
            gr.Markdown("**GPU memory**", visible=memory is not None)
            mem = gr.Markdown(elem_id="teacher-memory")
            refresh_memory = gr.Button("Refresh memory", size="sm", visible=memory is not None)
    shown = [numbers, table, pick, rate, load, listed]
    unlock.click(view.unlock, [password], [unlocked, message, password, body, timer, mem, *shown],
                 api_name="teacher_unlock", **api)
    timer.tick(view.refresh, [unlocked, pick, listed], shown, api_name="teacher_refresh", concurrency_limit=None,
               **api)
    stop.click(view.stop, [unlocked, pick], [message], api_name="teacher_stop", **api).then(
        view.refresh, [unlocked, pick, listed], shown, api_visibility="private", show_progress="hidden")
    refresh_memory.click(view.memory_text, [unlocked], [mem], api_name="teacher_memory", **api)
    # Tick only while the view is open (and unlocked): closed tabs of the view cost nothing.
    accordion.expand(lambda ok: gr.Timer(active=view._allowed(ok)), [unlocked], [timer], api_visibility="private",
                     queue=False)
    accordion.collapse(lambda: gr.Timer(active=False), None, [timer], api_visibility="private", queue=False)
