"""Check my work: consecutive lines checked with the real checker; the first step that breaks is named."""

from __future__ import annotations

import pytest

from tutor.steps import check_steps

CASES = [
    ("2x + 3 = 7\n2x = 10\nx = 5", 1),  # arithmetic slip
    ("2x + 3 = 7\n2x = 4\nx = 2", None),
    ("(x+1)^2\n= x^2 + 2x + 1\n= x^2 + 2x + 2", 2),
    ("Step 1: x^2 - 5x + 6 = 0\nStep 2: (x-2)(x-3) = 0\nSo x = 2", 2),  # a root dropped
    ("3(x+2) - 4 = 3x + 6 - 4 = 3x + 2", None),  # a chain on one line
    ("3(x+2) - 4 = 3x + 2 - 4 = 3x - 2", 0),  # the chain breaks inside the line
    ("$3x - 7 > 8$\n$3x > 15$\n$x < 5$", 2),  # inequality direction
    ("-2x > 6\nx < -3", None),  # the sign flip done right
    ("x^2 = 9\nx = 3", 1),
    ("1. 5(x - 1) = 2x + 7\n2. 5x - 5 = 2x + 7\n3. 3x = 12\n4. x = 4", None),
]


@pytest.mark.parametrize("work,first_broken", CASES)
def test_first_broken_step(work: str, first_broken: int | None) -> None:
    report = check_steps(work)
    assert report.first_broken == first_broken, report
    if first_broken is None:
        assert report.all_ok and report.broken() is None
    else:
        bad = report.broken()
        assert bad is not None and bad.index == first_broken and bad.feedback and bad.previous


def test_prose_lines_are_skipped_not_judged() -> None:
    report = check_steps(["First I move the 3 across.", "2x + 3 = 7", "2x = 4", "then halve both sides", "x = 2"])
    assert report.first_broken is None
    assert [s.status for s in report.steps] == ["unreadable", "start", "ok", "unreadable", "ok"]


def test_report_note_names_the_step_for_the_model() -> None:
    report = check_steps("x^2 - 5x + 6 = 0\n(x-2)(x-3) = 0\nx = 2")
    note = report.note("en")
    assert "line 3" in note and "missed" in note
    assert "第 3 行" in report.note("zh")
    ok = check_steps("2x + 3 = 7\n2x = 4")
    assert "every step follows" in ok.note("en") and "每一步都正确" in ok.note("zh")


def test_nothing_to_check() -> None:
    report = check_steps("")
    assert report.steps == () and report.first_broken is None and not report.all_ok
