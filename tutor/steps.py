"""Check my work: each line of a student's working checked against the line before it with ``check_answer``.

``check_steps(lines)`` (a list of lines, or one text) cleans each line (numbering, "so", "⇒", math delimiters),
then compares consecutive steps: an equation or inequality with the previous one (same solution set: ``2x + 3 = 7``
→ ``2x = 4`` → ``x = 2``), an expression with the previous expression (``= x^2 + 2x + 1`` continues the line above;
``a = b = c`` checks ``a ≡ b`` and ``b ≡ c``). A relation after an expression (or the reverse) starts a new chain
rather than being judged; lines the checker cannot read are skipped (prose). The report names the first step that
breaks, with the checker's feedback, and can be phrased for the model (:meth:`StepReport.note`).
Not covered: explaining the mistake (the model does, in check-my-work mode).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import prompts
from checker import Verdict, check_answer

MAX_LINES = 40
_LEAD = re.compile(r"^\s*(?:(?:step\s*)?\d+\s*[.):]\s+|[-*•]\s+|第\s*\d+\s*步\s*[:：]?\s*|"
                   r"(?:so|thus|therefore|hence|then|=>|⇒|⟹|→|\\implies|\\Rightarrow|\\therefore|所以|因此|即|得)"
                   r"\s*[,:：，]?\s*)+", re.IGNORECASE)
_RELATION = re.compile(r"(?<![<>!=\\])=(?!=)|<|>|≤|≥|\\le(?:q)?\b|\\ge(?:q)?\b|\\lt\b|\\gt\b|\\neq\b")
_DELIMS = re.compile(r"^\s*(?:\$\$|\$|\\\(|\\\[)|(?:\$\$|\$|\\\)|\\\])\s*$")


@dataclass(frozen=True)
class StepCheck:
    """``index``: the line's position in the input; ``status``: ``start`` (first step of a chain), ``ok``,
    ``broken``, ``unreadable`` (skipped: prose or not math) or ``skipped`` (not comparable with the step before)."""

    index: int
    text: str
    status: str
    feedback: str = ""
    previous: str | None = None


@dataclass(frozen=True)
class StepReport:
    steps: tuple[StepCheck, ...]
    first_broken: int | None  # index (in the input lines) of the first step that does not follow

    @property
    def all_ok(self) -> bool:
        return self.first_broken is None and any(s.status == "ok" for s in self.steps)

    def broken(self) -> StepCheck | None:
        return next((s for s in self.steps if s.index == self.first_broken and s.status == "broken"), None)

    def summary(self, lang: str = "en") -> str:
        bad = self.broken()
        checked = sum(s.status == "ok" for s in self.steps)
        if lang == "zh":
            if bad is not None:
                return (f"第 {bad.index + 1} 行 \\({bad.text}\\) 不能从上一步 \\({bad.previous}\\) 推出。"
                        f"核对器的反馈：{bad.feedback}")
            return f"逐行核对了 {checked} 步，每一步都正确。" if checked else "没有找到可以逐行核对的数学步骤。"
        if bad is not None:
            return (f"line {bad.index + 1}, \\({bad.text}\\), does not follow from the step before it, "
                    f"\\({bad.previous}\\). The checker says: {bad.feedback}")
        return (f"{checked} step(s) checked line by line; every step follows from the one before." if checked
                else "no math steps that could be checked line by line were found.")

    def note(self, lang: str = "en") -> str:
        """The report as text for the model (prompts/steps_report_<lang>.txt)."""
        return prompts.load(f"steps_report_{'zh' if lang == 'zh' else 'en'}").format(summary=self.summary(lang))


def _clean(line: str) -> str:
    line = _LEAD.sub("", line.strip())
    for _ in range(2):
        line = _DELIMS.sub("", line).strip()
    return line.rstrip(" .,;。，；")


def _is_relation(text: str) -> bool:
    return bool(_RELATION.search(text))


_LONE_EQ = re.compile(r"(?<![<>!=\\])=(?!=)")
_INEQ = re.compile(r"<|>|≤|≥|\\le(?:q)?\b|\\ge(?:q)?\b|\\lt\b|\\gt\b|\\neq\b|!=")
_RANK = {"start": 0, "skipped": 1, "ok": 2, "unreadable": 3, "broken": 4}


def _steps(text: str, prev_is_expression: bool, next_continues: bool) -> list[str]:
    """The steps on one line: ``= b`` continues the step above; ``a = b = c`` (or ``a = b`` under an expression,
    or above a line starting with ``=``) is a chain of expressions; anything else is one step."""
    if text.startswith("=") and not text.startswith("=="):
        return [text[1:].strip()]
    parts = [p.strip() for p in _LONE_EQ.split(text)]
    if not _INEQ.search(text) and all(parts) and (
            len(parts) >= 3 or (len(parts) == 2 and (prev_is_expression or next_continues))):
        return parts
    return [text]


Checker = Callable[[str, str], Verdict]


def check_steps(lines: Sequence[str] | str, check: Checker | None = None) -> StepReport:
    """Check consecutive steps. ``check(answer, reference)`` defaults to ``checker.check_answer``."""
    check = check or (lambda a, r: check_answer(a, r))
    raw = lines.splitlines() if isinstance(lines, str) else list(lines)
    cleaned = [(i, _clean(line)) for i, line in enumerate(raw[:MAX_LINES])]
    cleaned = [(i, t) for i, t in cleaned if t]
    results: list[StepCheck] = []
    first_broken: int | None = None
    prev: str | None = None  # the last readable step
    prev_is_relation = False
    for k, (index, text) in enumerate(cleaned):
        next_continues = k + 1 < len(cleaned) and cleaned[k + 1][1].startswith("=")
        status, feedback, against = "start", "", prev
        for step in _steps(text, prev is not None and not prev_is_relation, next_continues):
            relation = _is_relation(step)
            if prev is None or relation != prev_is_relation:
                verdict = check(step, step)  # a new chain: is the step readable at all?
                if not verdict.equivalent:
                    status, feedback = "unreadable", verdict.feedback
                    break
                status = max(status, "start" if prev is None else "skipped", key=_RANK.get)
                prev, prev_is_relation = step, relation
                continue
            verdict = check(step, prev)
            if verdict.parsed_answer is None or verdict.timed_out:
                status, feedback = "unreadable", verdict.feedback
                break
            against = prev
            prev, prev_is_relation = step, relation
            if not verdict.equivalent:
                status, feedback = "broken", verdict.feedback
                break
            status = max(status, "ok", key=_RANK.get)
        results.append(StepCheck(index, text, status, feedback, against))
        if status == "broken" and first_broken is None:
            first_broken = index
    return StepReport(tuple(results), first_broken)
