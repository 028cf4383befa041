"""Symbolic answer checking for the tutor: safe parsing, tutoring-grade equivalence, feedback, isolated workers.

Public API::

    check_answer(answer, reference, **rules) -> Verdict   # never raises on student input
    extract_final_answer(text) -> str | None              # \\boxed{…}, "The answer is …", "最终答案是…"
    python -m checker ANSWER REFERENCE [--form F] [--tolerance T] [--units-required]   # prints JSON

What "equivalent" means (details in docs/checker.md and in each module's docstring):

* Expressions are equal when exactly equal, or when they agree at 8 pseudo-random points (30 digits); a
  difference at any point where both are defined means "not equal" whatever sympy's ``simplify`` says, and
  ``simplify(a - r) == 0`` decides only where too few points are usable. Constants compare exactly when
  rational (``1/2^99`` ≠ ``1/2^98``, ``1/2004!`` ≠ ``1/2006!``) and to 45 of 60 digits otherwise.
* Decimals: a decimal answer to an exact reference must equal the reference rounded (or truncated) at its last
  digit and have at least 3 significant figures (``0.866`` ≡ ``√3/2``, ``3.14159`` ≡ ``π``; ``0.87`` is too
  rough). ``tolerance=`` replaces this rule with an absolute (``0.01``) or relative (``"1%"``) tolerance.
* Solutions compare as sets (``x = 2 or x = 3`` ≡ ``{3, 2}`` ≡ ``x=3, x=2``); ``±`` expands; missing and extra
  roots are named. Equations match when proportional (``2x+4y-3=0`` ≡ ``y = -x/2 + 3/4``) or, in one variable,
  with the same real solutions. Inequalities and intervals compare as real sets (``x ≥ 3`` ≡ ``[3, ∞)``);
  open and closed endpoints matter. ``(a, b)`` is a point or an open interval, as the reference decides.
* ``25%`` is 0.25; ``30°`` is π/6 (a bare 30 for π/6 is 30 radians). Units convert through
  ``sympy.physics.units`` (``5 cm`` ≡ ``0.05 m``, ``10 cm`` ≠ ``10 m``); units are optional unless
  ``units_required=True``.
* Antiderivatives (a reference with ``+ C``) are equal up to a constant; a missing ``+ C`` is named.
* ``form=`` rules: ``factored``, ``expanded``, ``simplified``, ``exact``, ``decimal`` (``x^2-1`` is not an
  answer to "factor x^2-1").

Safety: user text is never passed to eval/sympify/parse_expr. Plain text goes through a whitelisted tokenizer
(``checker.lexer``, ``checker.plain``), LaTeX through latex2sympy2_extended's grammar (``checker.latex``).
Parsing and comparison run in worker processes (``checker.pool``) with a per-check time limit (2 s) and a memory
limit; input over 2,000 characters is refused. Modules: ``parse`` (text → value), ``compare`` (equivalence),
``feedback`` (wording), ``pool``/``worker`` (isolation), ``api`` (``check_answer``).
"""

from checker.api import check_answer
from checker.extract import extract_final_answer
from checker.pool import CheckerPool, default_pool
from checker.verdict import FORMS, Rules, Verdict
from checker.verify import Verification, verify_solution

__all__ = [
    "FORMS",
    "CheckerPool",
    "Rules",
    "Verdict",
    "Verification",
    "check_answer",
    "default_pool",
    "extract_final_answer",
    "verify_solution",
]
