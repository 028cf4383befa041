"""The checker's table of (answer, reference, rules, expected) cases, run through the real worker pool.

The cases live in ``tests/checker_cases.py``: every input form from the issue (plain text, unicode, LaTeX, sets,
equations, intervals, points, matrices, complex numbers, percentages, decimals, fractions, mixed numbers,
scientific notation, degrees, units, antiderivatives) with near misses next to the hits.
"""

from __future__ import annotations

import pytest

import checker
from tests.checker_cases import CASES


def test_table_is_large_and_varied():
    assert len(CASES) >= 200
    accepted = sum(1 for *_, e in CASES if e is True or e == "correct")
    assert 80 <= accepted <= len(CASES) - 80  # near misses as well as hits
    assert len({e for *_, e in CASES if isinstance(e, str)}) >= 20  # many distinct reasons are exercised


@pytest.mark.parametrize("answer, reference, rules, expected", CASES,
                         ids=[f"{i}:{a[:20]}~{r[:20]}" for i, (a, r, _, _) in enumerate(CASES)])
def test_case(answer, reference, rules, expected):
    verdict = checker.check_answer(answer, reference, **rules)
    assert not verdict.timed_out
    if isinstance(expected, bool):
        assert verdict.equivalent is expected, verdict
    else:
        assert (verdict.reason, verdict.equivalent) == (expected, expected == "correct"), verdict
    if verdict.reason not in ("unreadable", "bad_reference"):
        assert verdict.parsed_answer and verdict.parsed_reference
        assert "We read your answer as" in verdict.feedback
    if verdict.equivalent:
        assert verdict.feedback.startswith("Correct ✓")
