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


def test_a_chat_turn_makes_no_thread_hop_for_its_components(monkeypatch):
    """Gradio would hand every input's preprocess and every update's postprocess to a worker thread."""
    hops: list[str] = []
    original = anyio.to_thread.run_sync

    async def counting(func, *args, **kwargs):
        if getattr(func, "__name__", "") in ("preprocess", "postprocess"):
            hops.append(f"{type(func.__self__).__name__}.{func.__name__}")
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
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
    assert hops == []


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
