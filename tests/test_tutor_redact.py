"""Socratic withholding enforced by the app: the final answer is hidden until released, the rest is kept."""

from __future__ import annotations

import pytest

from checker import extract_final_answer
from tutor.redact import HIDDEN_BOXED, redact_final_answer

CASES = [
    (r"Factor: \((x-2)(x-3)=0\). So \boxed{x = 2 \text{ or } x = 3}. Check it!", "x = 2", "Check it!"),
    ("The answer is 12 apples. Great job.", "12", "Great job."),
    ("**Answer:** $x = 5$\nNext we check it.", "x = 5", "Next we check it."),
    ("Final answer:\n\n$$x=3$$\nmore", "x=3", "more"),
    ("所以最终答案是 12。你觉得呢？", "12", "你觉得呢"),
    ("答案：\\(x = 7\\)", "x = 7", "答案"),
    (r"\[\boxed{\frac{19}{12}}\]", "19", r"\["),
    (r"Nested \boxed{\frac{\sqrt{3}}{2}} stays hidden", "sqrt", "stays hidden"),
]


@pytest.mark.parametrize("text,secret,kept", CASES)
def test_final_answer_is_hidden_and_the_rest_kept(text: str, secret: str, kept: str) -> None:
    hidden = redact_final_answer(text, released=False)
    assert secret not in hidden and kept in hidden
    assert extract_final_answer(hidden) != extract_final_answer(text)
    assert redact_final_answer(text, released=True) == text


def test_streaming_partial_box_is_hidden() -> None:
    assert redact_final_answer(r"so \boxed{\frac{1}{", released=False) == "so " + HIDDEN_BOXED
    assert redact_final_answer("The answer is", released=False) == "The answer is"


def test_talk_about_the_students_answer_is_not_hidden() -> None:
    text = "Your answer is not quite right. What do you get for 2 + 3?"
    assert redact_final_answer(text, released=False) == text


def test_text_without_an_answer_is_unchanged() -> None:
    text = r"What do you notice about \(x^2 - 5x + 6\)? Which two numbers multiply to 6?"
    assert redact_final_answer(text, released=False) == text
    assert redact_final_answer("", released=False) == ""
