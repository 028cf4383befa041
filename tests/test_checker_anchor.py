"""Where math-verify 0.9 (the anchor) goes wrong, and the checker does not.

Each case is checked with our checker (must be right) and, to document the anchor, with math-verify itself
(must still be wrong in 0.9; if a later version fixes it, that assertion is the one to drop). math-verify's
own timeouts use signal.alarm, so they are passed as None here.
"""

from __future__ import annotations

import pytest

import checker

# (reference, answer, right verdict, what math-verify 0.9 says)
ANCHORS = [
    ("10 m", "10 cm", False, True),  # units stripped
    ("1/2^98", "1/2^99", False, True),  # precision
    (r"$\frac{1}{2^{98}}$", r"$\frac{1}{2^{99}}$", False, True),
    ("x + 1 = 0", "x - 1 = 0", False, True),  # plain-text equations both parse to 0
    ("$f'(x)=2x$", "$f(x)=2x$", False, True),  # f'(x) read as f(x)
    (r"$\pi$", "3.14159", True, False),  # 6 significant digits that agree
    (r"$\frac{\sqrt{3}}{2}$", "0.866", True, False),
    ("$2$", r"$\sqrt(4)$", True, False),  # cannot parse \sqrt(4)
]


@pytest.mark.parametrize("reference, answer, right, _", ANCHORS)
def test_checker_gets_the_anchor_cases_right(reference, answer, right, _):
    verdict = checker.check_answer(answer, reference)
    assert verdict.equivalent is right, verdict
    assert verdict.parsed_answer is not None


@pytest.mark.parametrize("reference, answer, _, math_verify_says", ANCHORS)
def test_math_verify_09_gets_them_wrong(reference, answer, _, math_verify_says):
    math_verify = pytest.importorskip("math_verify")
    gold = math_verify.parse(reference, parsing_timeout=None)
    pred = math_verify.parse(answer, parsing_timeout=None)
    assert math_verify.verify(gold, pred, timeout_seconds=None) is math_verify_says


def test_checker_names_what_is_wrong_in_the_anchor_cases():
    assert checker.check_answer("10 cm", "10 m").reason == "units_value"
    assert checker.check_answer("f(x)=2x", "f'(x)=2x").reason == "label"
    assert checker.check_answer("0.87", r"\frac{\sqrt3}{2}").reason == "precision"
