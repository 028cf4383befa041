"""``ui.inline``: an event whose component data is converted on the event loop gives the page what Gradio's own
conversion gives it, makes no worker-thread hop for it, and still aborts its handler on Stop."""

from __future__ import annotations

import asyncio

import anyio.to_thread
import gradio as gr
import pytest
from gradio_client import Client

from engine.fake import FakeEngine
from ui import UIConfig, build_ui
from ui.inline import INLINE, inline_io
from tests.fixtures.live import serve

HISTORY = [{"role": "user", "content": [{"type": "text", "text": "What is $x^2$ at 3?"}]},  # as the page sends it
           {"role": "assistant", "content": [{"type": "text", "text": "It is **9**."}]}]


async def _answer(message: str, history: list, temperature: float, mode: str, flag: bool, kept: list,
                  request: gr.Request):
    """Streams as the chat does: a skipped output, then the whole chat with the message, its metadata and state."""
    seen = [m["content"] for m in history]  # preprocessed: lists of content parts
    yield [*history, {"role": "user", "content": message}], gr.skip(), gr.skip()
    reply = f"{message} | {temperature} | {mode} | {flag} | {len(kept)} | {bool(request.session_hash)} | {seen!r}"
    yield ([*history, {"role": "user", "content": message},
            {"role": "assistant", "content": reply, "metadata": {"title": "checked"}}], f"mode={mode}",
           [*kept, message])


def _page(inline: bool) -> gr.Blocks:
    with gr.Blocks() as demo:
        box, chat = gr.Textbox(), gr.Chatbot()
        temperature, mode, flag = gr.Slider(0, 2, 0.5), gr.Radio(["steps", "hints"], value="hints"), gr.Checkbox()
        kept, note = gr.State([]), gr.Markdown()
        inputs, outputs = [box, chat, temperature, mode, flag, kept], [chat, note, kept]
        fn = inline_io(_answer, inputs, outputs) if inline else _answer
        options = INLINE if inline else {}
        box.submit(fn, inputs, outputs, api_name="answer", **options)
    return demo


def test_the_page_gets_what_gradios_own_conversion_gives_it():
    results = {}
    for inline in (False, True):
        demo = _page(inline)
        url = serve(demo)
        client = Client(url, verbose=False)
        try:
            job = client.submit("And at 4?", HISTORY, 1.25, "steps", True, api_name="/answer")
            results[inline] = [list(out) for out in job]  # every streamed update, as the page applies them
            results[inline].append(job.outputs()[-1])
        finally:
            client.close()
            demo.close()
    assert results[True] == results[False]
    chat, note = results[True][-1]
    assert chat[-1]["metadata"]["title"] == "checked"
    assert chat[-1]["content"][0]["text"].startswith("And at 4? | 1.25 | steps | True | 0 | True | [[{")
    assert note == "mode=steps"


@pytest.fixture()
def thread_hops(monkeypatch) -> list:
    """Every function handed to a worker thread (``anyio.to_thread.run_sync``, which Gradio and FastAPI use), in
    order, a ``functools.partial`` unwrapped."""
    hops: list = []
    original = anyio.to_thread.run_sync

    async def recording(func, *args, **kwargs):
        hops.append(getattr(func, "func", func))
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", recording)
    return hops


def test_a_chat_turn_makes_no_thread_hop_for_its_components(thread_hops):
    """Gradio would hand every input's preprocess and every update's postprocess to a worker thread."""
    engine = FakeEngine(token_delay=0.005)
    engine.enqueue(" ".join(f"step{i}" for i in range(40)))
    demo = build_ui(engine, UIConfig())
    url = serve(demo)
    client = Client(url, verbose=False)
    try:
        updates = list(client.submit("Solve x+1=2", [], 0.7, 0.9, 256, api_name="/chat"))
    finally:
        client.close()
        demo.close()
    assert len(updates) >= 2 and "step39" in str(updates[-1])
    conversions = [f"{type(f.__self__).__name__}.{f.__name__}" for f in thread_hops
                   if getattr(f, "__name__", "") in ("preprocess", "postprocess")]
    assert conversions == []


def test_closing_the_event_closes_the_handler():
    closed = asyncio.Event()

    async def endless(text: str):
        try:
            while True:
                yield (text,)
                await asyncio.sleep(0)
        finally:
            closed.set()

    async def main() -> None:
        handler = inline_io(endless, [gr.Textbox()], [gr.Textbox()])
        stream = handler("hi")
        assert await anext(stream) == ("hi",)
        await stream.aclose()  # Gradio's Stop: the event's iterator is closed

    asyncio.run(main())
    assert closed.is_set()


def test_a_wrong_number_of_outputs_is_an_error_not_a_silent_truncation():
    async def two(text: str):
        yield text, text

    async def main() -> None:
        async for _ in inline_io(two, [gr.Textbox()], [gr.Textbox()])("x"):
            pass

    with pytest.raises(ValueError):
        asyncio.run(main())


def test_the_chat_stored_after_a_turn_is_what_gradios_preprocess_gives():
    """ui.chat stores the page's form of the chat (no preprocess, no thread hop): for text, metadata and all, it is
    what the chat's preprocess returns, so the page load reads back what it always read."""
    import ui.chat
    from gradio.components.chatbot import ChatbotDataMessages

    chatbot = gr.Chatbot()
    history = [{"role": "user", "content": "Solve $x^2 = 4$"},
               {"role": "assistant", "content": "x = ±2\n\n✅ sympy agrees", "metadata": {"title": "checked"}}]
    page_form = chatbot.postprocess(history).model_dump()  # what the page holds and sends back
    stored = asyncio.run(ui.chat._keep(page_form))
    assert stored == chatbot.preprocess(ChatbotDataMessages.model_validate(page_form))
    assert chatbot.postprocess(stored).model_dump() == page_form  # the page load shows the same chat


def _served_as_the_app(engine: FakeEngine, **options) -> tuple[gr.Blocks, str]:
    """The chat page served by ``ui.launch``, as app.py serves it (without the process tuning)."""
    from ui import launch

    demo = build_ui(engine, UIConfig())
    _, url, _ = launch(demo, engine, UIConfig(), tuned=False, server_name="127.0.0.1", prevent_thread_lock=True,
                       quiet=True, **options)
    return demo, url


def _login_check_hops(thread_hops: list, served) -> int:
    """Worker-thread hops for Gradio's login check during one chat turn (join, event stream) and a config read."""
    import httpx

    engine = FakeEngine(token_delay=0.0)
    demo, url = served(engine)
    thread_hops.clear()  # from here on
    client = Client(url, verbose=False)
    try:
        out = client.predict("Solve x+1=2", [], 0.7, 0.9, 64, api_name="/chat")
        assert "You said: Solve x+1=2" in str(out)
        assert httpx.get(f"{url}config", timeout=30).status_code == 200
    finally:
        client.close()
        demo.close()
    return sum(getattr(f, "__name__", "") == "login_check" for f in thread_hops)


def test_served_as_the_app_gradios_login_check_makes_no_thread_hop(thread_hops):
    """Gradio's login check is a sync dependency of every queue and config route: FastAPI runs it in a worker
    thread per request, unless ui.launch has put its async copy in place (counted against a plain launch)."""
    from tests.fixtures.live import serve

    def plain(engine):
        demo = build_ui(engine, UIConfig())
        return demo, serve(demo)

    assert _login_check_hops(thread_hops, plain) >= 3  # the join, the event stream, the config
    assert _login_check_hops(thread_hops, _served_as_the_app) == 0


def test_the_login_check_on_the_loop_still_refuses_a_stranger():
    """With Gradio's own login on, the async copy decides as Gradio's does: 401 until logged in."""
    import httpx

    demo, url = _served_as_the_app(FakeEngine(token_delay=0.0), auth=("teacher", "s3cret-pass"))
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            refused = http.get("config")
            assert refused.status_code == 401 and refused.json()["detail"]["error"] == "Not authenticated"
            assert http.post("login", data={"username": "teacher", "password": "wrong"}).status_code == 400
            assert http.get("config").status_code == 401
            assert http.post("login", data={"username": "teacher", "password": "s3cret-pass"}).status_code == 200
            assert http.get("config").status_code == 200
    finally:
        demo.close()


def test_served_as_the_app_gradios_monitoring_summary_is_off():
    """Gradio's /monitoring page is off, and the pandas summary it would read is never computed after events."""
    import httpx

    demo, url = _served_as_the_app(FakeEngine(token_delay=0.0))
    client = Client(url, verbose=False)
    try:
        for text in ("1+1", "2+2", "3+3"):
            client.predict(text, [], 0.7, 0.9, 64, api_name="/chat")
        assert httpx.get(f"{url}monitoring/summary", timeout=30).status_code == 403
        queue = demo._queue  # Gradio's queue: the summary's cache has no public accessor
        assert queue.events_recorded >= 3 and queue.cached_event_analytics_summary == {"functions": {}}
    finally:
        client.close()
        demo.close()
