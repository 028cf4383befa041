"""The live app on localhost, driven by gradio_client: streaming, isolation between clients, Stop, limits."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from engine.fake import FakeEngine
from ui import UIConfig, build_ui
from ui.render import CURRENCY_HTML
from tests.fixtures.live import serve

LONG = " ".join(f"w{i}" for i in range(300))


@pytest.fixture()
def live():
    """A fresh app on a free localhost port around a FakeEngine; yields (engine, client, url)."""
    engine = FakeEngine(token_delay=0.01)
    demo = build_ui(engine, UIConfig(max_message_chars=200))
    url = serve(demo)
    client = Client(url, verbose=False)
    try:
        yield engine, client, url
    finally:
        client.close()
        demo.close()


def _assistant_text(history) -> str:
    from ui.render import message_text

    return message_text(history[-1]["content"]) if history and history[-1]["role"] == "assistant" else ""


def test_reply_streams_in_growing_chunks(live):
    engine, client, _ = live
    reply = " ".join(f"step{i}" for i in range(60))
    engine.enqueue(reply)
    job = client.submit("Solve x+1=2", [], 0.7, 0.9, 1024, api_name="/chat")
    seen = [_assistant_text(out) for out in job]
    texts = [t for t in seen if t and t != "…"]
    assert len(set(texts)) >= 3, f"expected several streamed updates, got {len(set(texts))}"
    for a, b in zip(texts, texts[1:]):
        assert b.startswith(a)  # each update extends the previous one
    assert texts[-1] == reply
    history = job.outputs()[-1]
    assert history[0]["role"] == "user"
    # The model received the tutor mode's system prompt (step by step by default) and the user's message.
    import tutor

    messages, params = engine.calls[-1]
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith(tutor.system_prompt("steps", "en"))
    assert messages[-1] == {"role": "user", "content": "Solve x+1=2"}
    assert params.max_new_tokens == 1024


def test_two_concurrent_clients_each_get_their_own_reply(live):
    engine, _, url = live
    engine.token_delay = 0.1
    engine.enqueue()
    real_stream = engine.stream

    async def stream_when_both_arrived(messages, params, *, request_id=None):
        # Each reply waits (up to 20 s) until both are inside the engine: if the app serialised them, the first
        # would wait in vain and peak_active would stay 1.
        async for chunk in real_stream(messages, params, request_id=request_id):
            for _ in range(400):
                if engine.active_requests() >= 2 or engine.peak_active >= 2:
                    break
                await asyncio.sleep(0.05)
            yield chunk

    engine.stream = stream_when_both_arrived
    results: dict[str, str] = {}
    clients = {name: Client(url, verbose=False) for name in ("alice", "bob")}  # connected first: asks overlap

    def ask(name: str) -> None:
        out = clients[name].predict(f"I am {name}", [], 0.7, 0.9, 1024, api_name="/chat")
        results[name] = _assistant_text(out)
        clients[name].close()

    threads = [threading.Thread(target=ask, args=(n,)) for n in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {"alice": "You said: I am alice", "bob": "You said: I am bob"}
    # They overlapped in the engine: not serialised behind each other.
    assert len(engine.calls) == 2 and engine.peak_active == 2


def test_stop_ends_generation_in_the_engine(live):
    engine, client, _ = live
    engine.token_delay = 0.02
    engine.enqueue(LONG)
    job = client.submit("long please", [], 0.7, 0.9, 1024, api_name="/chat")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        outs = job.outputs()
        if outs and len(_assistant_text(outs[-1])) > 20:
            break
        time.sleep(0.05)
    job.cancel()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not engine.finished:
        time.sleep(0.05)
    assert list(engine.finished.values()) == ["abort"]
    assert engine.active_requests() == 0
    shown = _assistant_text(job.outputs()[-1])
    assert 0 < len(shown.split()) < 300


def test_huge_message_is_refused_and_kept(live):
    engine, client, _ = live
    text = "x" * 500
    with pytest.raises(AppError, match="the limit is"):  # the page shows it and puts the text back in the box
        client.predict(text, [], 0.7, 0.9, 1024, api_name="/chat")
    assert engine.calls == []


def test_engine_error_is_shown_and_next_message_works(live):
    engine, client, _ = live
    engine.enqueue(RuntimeError("The GPU ran out of memory."), "Fine again.")
    history = client.predict("first", [], 0.7, 0.9, 1024, api_name="/chat")
    assert "ran out of memory" in _assistant_text(history)
    assert history[0]["role"] == "user"
    history = client.predict("second", history, 0.7, 0.9, 1024, api_name="/chat")
    assert _assistant_text(history) == "Fine again."
    # The failed turn's text never reaches the model as an assistant message that says "error"... but the user's is.
    assert any(m["content"] == "first" for m in engine.calls[-1][0])


def test_money_in_a_reply_is_protected(live):
    engine, client, _ = live
    engine.enqueue("Three pencils cost $1.20 and a pen $1.20, so \\(x = 2.40\\).")
    history = client.predict("prices", [], 0.7, 0.9, 1024, api_name="/chat")
    text = _assistant_text(history)
    assert text.count(CURRENCY_HTML) == 2 and "\\(x = 2.40\\)" in text
    # Sent back as history, the model sees plain dollars again.
    engine.enqueue("ok")
    client.predict("again", history, 0.7, 0.9, 1024, api_name="/chat")
    assert any("$1.20 and a pen $1.20" in m["content"] for m in engine.calls[-1][0])


def test_requests_per_minute_limit_gives_a_message_and_keeps_the_text():
    engine = FakeEngine(token_delay=0.001)
    demo = build_ui(engine, UIConfig(requests_per_minute=2))
    url = serve(demo)
    client = Client(url, verbose=False)
    try:
        history: list = []
        for text in ("one", "two"):
            history = client.predict(text, history, 0.7, 0.9, 1024, api_name="/chat")
        with pytest.raises(AppError, match="sending messages quickly"):
            client.predict("three", history, 0.7, 0.9, 1024, api_name="/chat")
        assert len(engine.calls) == 2
        other = Client(url, verbose=False)  # another student is not affected
        out = other.predict("hello", [], 0.7, 0.9, 1024, api_name="/chat")
        assert _assistant_text(out) == "You said: hello"
        other.close()
    finally:
        client.close()
        demo.close()


def test_closing_the_connection_aborts_the_generation_in_the_engine(live):
    """A tab that closes mid-reply (its event stream drops) must not keep the engine busy."""
    import httpx

    engine, _, url = live
    engine.token_delay = 0.05
    engine.enqueue(LONG)
    base = url.rstrip("/")
    config = httpx.get(f"{base}/config").json()
    dep = next(d for d in config["dependencies"] if d.get("api_name") == "chat")
    fn, padding = dep.get("id"), [None] * (len(dep["inputs"]) - 5)  # the tutor's states: the page sends them too
    session = "closing-tab"
    with httpx.Client() as http:
        http.post(f"{base}/gradio_api/queue/join", json={
            "data": ["long", [], 0.7, 0.9, 1024, *padding], "fn_index": fn, "session_hash": session,
            "event_data": None, "trigger_id": None}).raise_for_status()
        with http.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}) as resp:
            for n, _ in enumerate(resp.iter_lines()):
                if n > 8:
                    break  # the tab goes away mid-reply
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not engine.finished:
        time.sleep(0.1)
    assert list(engine.finished.values()) == ["abort"] and engine.active_requests() == 0


def test_the_apps_notes_and_badges_do_not_go_back_to_the_model():
    from ui.chat import to_engine_messages

    history = [
        {"role": "user", "content": "Solve x + 1 = 3"},
        {"role": "assistant", "content": "So x = 2.\n\n$x=2$\n\n✅ Verified by sympy ✓"},
        {"role": "user", "content": "⚠️ my own warning sign stays"},
        {"role": "assistant", "content": "Partial\n\n*(Stopped.)*"},
        {"role": "assistant", "content": "Cut\n\n⚠️ The teacher switched the model. Your message is kept: send it again."},
        {"role": "assistant", "content": "\n\n⚠️ The model stopped with an error. Your message is kept: send it again."},
    ]
    assert [m["content"] for m in to_engine_messages("", history)] == [
        "Solve x + 1 = 3", "So x = 2.\n\n$x=2$", "⚠️ my own warning sign stays", "Partial", "Cut"]


def test_the_launch_options_refuse_uploads_and_leave_room_for_a_class():
    import httpx

    from ui import launch_options

    engine = FakeEngine(token_delay=0.0, max_concurrency=64)
    options = launch_options(engine, UIConfig())
    assert options["max_threads"] > 64  # Gradio's default (40) would hold a class of 64 in its queue
    demo = build_ui(engine, UIConfig())
    url = serve(demo, **options)
    try:
        response = httpx.post(f"{url}gradio_api/upload", files={"files": ("big.bin", b"x" * 100_000)}, timeout=30)
        assert response.status_code == 413
        client = Client(url, verbose=False)
        out = client.predict("still here?", [], 0.7, 0.9, 64, api_name="/chat")
        assert _assistant_text(out).startswith("You said: still here?")
        client.close()
    finally:
        demo.close()
