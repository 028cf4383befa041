"""``check_answer``: the one call the app and outside evaluations make. Never raises on student input.

It validates the rules (a bad rule is a configuration error and raises ``SettingsError``), refuses over-long or
too deeply nested input at once, and runs the check in a worker of a :class:`~checker.pool.CheckerPool` (the
shared default pool unless one is passed), turning a time-out or a crashed worker into a verdict.
Not covered: the checking rules themselves (``checker.compare``), final-answer extraction (``checker.extract``).
"""

from __future__ import annotations

from typing import Any

from checker import feedback
from checker.pool import CheckerPool, CheckTimeout, PoolClosed, WorkerCrashed, WorkerStartError, default_pool
from checker.text import precheck
from checker.verdict import Rules, Verdict


def check_answer(answer: str, reference: str, *, pool: CheckerPool | None = None, timeout: float | None = None,
                 **rules: Any) -> Verdict:
    """Check ``answer`` against ``reference``.

    Rules: ``form="factored" | "expanded" | "simplified" | "exact" | "decimal"``, ``tolerance=0.01`` (absolute)
    or ``tolerance="1%"`` (relative), ``units_required=True``. ``timeout`` overrides the pool's per-check limit.
    """
    checked = Rules.of(**rules)
    answer = "" if answer is None else str(answer)
    reference = "" if reference is None else str(reference)
    problem = precheck(answer)
    if problem:
        return Verdict(False, feedback.refused(problem, len(answer)), reason=problem)
    if precheck(reference):
        return Verdict(False, feedback.bad_reference(reference), reason="bad_reference")
    try:
        result = (pool or default_pool()).run(answer, reference, checked.to_dict(), timeout=timeout)
    except CheckTimeout:
        return Verdict(False, feedback.refused("timeout"), timed_out=True, reason="timeout")
    except (WorkerStartError, PoolClosed):
        return Verdict(False, feedback.refused("error"), reason="error")
    except WorkerCrashed:
        return Verdict(False, feedback.refused("too_large"), reason="too_large")
    return Verdict(**result)
