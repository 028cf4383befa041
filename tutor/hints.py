"""The hint ladder and the answer-release rule, as pure state that round-trips through a plain dict.

Four levels, revealed one at a time per problem: nudge, key idea, next step, worked step. The final answer is
*released* when the student's own answer checks out, or after the last hint. :class:`HintState` is one problem's
state; a *hint book* (``dict[problem_id, dict]``, what the page keeps in ``gr.BrowserState``) holds the state of
every problem seen, so hints stay with their problem when the student switches back and forth.
Everything returns new values; nothing is mutated. Not covered: hint texts (``tutor.bank``), checking answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import prompts

LEVELS = ("nudge", "key_idea", "next_step", "worked_step")
LEVEL_LABELS = {"en": ("Nudge", "Key idea", "Next step", "Worked step"),
                "zh": ("提示", "关键思路", "下一步", "示范步骤")}
MAX_BOOK = 300  # problems remembered in a hint book (the oldest are forgotten first)


@dataclass(frozen=True)
class Hint:
    level: int  # 0-based
    name: str  # one of LEVELS
    label: str
    text: str


@dataclass(frozen=True)
class HintState:
    """``shown``: hints revealed so far (0–4); ``solved``: the student's answer checked out."""

    problem_id: str = ""
    shown: int = 0
    solved: bool = False
    attempts: int = 0

    @property
    def released(self) -> bool:
        """The answer-release rule: solved, or every hint used."""
        return self.solved or self.shown >= len(LEVELS)

    @property
    def next_level(self) -> str | None:
        return LEVELS[self.shown] if self.shown < len(LEVELS) else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, problem_id: str = "") -> "HintState":
        """Tolerant of whatever the browser kept: bad or missing fields give a fresh state."""
        if not isinstance(data, Mapping):
            return cls(problem_id)
        try:
            shown = min(max(int(data.get("shown", 0)), 0), len(LEVELS))
            attempts = max(int(data.get("attempts", 0)), 0)
        except (TypeError, ValueError):
            return cls(problem_id)
        return cls(str(data.get("problem_id") or problem_id), shown, bool(data.get("solved", False)), attempts)


def hint(level: int, texts: Sequence[str], lang: str = "en") -> Hint:
    labels = LEVEL_LABELS.get(lang, LEVEL_LABELS["en"])
    return Hint(level, LEVELS[level], labels[level], texts[level])


def reveal_next(state: HintState, texts: Sequence[str], lang: str = "en") -> tuple[HintState, Hint | None]:
    """Reveal the next hint; ``None`` (state unchanged) when all four are shown."""
    if state.shown >= min(len(LEVELS), len(texts)):
        return state, None
    return replace(state, shown=state.shown + 1), hint(state.shown, texts, lang)


def revealed(state: HintState, texts: Sequence[str], lang: str = "en") -> list[Hint]:
    """The hints shown so far, in order."""
    return [hint(i, texts, lang) for i in range(min(state.shown, len(texts)))]


def record_answer(state: HintState, correct: bool) -> HintState:
    """The student submitted an answer; a correct one releases the final answer (for good)."""
    return replace(state, attempts=state.attempts + 1, solved=state.solved or correct)


def hint_request(level: int, lang: str = "en") -> str:
    """For a chat question that is not from the bank: the message asking the model for hint ``level`` (0–3)."""
    lines = prompts.load(f"hint_request_{'zh' if lang == 'zh' else 'en'}").splitlines()
    return lines[min(max(level, 0), len(LEVELS) - 1)]


def get_state(book: Mapping[str, Any] | None, problem_id: str) -> HintState:
    """This problem's state in a hint book (fresh when absent or unreadable)."""
    data = book.get(problem_id) if isinstance(book, Mapping) else None
    state = HintState.from_dict(data, problem_id)
    return replace(state, problem_id=problem_id)


def put_state(book: Mapping[str, Any] | None, state: HintState) -> dict[str, Any]:
    """A new hint book with ``state`` stored (most recent last; at most :data:`MAX_BOOK` problems)."""
    new = {k: v for k, v in (book or {}).items() if k != state.problem_id} if isinstance(book, Mapping) else {}
    new[state.problem_id] = state.to_dict()
    while len(new) > MAX_BOOK:
        new.pop(next(iter(new)))
    return new
