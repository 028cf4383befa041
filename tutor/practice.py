"""Practice-problem actions as pure functions over plain values (what the tutor panel's handlers call).

State lives in the browser as plain data: the current problem id (str), the hint book (``tutor.hints``) and the
progress dict (``tutor.progress``). Each action takes them and returns new ones plus Markdown to show:
:func:`new_problem` ("New problem" with topic and difficulty filters), :func:`take_hint` (next hint level),
:func:`submit_answer` (check with ``checker.check_answer`` and the problem's rules, update hints and progress).
The answer is shown once released (solved, or every hint used). Not covered: Gradio wiring (``ui.tutor_panel``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checker import check_answer
from tutor import hints as ladder
from tutor.bank import TOPIC_LABELS, Bank, Problem
from tutor.progress import normalise, record_attempt

MAX_ANSWER_CHARS = 2000
_WORDS = {
    "en": {"none": "No problem matches these filters: choose another topic or difficulty.",
           "pick": "Choose a topic and press **New problem**.", "answer": "Answer", "no_more": "No more hints.",
           "empty": "Type your answer first.", "too_long": "That answer is too long.",
           "no_problem": "Start a practice problem first (**New problem**).", "difficulty": "difficulty"},
    "zh": {"none": "没有符合条件的题目：请换一个主题或难度。", "pick": "选择主题后点击 **换一题**。", "answer": "答案",
           "no_more": "提示已经全部用完。", "empty": "请先输入你的答案。", "too_long": "答案太长了。",
           "no_problem": "请先开始一道练习题（**换一题**）。", "difficulty": "难度"},
}


def _w(lang: str) -> dict[str, str]:
    return _WORDS.get(lang, _WORDS["en"])


def message(key: str, lang: str = "en") -> str:
    """A fixed panel message ("none", "pick", "no_more", "empty", "too_long", "no_problem")."""
    return _w(lang)[key]


@dataclass(frozen=True)
class Submission:
    correct: bool
    feedback: str  # Markdown
    book: dict[str, Any]
    progress: dict[str, Any]
    state: ladder.HintState


def problem_markdown(problem: Problem | None, lang: str = "en") -> str:
    if problem is None:
        return _w(lang)["pick"]
    topic = TOPIC_LABELS.get(lang, TOPIC_LABELS["en"]).get(problem.topic, problem.topic)
    return f"**{topic}** · {_w(lang)['difficulty']}: {problem.difficulty}\n\n{problem.statement}"


def hints_markdown(problem: Problem | None, state: ladder.HintState, lang: str = "en") -> str:
    """The hints revealed so far, then the answer once released."""
    if problem is None:
        return ""
    lines = [f"**{h.label}:** {h.text}" for h in ladder.revealed(state, problem.hints, lang)]
    if state.released:
        lines.append(f"**{_w(lang)['answer']}:** \\({problem.answer}\\)")
    return "\n\n".join(lines)


def new_problem(bank: Bank, topic: str | None, difficulty: str | None, progress: Mapping[str, Any] | None,
                current: str | None = None, rng: random.Random | None = None) -> Problem | None:
    """A problem matching the filters, preferring ones not solved yet and not the current one."""
    solved = normalise(progress)["solved"]
    return bank.pick(topic, difficulty, avoid=set(solved), current=current, rng=rng)


def take_hint(problem: Problem | None, book: Mapping[str, Any] | None, lang: str = "en"
              ) -> tuple[dict[str, Any], ladder.HintState, str]:
    """Reveal the next hint of ``problem``: (new hint book, its state, hints Markdown)."""
    if problem is None:
        return dict(book or {}), ladder.HintState(), _w(lang)["no_problem"]
    state = ladder.get_state(book, problem.id)
    state, shown = ladder.reveal_next(state, problem.hints, lang)
    new_book = ladder.put_state(book, state)
    text = hints_markdown(problem, state, lang)
    if shown is None:
        text = f"{text}\n\n*{_w(lang)['no_more']}*"
    return new_book, state, text


def submit_answer(problem: Problem | None, answer: str, book: Mapping[str, Any] | None,
                  progress: Mapping[str, Any] | None, lang: str = "en") -> Submission:
    """Check the student's answer to ``problem`` with its rules and record the attempt."""
    state = ladder.get_state(book, problem.id) if problem else ladder.HintState()
    answer = (answer or "").strip()
    if problem is None or not answer or len(answer) > MAX_ANSWER_CHARS:
        why = "no_problem" if problem is None else "empty" if not answer else "too_long"
        return Submission(False, _w(lang)[why], dict(book or {}), normalise(progress), state)
    verdict = check_answer(answer, problem.answer, **problem.check_rules())
    if verdict.timed_out or verdict.reason in ("unreadable", "too_long", "too_deep", "too_large"):
        return Submission(False, f"⏱️ {verdict.feedback}" if verdict.timed_out else f"❓ {verdict.feedback}",
                          dict(book or {}), normalise(progress), state)  # not an attempt: nothing was judged
    state = ladder.record_answer(state, verdict.equivalent)
    icon = "✅" if verdict.equivalent else "❌"
    lines = [f"{icon} {verdict.feedback}"]
    return Submission(verdict.equivalent, "\n\n".join(lines), ladder.put_state(book, state),
                      record_attempt(progress, problem.id, problem.topic, verdict.equivalent), state)


def mark_solved(book: Mapping[str, Any] | None, problem_id: str) -> dict[str, Any]:
    """The hint book after the student's answer to ``problem_id`` checked out elsewhere (in the chat)."""
    return ladder.put_state(book, ladder.record_answer(ladder.get_state(book, problem_id), True))
