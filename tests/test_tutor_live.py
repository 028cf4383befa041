"""The tutor on the real chat page (build_ui), through gradio_client: Socratic withholding, badges, practice."""

from __future__ import annotations

import pytest
from gradio_client import Client

from engine.fake import FakeEngine
from tutor import SOCRATIC, STEPS, TutorSettings
from ui import UIConfig, build_ui
from ui.render import message_text
from tests.fixtures.live import serve


@pytest.fixture()
def live():
    engine = FakeEngine(token_delay=0.0)
    demo = build_ui(engine, UIConfig(tutor=TutorSettings(default_mode=SOCRATIC)))
    url = serve(demo)
    client = Client(url, verbose=False)
    yield engine, client
    client.close()
    demo.close()


def _ask(client, text, history, mode=SOCRATIC, problem=""):
    history = client.predict(text, history, 0.7, 0.9, 512, mode, problem, api_name="/chat")
    return history, message_text(history[-1]["content"])


def test_socratic_answer_is_withheld_until_the_student_gets_it(live):
    engine, client = live
    answer = r"\boxed{x = 2 \text{ or } x = 3}"
    engine.enqueue(f"Which two numbers multiply to 6 and add to -5? (So {answer}.)",  # the model disobeys
                   "Not yet: check x = 3 too. The answer is x = 2 or x = 3.",
                   f"Well done, that is right: {answer}")
    history, shown = _ask(client, "Solve x^2 - 5x + 6 = 0", [])
    assert "Which two numbers" in shown and "x = 2 \\text" not in shown
    system = engine.calls[-1][0][0]["content"]
    assert "Never state the final answer" in system and "Tool result" in system  # grounded by sympy
    history, shown = _ask(client, "Is it x = 2?", history)  # half right: still hidden
    assert "x = 2 or x = 3" not in shown
    history, shown = _ask(client, "x = 3 or x = 2", history)
    assert "x = 2 \\text{ or } x = 3" in shown and "Verified by sympy" in shown


def test_step_by_step_wrong_answer_gets_a_sympy_badge(live):
    engine, client = live
    engine.enqueue(r"Factor: \((x-2)(x-3)=0\), so \boxed{x = 2}.")
    _, shown = _ask(client, "Solve x^2 - 5x + 6 = 0", [], mode=STEPS)
    assert "\\boxed{x = 2}" in shown and "sympy disagrees" in shown
