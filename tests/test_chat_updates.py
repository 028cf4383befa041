"""What each streaming update of the chat handler (``ui.chat.ChatHandlers.respond``) carries, with a scripted
FakeEngine and the real sympy workers: the chat on every update; the answer-release state with the first update
(so that a reply the student stops still keeps a release their message earned) and with the last, skipped in
between (Gradio re-derives a State's config for every value it is given); the unredacted replies with the last."""

from __future__ import annotations

import gradio as gr

from tests.fixtures.chat_turns import handlers, run_turn
from tutor import SOCRATIC
from tutor.modes import released_note
from ui.render import message_text

QUESTION = "Solve x^2 - 5x + 6 = 0"
SKIP = gr.skip()


def _updates(replies: list[str], text: str, history: list, *, raw=None, stop_after=None):
    """The turn's updates in Socratic mode, the reply streamed a word every 2 ms, every update sent (no sharing)."""
    engine, chat = handlers(SOCRATIC, updates_per_second=0)
    engine.token_delay = 0.002
    engine.enqueue(*replies)
    updates, refused = run_turn(chat, text, history, raw=raw, stop_after=stop_after)
    assert not refused
    return engine, updates


def test_release_goes_out_with_the_first_and_last_updates_and_is_skipped_between():
    engine, updates = _updates(["Think about which two numbers multiply to 6 and add to -5."], QUESTION, [])
    assert len(updates) > 5
    assert [u[1] == SKIP for u in updates] == [False] + [True] * (len(updates) - 2) + [False]
    assert updates[0][1] is False and updates[-1][1] is False
    assert all(u[2] == SKIP for u in updates[:-1])
    assert updates[-1][2] == ["Think about which two numbers multiply to 6 and add to -5."]
    assert all(message_text(u[0][0]["content"]) == QUESTION for u in updates)  # the chat on every update


def test_a_release_earned_by_the_message_survives_stopping_the_reply():
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Which numbers?"}]
    engine, updates = _updates(["Not quite the whole story, " + "let me explain " * 60], "x = 3 or x = 2", history,
                               raw=["Which numbers?"], stop_after=1)
    assert len(updates) == 1 and updates[0][1] == QUESTION  # released for this question (sympy's answer matched)
    assert released_note("en") in engine.calls[0][0][0]["content"]  # and the model was told
