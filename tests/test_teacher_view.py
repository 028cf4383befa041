"""The teacher's classroom view in a live app on localhost, driven by gradio_client: locked without the password,
the right counts while three students stream, and Stop by request id ends one student's reply only."""

from __future__ import annotations

import asyncio
import time

import gradio as gr
import pytest
from gradio_client import Client

from engine.base import GenParams, new_request_id
from engine.fake import FakeEngine
from engine.metrics import MeteredEngine
from ui.chat import render_reply
from ui.render import message_text
from ui.streaming import coalesce
from ui.teacher import TeacherGate
from ui.teacher_view import ASK, LOCKED, build_teacher_view
from tests.fixtures.live import serve

MEMORY = "| Weights | 0.7 GB |\n|---|---|\n| KV cache | 40 GB |"
FILLER = " ".join(f"w{i}" for i in range(40))  # echoed back: 45 tokens, slow until the test speeds the engine up


def _build(metered: MeteredEngine, gate: TeacherGate) -> gr.Blocks:
    """A chat that tags and streams as ChatHandlers.respond does (without the tutor), plus the teacher view."""

    async def chat(message: str, history: list, request: gr.Request):
        rid = new_request_id()
        metered.tag(rid, session=request.session_hash, preview=message)
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": "…"}]
        stream = metered.stream([{"role": "user", "content": message}], GenParams(), request_id=rid)
        async for update in coalesce(stream, 0.05):
            history[-1] = {"role": "assistant", "content": render_reply(update)}
            yield history

    with gr.Blocks() as demo:
        chatbot = gr.Chatbot()
        box = gr.Textbox()
        box.submit(chat, [box, chatbot], [chatbot], api_name="chat", concurrency_limit=16)
        build_teacher_view(metered, gate, memory=lambda: MEMORY)
    return demo


@pytest.fixture()
def classroom(request):
    """(fake engine, metered engine, url) of a fresh app; the teacher password is the test's param ("teach")."""
    fake = FakeEngine(token_delay=0.3)
    metered = MeteredEngine(fake)
    demo = _build(metered, TeacherGate(getattr(request, "param", "teach"), step=0))
    url = serve(demo)
    try:
        yield fake, metered, url
    finally:
        fake.token_delay = 0.0
        demo.close()


def _numbers(markdown: str) -> dict[str, str]:
    header, _, row = markdown.splitlines()
    cells = lambda line: [c.strip() for c in line.strip("|").split("|")]  # noqa: E731
    return dict(zip(cells(header), cells(row)))


def _reply(history) -> str:
    return message_text(history[-1]["content"])


def _students(url: str, names: list[str]):
    clients = [Client(url, verbose=False) for _ in names]
    jobs = [c.submit(f"I am {n} {FILLER}", [], api_name="/chat") for c, n in zip(clients, names)]
    return clients, jobs


def _wait_running(metered: MeteredEngine, n: int) -> None:
    """Until ``n`` replies have their first tokens."""
    deadline = time.monotonic() + 60  # a generous bound for a loaded machine, not a speed check
    while sum(r.tokens > 0 for r in metered.running()) < n:
        assert time.monotonic() < deadline, "the students' replies did not start"
        time.sleep(0.05)


@pytest.mark.parametrize("classroom", ["teach", None], indirect=True, ids=["wrong-password", "no-password-set"])
def test_locked_view_shows_nothing_and_cannot_stop(classroom):
    fake, metered, url = classroom
    clients, jobs = _students(url, ["alice"])
    _wait_running(metered, 1)
    teacher = Client(url, verbose=False)
    message, *_, numbers, table, _, rate, load = teacher.predict("guess", api_name="/teacher_unlock")
    assert message == "Wrong password." and numbers == "" and table["data"] == [] and rate is None
    numbers, table, _, rate, load = teacher.predict(None, api_name="/teacher_refresh")
    assert numbers == "" and table["data"] == [] and rate is None and load is None
    rid = metered.running()[0].request_id
    assert teacher.predict(rid[:8], api_name="/teacher_stop") in (ASK, LOCKED)
    assert teacher.predict(api_name="/teacher_memory") == ""
    fake.token_delay = 0.001
    assert _reply(jobs[0].result(timeout=60)) == f"You said: I am alice {FILLER}"
    assert fake.aborted == [] and metered.snapshot().finished == {"stop": 1}
    for c in [teacher, *clients]:
        c.close()


def test_unlocked_view_counts_students_and_stops_one_generation(classroom):
    fake, metered, url = classroom
    names = ["alice", "bob", "carol"]
    clients, jobs = _students(url, names)
    _wait_running(metered, 3)
    teacher = Client(url, verbose=False)
    message, *_, memory, numbers, table, _, rate, load = teacher.predict("teach", api_name="/teacher_unlock")
    assert message.startswith("Unlocked") and memory == MEMORY
    numbers, table, _, rate, load = teacher.predict(None, api_name="/teacher_refresh")
    figures = _numbers(numbers)
    assert figures["Active students"] == "3" and figures["Running"] == "3" and figures["Queued"] == "0"
    assert figures["Requests"] == "3" and figures["Errors"] == "0"
    assert float(figures["Tokens/s (10 s)"]) > 0 and figures["First token p50 / p95 (5 min)"].endswith(" s")
    rows = {row[-1].split()[2]: row for row in table["data"]}  # question "I am NAME w0 ..." -> row
    assert set(rows) == set(names) and all(row[3] == "running" for row in rows.values())
    assert len({row[1] for row in rows.values()}) == 3  # three different students
    assert rate["columns"] == ["seconds", "tokens_per_s"] and load["columns"] == ["seconds", "requests", "state"]

    assert teacher.predict(rows["bob"][0], api_name="/teacher_stop") == f"Stopped generation `{rows['bob'][0]}`."
    bob = _reply(jobs[1].result(timeout=60))
    assert bob.startswith("You said:") and bob.endswith("*(Stopped.)*")
    fake.token_delay = 0.001
    for name, job in zip(names, jobs):
        if name != "bob":
            assert _reply(job.result(timeout=60)) == f"You said: I am {name} {FILLER}"
    assert len(fake.aborted) == 1 and fake.aborted[0].startswith(rows["bob"][0])
    numbers, table, *_ = teacher.predict(None, api_name="/teacher_refresh")
    figures = _numbers(numbers)
    assert figures["Running"] == "0" and figures["Active students"] == "0" and table["data"] == []
    assert metered.snapshot().finished == {"abort": 1, "stop": 2}
    assert "Stopped generation" not in teacher.predict(rows["bob"][0], api_name="/teacher_stop")  # already ended
    for c in [teacher, *clients]:
        c.close()


def test_memory_readout_plain_or_async_and_only_when_unlocked():
    from ui.teacher_view import TeacherView

    async def live() -> str:
        return MEMORY

    def broken() -> str:
        raise RuntimeError("no driver")

    metered, gate = MeteredEngine(FakeEngine()), TeacherGate("teach", step=0)
    assert asyncio.run(TeacherView(metered, gate, live).memory_text(True)) == MEMORY
    assert asyncio.run(TeacherView(metered, gate, lambda: MEMORY).memory_text(True)) == MEMORY
    assert asyncio.run(TeacherView(metered, gate, live).memory_text(False)) == ""
    assert asyncio.run(TeacherView(metered, TeacherGate(None), live).memory_text(True)) == ""
    assert "no driver" in asyncio.run(TeacherView(metered, gate, broken).memory_text(True))
