"""Final answers in tutor replies: \\boxed{…} with nested braces, answer phrases in English and Chinese."""

from __future__ import annotations

import pytest

from checker import extract_final_answer

CASES = [
    (r"So the result is \boxed{42}.", "42"),
    (r"We get \boxed{\frac{\sqrt{3}}{2}} at the end.", r"\frac{\sqrt{3}}{2}"),
    (r"First \boxed{1}, then finally \boxed{x^{2} + \frac{1}{2}}", r"x^{2} + \frac{1}{2}"),
    (r"$$\boxed{\{1, 2\}}$$", r"\{1, 2\}"),
    (r"\fbox{7}", "7"),
    ("The answer is 3.5.", "3.5"),
    ("Therefore, the answer is $x = 2$.", "x = 2"),
    ("The final answer is $\\frac{1}{2}$. I hope it is correct.", r"\frac{1}{2}"),
    ("So the answer is x = 2 or x = 3.", "x = 2 or x = 3"),
    ("The answer is $x = 2$ or $x = 3$.", "x = 2 or x = 3"),
    ("**Answer:** 12 cm", "12 cm"),
    ("Some working...\n\n**Answer:** $\\sqrt{2}$", r"\sqrt{2}"),
    ("**Final Answer:**\n$$x^2 - 1$$", "x^2 - 1"),
    ("Final answer: (-oo, 3]", "(-oo, 3]"),
    ("Answer: 5!", "5!"),
    ("因此，最终答案是 $x=3$。", "x=3"),
    ("最终答案是12", "12"),
    ("所以答案是 \\(\\frac{3}{4}\\)。", r"\frac{3}{4}"),
    ("答案：-1", "-1"),
    ("The answer is 4. This follows because 2 + 2 = 4.", "4"),
    (r"the answer is \boxed{5} and the answer is 6", "5"),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_extracts_the_final_answer(text, expected):
    assert extract_final_answer(text) == expected


@pytest.mark.parametrize("text", ["", "Let's think about this step by step.", r"\boxed{", "The answer is",
                                  "answers vary"])
def test_nothing_marked_gives_none(text):
    assert extract_final_answer(text) is None


def test_extracted_answer_checks():
    import checker

    reply = "Factor: $x^2 - 5x + 6 = (x-2)(x-3)$, so the final answer is $x = 2$ or $x = 3$."
    assert checker.check_answer("{3, 2}", extract_final_answer(reply)).equivalent
