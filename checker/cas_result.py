"""The CAS's result as it crosses the process boundary: a frozen dataclass that turns into a dict and back.

Kept apart from ``checker.cas`` so that the app process can read results without importing sympy.
Not covered: computing results (``checker.cas``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class CasResult:
    """``question``: LaTeX of what sympy computed; ``expected``: its answer as LaTeX; ``references``: answer
    strings for ``check_answer`` (a reply matching any one is right); ``form``: the checker form rule."""

    op: str
    question: str
    expected: str
    references: tuple[str, ...]
    form: str | None = None
    lang: str = "en"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CasResult":
        return cls(data["op"], data["question"], data["expected"], tuple(data["references"]), data.get("form"),
                   data.get("lang", "en"))
