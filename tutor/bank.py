"""The practice bank: problems shipped as data (``tutor/bank.json``), loaded and validated once.

Each problem has an id, a topic, a difficulty, a statement (LaTeX allowed), a reference answer with its checker
rules (``form``, ``tolerance``, ``units_required``), four hints (nudge, key idea, next step, worked step) and a
``distractor`` — a near-miss wrong answer used by tests and the benchmark. :func:`load_bank` raises
``SettingsError`` naming the problem and field when the file is wrong. :meth:`Bank.pick` chooses a "New problem"
by topic and difficulty, preferring ones the student has not solved. The bank is written by
``tutor/generate_bank.py``. Not covered: checking answers (``checker``), progress (``tutor.progress``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from checker.verdict import Rules
from engine.errors import SettingsError

BANK_PATH = Path(__file__).resolve().parent / "bank.json"
TOPICS = ("arithmetic", "fractions_percentages", "linear_equations", "quadratics", "systems", "inequalities",
          "functions", "exponents_logs", "trigonometry", "derivatives", "integrals", "limits", "sequences")
TOPIC_LABELS = {
    "en": {"arithmetic": "Arithmetic", "fractions_percentages": "Fractions and percentages",
           "linear_equations": "Linear equations", "quadratics": "Quadratics", "systems": "Systems of equations",
           "inequalities": "Inequalities", "functions": "Functions", "exponents_logs": "Exponents and logarithms",
           "trigonometry": "Trigonometry", "derivatives": "Derivatives", "integrals": "Integrals",
           "limits": "Limits", "sequences": "Sequences"},
    "zh": {"arithmetic": "四则运算", "fractions_percentages": "分数与百分数", "linear_equations": "一次方程",
           "quadratics": "二次方程", "systems": "方程组", "inequalities": "不等式", "functions": "函数",
           "exponents_logs": "指数与对数", "trigonometry": "三角函数", "derivatives": "导数", "integrals": "积分",
           "limits": "极限", "sequences": "数列"},
}
DIFFICULTIES = ("easy", "medium", "hard")
ANY = "any"
_FIELDS = {"id", "topic", "difficulty", "statement", "answer", "rules", "hints", "distractor"}


@dataclass(frozen=True)
class Problem:
    id: str
    topic: str
    difficulty: str
    statement: str
    answer: str
    hints: tuple[str, str, str, str]
    rules: tuple[tuple[str, Any], ...] = ()  # (name, value) pairs for check_answer: form, tolerance, units_required
    distractor: str | None = None

    def check_rules(self) -> dict[str, Any]:
        """Keyword arguments for ``checker.check_answer``."""
        return dict(self.rules)


@dataclass(frozen=True)
class Bank:
    problems: tuple[Problem, ...]

    def get(self, problem_id: str | None) -> Problem | None:
        return next((p for p in self.problems if p.id == problem_id), None) if problem_id else None

    def filter(self, topic: str | None = None, difficulty: str | None = None) -> tuple[Problem, ...]:
        """Problems of ``topic`` and ``difficulty`` (``None`` or ``"any"`` matches all)."""
        return tuple(p for p in self.problems
                     if topic in (None, ANY, "", p.topic) and difficulty in (None, ANY, "", p.difficulty))

    def topics(self) -> tuple[str, ...]:
        return tuple(t for t in TOPICS if any(p.topic == t for p in self.problems))

    def pick(self, topic: str | None = None, difficulty: str | None = None, *, avoid: Collection[str] = (),
             current: str | None = None, rng: random.Random | None = None) -> Problem | None:
        """A "New problem": random among the matches, avoiding ``avoid`` (e.g. solved ids) and ``current``
        while others remain. ``None`` when nothing matches the filters."""
        matches = self.filter(topic, difficulty)
        if not matches:
            return None
        rng = rng or random.Random()
        fresh = [p for p in matches if p.id not in avoid and p.id != current]
        pool = fresh or [p for p in matches if p.id != current] or list(matches)
        return rng.choice(pool)


def round_robin(problems: Iterable[Problem], limit: int | None = None) -> list[Problem]:
    """``problems`` one topic at a time in turn (each topic in its own order), so a small ``limit`` still covers
    every topic; the order is fixed (benchmarks and the quality gate rely on it)."""
    by_topic: dict[str, list[Problem]] = {}
    for problem in problems:
        by_topic.setdefault(problem.topic, []).append(problem)
    order: list[Problem] = []
    while any(by_topic.values()):
        for queue in by_topic.values():
            if queue:
                order.append(queue.pop(0))
    return order[:limit] if limit else order


def _problem(entry: Any, index: int) -> Problem:
    where = f"Practice problem #{index + 1}"
    if not isinstance(entry, dict):
        raise SettingsError(f"{where} must be an object with {', '.join(sorted(_FIELDS))}.")
    where = f"Practice problem {entry.get('id', '#' + str(index + 1))!r}"
    unknown = set(entry) - _FIELDS
    if unknown:
        raise SettingsError(f"{where} has unknown field(s) {', '.join(sorted(unknown))}; allowed: "
                            f"{', '.join(sorted(_FIELDS))}.")
    for key in ("id", "topic", "difficulty", "statement", "answer"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise SettingsError(f"{where} needs a non-empty text field {key!r}.")
    if entry["topic"] not in TOPICS:
        raise SettingsError(f"{where}: topic must be one of {', '.join(TOPICS)} (got {entry['topic']!r}).")
    if entry["difficulty"] not in DIFFICULTIES:
        raise SettingsError(f"{where}: difficulty must be one of {', '.join(DIFFICULTIES)} "
                            f"(got {entry['difficulty']!r}).")
    hints = entry.get("hints")
    if not (isinstance(hints, list) and len(hints) == 4 and all(isinstance(h, str) and h.strip() for h in hints)):
        raise SettingsError(f"{where} needs exactly four non-empty hints (nudge, key idea, next step, worked step).")
    rules = entry.get("rules") or {}
    if not isinstance(rules, dict):
        raise SettingsError(f"{where}: rules must be an object like {{\"form\": \"factored\"}}.")
    try:
        Rules.of(**rules)
    except SettingsError as err:
        raise SettingsError(f"{where}: {err}") from None
    distractor = entry.get("distractor")
    if distractor is not None and not isinstance(distractor, str):
        raise SettingsError(f"{where}: distractor must be text.")
    return Problem(entry["id"], entry["topic"], entry["difficulty"], entry["statement"], entry["answer"],
                   tuple(hints), tuple(sorted(rules.items())), distractor)  # type: ignore[arg-type]


def parse_bank(data: Any) -> Bank:
    """Validate already-loaded JSON data (a list of problems, or ``{"problems": [...]}``)."""
    if isinstance(data, dict):
        data = data.get("problems")
    if not isinstance(data, list) or not data:
        raise SettingsError("The practice bank must be a non-empty list of problems.")
    problems = tuple(_problem(e, i) for i, e in enumerate(data))
    seen: set[str] = set()
    for p in problems:
        if p.id in seen:
            raise SettingsError(f"Practice problem id {p.id!r} appears twice; ids must be unique.")
        seen.add(p.id)
    return Bank(problems)


def load_bank(path: str | Path | None = None) -> Bank:
    """Read and validate a bank file (default: the shipped ``tutor/bank.json``)."""
    path = Path(path) if path else BANK_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"Practice bank {path} not found: regenerate it with "
                            "`python -m tutor.generate_bank`.") from None
    except json.JSONDecodeError as err:
        raise SettingsError(f"Practice bank {path} is not valid JSON (line {err.lineno}): fix or regenerate it.") \
            from None
    return parse_bank(data)


@lru_cache(maxsize=1)
def default_bank() -> Bank:
    """The shipped bank, loaded once."""
    return load_bank()
