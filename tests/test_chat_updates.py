"""What each streaming update of the chat handler (``ui.chat.ChatHandlers.respond``) carries, with a scripted
FakeEngine and the real sympy workers: the chat on every update; the answer-release state with the first update
(so that a reply the student stops still keeps a release their message earned) and with the last, skipped in
between (Gradio re-derives a State's config for every value it is given); the unredacted replies with the last."""

from __future__ import annotations

import asyncio

import gradio as gr

from engine.fake import FakeEngine
from tutor import SOCRATIC, TutorSettings
from tutor.modes import released_note
from ui import UIConfig
from ui.chat import ChatHandlers
from ui.render import message_text

QUESTION = "Solve x^2 - 5x + 6 = 0"
SKIP = gr.skip()


def _updates(engine: FakeEngine, text: str, history: list, *, released=False, raw=None, stop_after=None):
    handlers = ChatHandlers(engine, UIConfig(tutor=TutorSettings(default_mode=SOCRATIC), yield_interval=0.0,
                                             updates_per_second=0, requests_per_minute=0))

    async def run():
        out = []
        replies = handlers.respond(text, history, 0.7, 0.9, 512, problem_id=None, released=released, raw=raw or [])
        async for update in replies:
            out.append(update)
            if stop_after is not None and len(out) >= stop_after:
                await replies.aclose()  # what Gradio does on Stop
                break
        return out

    return asyncio.run(asyncio.wait_for(run(), 120))


def test_release_goes_out_with_the_first_and_last_updates_and_is_skipped_between():
    engine = FakeEngine(["Think about which two numbers multiply to 6 and add to -5."], token_delay=0.002)
    updates = _updates(engine, QUESTION, [])
    assert len(updates) > 5
    assert [u[1] == SKIP for u in updates] == [False] + [True] * (len(updates) - 2) + [False]
    assert updates[0][1] is False and updates[-1][1] is False
    assert all(u[2] == SKIP for u in updates[:-1])
    assert updates[-1][2] == ["Think about which two numbers multiply to 6 and add to -5."]
    assert all(message_text(u[0][0]["content"]) == QUESTION for u in updates)  # the chat on every update


def test_a_release_earned_by_the_message_survives_stopping_the_reply():
    engine = FakeEngine(["Not quite the whole story, " + "let me explain " * 60], token_delay=0.002)
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Which numbers?"}]
    updates = _updates(engine, "x = 3 or x = 2", history, raw=["Which numbers?"], stop_after=1)
    assert len(updates) == 1 and updates[0][1] == QUESTION  # released for this question (sympy's answer matched)
    assert released_note("en") in engine.calls[0][0][0]["content"]  # and the model was told
