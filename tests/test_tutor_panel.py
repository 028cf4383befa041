"""The tutor panel: handlers called directly (no browser), and a live app with the fake engine where a Socratic
exchange keeps the final answer hidden until the student's own answer checks out."""

from __future__ import annotations

import asyncio
from typing import Any

import gradio as gr
import pytest
from gradio_client import Client

from engine.base import GenParams
from engine.fake import FakeEngine
from tutor.bank import default_bank
from tutor.modes import SOCRATIC, STEPS, TutorSettings
from tutor.turn import finish_reply, prepare_turn
from ui.render import message_text
from ui.tutor_panel import PanelHandlers, build_tutor_panel
from tests.fixtures.live import serve

BANK = default_bank()


def test_handlers_without_a_browser() -> None:
    h = PanelHandlers(BANK)
    pid, problem_md, hints_md, feedback, released, answer = h.new_problem("systems", "easy", None, None, {})
    problem = BANK.get(pid)
    assert problem.topic == "systems" and problem.statement in problem_md and not released and answer == ""
    book, hints_md, released = h.hint(pid, {})
    assert problem.hints[0] in hints_md and not released
    book, progress, feedback, hints_md, progress_md, released = h.submit(pid, problem.answer, book, None)
    assert feedback.startswith("✅") and released and "Attempted **1**" in progress_md
    assert problem.answer in hints_md  # released: the answer is shown under the hints
    assert h.load(pid, book, progress) == (h.view(pid, book, progress).problem_md, hints_md, progress_md, True)
    assert h.load("", {}, None)[3] is False


def test_no_match_keeps_the_current_problem() -> None:
    out = PanelHandlers(BANK).new_problem("no-such-topic", "easy", None, "limits-01", {})
    assert out[0] == "limits-01" and "No problem matches" in out[3]


def _demo(engine: FakeEngine, settings: TutorSettings) -> gr.Blocks:
    """A minimal chat wired the way ui/chat.py should wire the tutor (see the report to the lead)."""
    with gr.Blocks() as demo:
        chatbot = gr.Chatbot()
        box = gr.Textbox()
        panel = build_tutor_panel(BANK, settings)
        raw = gr.State([])  # the unredacted replies, for the release check

        async def respond(message: str, history: list[dict[str, Any]], mode: str, problem_id: str,
                          released: bool, replies: list[str]):
            problem = panel.problem(problem_id)
            asked = [message_text(m["content"]) for m in history if m["role"] == "user"]
            plan, released = await asyncio.to_thread(prepare_turn, message, asked, settings=settings,
                                                     requested_mode=mode, problem=problem, released=released,
                                                     last_reply=replies[-1] if replies else None)
            messages = [{"role": "system", "content": plan.system_prompt}, {"role": "user", "content": message}]
            text = ""
            async for chunk in engine.stream(messages, GenParams()):
                text += chunk.text
            outcome = await asyncio.to_thread(finish_reply, plan, text)
            shown = outcome.display + (f"\n\n{outcome.badge}" if outcome.badge else "")
            history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": shown}]
            return history, released, [*replies, text]

        box.submit(respond, [box, chatbot, panel.mode, panel.problem_id, panel.released, raw],
                   [chatbot, panel.released, raw], api_name="chat")
    return demo


@pytest.fixture()
def live():
    engine = FakeEngine(token_delay=0.0)
    demo = _demo(engine, TutorSettings(default_mode=SOCRATIC))
    url = serve(demo, show_error=True)
    client = Client(url, verbose=False)
    yield engine, client
    client.close()
    demo.close()


def _last(history: list[dict[str, Any]]) -> str:
    content = history[-1]["content"]
    return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)


def test_socratic_exchange_withholds_the_answer_until_the_student_gets_it(live) -> None:
    engine, client = live
    answer = r"\boxed{x = 2 \text{ or } x = 3}"
    engine.enqueue(f"Which two numbers multiply to 6 and add to -5? (So {answer}.)",  # the model disobeys
                   "Not yet: check x = 3 in the equation. The answer is x = 2 or x = 3.",
                   f"Well done, that is right: {answer}")
    history = client.predict("Solve x^2 - 5x + 6 = 0", [], SOCRATIC, "", api_name="/chat")
    first = _last(history)
    assert "Which two numbers" in first and "x = 3" not in first and "x = 2 \\text" not in first
    system = engine.calls[-1][0][0]["content"]
    assert "Never state the final answer" in system and "Tool result" in system  # grounded by sympy
    history = client.predict("Is it x = 2?", history, SOCRATIC, "", api_name="/chat")  # half right: still hidden
    assert "x = 2 or x = 3" not in _last(history) and "🔒" in _last(history)
    history = client.predict("x = 3 or x = 2", history, SOCRATIC, "", api_name="/chat")
    last = _last(history)
    assert "x = 2 \\text{ or } x = 3" in last and "Verified by sympy" in last
    assert "earned the answer" in engine.calls[-1][0][0]["content"]


def test_step_by_step_shows_the_answer_with_a_badge(live) -> None:
    engine, client = live
    engine.enqueue(r"Factor: \((x-2)(x-3)=0\), so \boxed{x = 2}.")
    history = client.predict("Solve x^2 - 5x + 6 = 0", [], STEPS, "", api_name="/chat")
    assert "\\boxed{x = 2}" in _last(history) and "sympy disagrees" in _last(history)


def test_practice_panel_over_the_api(live) -> None:
    """API clients pass the BrowserState values themselves (a browser keeps them in local storage)."""
    _, client = live
    pid, problem_md, hints_md, feedback_md, answer = client.predict("derivatives", "easy", {}, "", {},
                                                                    api_name="/new_problem")
    problem = BANK.get(pid)
    assert problem.topic == "derivatives" and "Derivatives" in problem_md and "easy" in problem_md
    book, hints_md = client.predict(pid, {}, api_name="/hint")
    assert "Nudge" in hints_md and book[pid]["shown"] == 1
    book, progress, feedback, hints_md, progress_md = client.predict(pid, problem.distractor, book, {},
                                                                     api_name="/practice_submit")
    assert feedback.startswith("❌") and progress["attempted"] == 1 and progress["streak"] == 0
    book, progress, feedback, hints_md, progress_md = client.predict(pid, problem.answer, book, progress,
                                                                     api_name="/practice_submit")
    assert feedback.startswith("✅") and progress["correct"] == 1 and "correct **1**" in progress_md
