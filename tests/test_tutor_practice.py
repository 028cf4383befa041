"""Practice actions and progress bookkeeping: new problem, hints, answers, streaks — plain values in and out."""

from __future__ import annotations

import json
import random

from tutor import practice
from tutor.bank import default_bank
from tutor.hints import get_state
from tutor.progress import new_progress, normalise, record_attempt, summary

BANK = default_bank()
QUAD = BANK.get("quadratics-01")


def test_new_problem_respects_filters_and_prefers_unsolved() -> None:
    rng = random.Random(3)
    p = practice.new_problem(BANK, "limits", "hard", None, rng=rng)
    assert p is not None and (p.topic, p.difficulty) == ("limits", "hard")
    hard_limits = [q.id for q in BANK.filter("limits", "hard")]
    progress = {"solved": hard_limits[:-1]}
    for _ in range(5):
        assert practice.new_problem(BANK, "limits", "hard", progress, rng=rng).id == hard_limits[-1]
    assert practice.new_problem(BANK, "nope", "easy", None) is None


def test_hints_then_release_shows_the_answer() -> None:
    book: dict = {}
    for i in range(4):
        assert "Answer" not in practice.hints_markdown(QUAD, get_state(book, QUAD.id))
        book, state, text = practice.take_hint(QUAD, book)
        assert QUAD.hints[i] in text and state.shown == i + 1
    assert state.released and f"\\({QUAD.answer}\\)" in text
    book, state, text = practice.take_hint(QUAD, book)
    assert "No more hints" in text
    assert json.loads(json.dumps(book)) == book  # BrowserState-safe


def test_submit_right_and_wrong_answers_updates_progress_and_streak() -> None:
    book, progress = {}, new_progress()
    wrong = practice.submit_answer(QUAD, QUAD.distractor, book, progress)
    assert not wrong.correct and wrong.feedback.startswith("❌") and not wrong.state.released
    assert (wrong.progress["attempted"], wrong.progress["correct"], wrong.progress["streak"]) == (1, 0, 0)
    right = practice.submit_answer(QUAD, QUAD.answer, wrong.book, wrong.progress)
    assert right.correct and right.feedback.startswith("✅") and right.state.released
    assert (right.progress["attempted"], right.progress["correct"], right.progress["streak"]) == (1, 1, 1)
    again = practice.submit_answer(QUAD, QUAD.answer, right.book, right.progress)
    assert (again.progress["attempted"], again.progress["correct"], again.progress["streak"]) == (1, 1, 2)
    assert again.progress["by_topic"]["quadratics"] == {"attempted": 1, "correct": 1}


def test_unreadable_or_empty_answers_are_not_attempts() -> None:
    for answer in ("", "2x+", "x" * 3000):
        result = practice.submit_answer(QUAD, answer, {}, new_progress())
        assert not result.correct and result.progress["attempted"] == 0
    assert "Start a practice problem" in practice.submit_answer(None, "3", {}, None).feedback


def test_chat_release_marks_the_problem_solved() -> None:
    book = practice.mark_solved({}, QUAD.id)
    assert get_state(book, QUAD.id).released


def test_progress_normalise_accepts_whatever_the_browser_kept() -> None:
    assert normalise(None) == new_progress()
    messy = {"attempted": "7", "correct": 99, "streak": -2, "solved": ["a", "a", 3, None], "tried": "x",
             "by_topic": {"limits": {"attempted": 2, "correct": 5}, 4: {}}, "evil": "<script>"}
    clean = normalise(messy)
    assert clean["solved"] == ["a", "3"] and clean["attempted"] == 7 and clean["correct"] == 7
    assert clean["streak"] == 0 and clean["by_topic"] == {"limits": {"attempted": 2, "correct": 2}}
    assert "evil" not in clean
    progress = record_attempt(clean, "new", "limits", True)
    assert progress["attempted"] == 8 and progress["streak"] == 1 and "new" in progress["solved"]
    assert "streak **1**" in summary(progress) and "连续答对" in summary(progress, "zh")
