"""The chat page in a real browser: streaming text, rendered math, money left alone, Stop."""

from __future__ import annotations

import time

import pytest

from engine.fake import FakeEngine
from ui import UIConfig, build_ui
from tests.fixtures.live import serve

MATH_REPLY = (
    "Factor it: \\(x^2 - 5x + 6 = (x-2)(x-3)\\). So $x = 2$ or $x = 3$:\n\n"
    "$$x = \\frac{5 \\pm \\sqrt{25 - 24}}{2}$$\n\n"
    "A pencil costs $0.40 and a pen $1.20, so both cost $1.60. \\boxed{2, 3}"
)


@pytest.fixture()
def app_url():
    engine = FakeEngine(token_delay=0.02)
    demo = build_ui(engine, UIConfig())
    url = serve(demo)
    yield engine, url
    demo.close()


def _ask(page, text: str) -> None:
    page.locator("#message textarea").fill(text)
    page.locator("#send").click()


def _last_bot(page):
    return page.locator("#chatbot .message.bot, #chatbot [data-testid='bot']").last


def test_math_renders_and_money_survives(page, app_url, shot):
    engine, url = app_url
    engine.enqueue(MATH_REPLY)
    page.goto(url)
    _ask(page, "Solve x^2 - 5x + 6 = 0")
    # While streaming, text grows.
    bot = _last_bot(page)
    bot.wait_for(timeout=15000)
    lengths = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lengths.append(len(bot.inner_text()))
        if bot.locator(".katex").count() >= 6:
            break
        time.sleep(0.1)
    assert len(set(lengths)) >= 3, "the reply should appear in several steps"
    page.wait_for_timeout(500)
    shot("math-rendered")
    html = bot.inner_html()
    assert bot.locator(".katex").count() >= 4, "inline and display math should be rendered by KaTeX"
    assert bot.locator(".katex-display").count() >= 1
    text = bot.inner_text()
    assert "\\frac" not in text and "\\(" not in text and "\\boxed" not in text, "no raw LaTeX should be left"
    assert "$0.40" in text and "$1.20" in text and "$1.60" in text, f"money must stay money: {text!r}"
    assert "katex" in html


def test_stop_ends_a_reply_midway(page, app_url, shot):
    engine, url = app_url
    engine.token_delay = 0.05
    engine.enqueue(" ".join(f"word{i}" for i in range(400)))
    page.goto(url)
    _ask(page, "Tell me a long story")
    bot = _last_bot(page)
    bot.wait_for(timeout=15000)
    page.wait_for_function("document.querySelector('#chatbot')?.innerText?.includes('word5')", timeout=15000)
    page.locator("#stop").click()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not engine.finished:
        time.sleep(0.05)
    assert list(engine.finished.values()) == ["abort"]
    shown = bot.inner_text()
    page.wait_for_timeout(500)
    assert bot.inner_text() == shown, "nothing arrives after Stop"
    assert "word399" not in shown
    shot("stopped")


def test_conversation_survives_a_reload(page, app_url, shot):
    engine, url = app_url
    engine.token_delay = 0.001
    engine.enqueue("Remember: \\(x = 7\\).")
    page.goto(url)
    _ask(page, "Keep this")
    page.wait_for_function("document.querySelector('#chatbot')?.innerText?.includes('Remember')", timeout=15000)
    page.wait_for_timeout(500)
    page.reload()
    page.wait_for_function("document.querySelector('#chatbot')?.innerText?.includes('Keep this')", timeout=15000)
    assert _last_bot(page).locator(".katex").count() >= 1
    shot("after-reload")


def test_the_box_empties_on_send_and_what_is_typed_while_a_reply_streams_is_kept(page, app_url):
    engine, url = app_url
    engine.token_delay = 0.03
    engine.enqueue(" ".join(f"word{i}" for i in range(60)), "Second reply.")
    page.goto(url)
    box = page.locator("#message textarea")
    box.fill("first question")
    box.press("Enter")
    page.wait_for_function("document.querySelector('#chatbot')?.innerText?.includes('word3')", timeout=15000)
    assert box.input_value() == ""  # emptied at once, in the browser
    box.fill("my next question")  # typed while the reply streams
    box.press("Enter")  # a second message while one streams: refused, the text goes back into the box
    page.wait_for_function("document.querySelector('#chatbot')?.innerText?.includes('word59')", timeout=15000)
    page.wait_for_timeout(500)
    assert box.input_value() == "my next question"  # kept through the refusal and the reply's end
    assert [call[0][-1]["content"] for call in engine.calls] == ["first question"]
    box.press("Enter")  # now it goes
    page.wait_for_function("document.querySelector('#chatbot')?.innerText?.includes('Second reply.')", timeout=15000)
    assert box.input_value() == ""
    assert [call[0][-1]["content"] for call in engine.calls] == ["first question", "my next question"]
