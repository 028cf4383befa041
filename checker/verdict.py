"""The checker's inputs and outputs: per-problem :class:`Rules`, the internal :class:`Outcome`, the :class:`Verdict`.

``Rules`` are validated once (a wrong rule is a programming or configuration error and raises
``engine.errors.SettingsError`` with the allowed values); student input never raises anywhere in the checker.
Not covered: how verdicts are reached (``checker.compare``) or worded (``checker.feedback``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import SettingsError

FORMS = ("factored", "expanded", "simplified", "exact", "decimal")
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*$")


@dataclass(frozen=True)
class Rules:
    """Per-problem rules. ``tolerance``: an absolute number (``0.01``) or a relative one as text (``"1%"``);
    when set, a numeric answer within it is accepted instead of the significant-digits rule."""

    form: str | None = None
    tolerance: float | str | None = None
    units_required: bool = False

    def __post_init__(self) -> None:
        if self.form is not None and self.form not in FORMS:
            raise SettingsError(f"form must be one of {', '.join(FORMS)} (got {self.form!r}).")
        if self.tolerance is not None:
            if isinstance(self.tolerance, str):
                if not _RELATIVE.match(self.tolerance):
                    raise SettingsError(f"tolerance must be a number or a percentage like '1%' "
                                        f"(got {self.tolerance!r}).")
            elif isinstance(self.tolerance, bool) or not isinstance(self.tolerance, (int, float)) \
                    or not self.tolerance >= 0:
                raise SettingsError(f"tolerance must be a number ≥ 0 or a percentage like '1%' "
                                    f"(got {self.tolerance!r}).")
        if not isinstance(self.units_required, bool):
            raise SettingsError(f"units_required must be True or False (got {self.units_required!r}).")

    @classmethod
    def of(cls, **rules: Any) -> "Rules":
        unknown = sorted(set(rules) - {"form", "tolerance", "units_required"})
        if unknown:
            raise SettingsError(f"Unknown checker rule {unknown[0]!r}: use form=, tolerance= or units_required=.")
        return cls(**rules)

    def relative_tolerance(self) -> float | None:
        if isinstance(self.tolerance, str):
            return float(_RELATIVE.match(self.tolerance).group(1)) / 100  # type: ignore[union-attr]
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """What comparison decided, before wording: a reason code and details (LaTeX snippets) for the feedback."""

    equivalent: bool
    reason: str
    detail: tuple[tuple[str, str], ...] = ()

    def get(self, key: str, default: str = "") -> str:
        return dict(self.detail).get(key, default)


def outcome(equivalent: bool, reason: str, **detail: str) -> Outcome:
    return Outcome(equivalent, reason, tuple(sorted(detail.items())))


@dataclass(frozen=True)
class Verdict:
    """The result of one check. ``parsed_answer`` / ``parsed_reference`` are LaTeX of what was understood
    (``None`` when it could not be read). ``reason`` is a stable code (``correct``, ``incorrect``, ``sign``,
    ``roots``, ``endpoints``, ``units_*``, ``form_*``, ``precision``, ``unreadable``, ``timeout`` …)."""

    equivalent: bool
    feedback: str
    parsed_answer: str | None = None
    parsed_reference: str | None = None
    timed_out: bool = False
    reason: str = "incorrect"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
