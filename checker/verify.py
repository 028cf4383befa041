"""CAS-grounded replies: does the model's final answer agree with what sympy computes for the question?

    verify_solution(problem, response) -> Verification   # .status: "verified" | "disputed" | "unknown"
    compute(problem) -> CasResult | None                 # sympy's answer alone (for grounding the model)

``compute`` recognises the question (solve, systems, derivative, integral, limit, simplify, factor, expand,
evaluate; English or Chinese, plain text or LaTeX) and computes the answer with sympy in a CAS worker process
(``checker.cas_pool``) under a time limit; math is parsed by the checker's safe parsers only. ``verify_solution``
takes the reply's final answer (``extract_final_answer``) and compares it with ``check_answer`` (with the form
rule for factor/expand/simplify). ``unknown`` is the honest answer whenever the question was not understood,
sympy could not answer it with confidence, the reply marks no final answer, or the checker could not read it.
Never raises on user text. Results of ``compute`` are cached per question text (a timed-out call is not cached), and
calls for a question already being computed wait for that answer instead of asking sympy again.
Not covered: recognising questions (``checker.cas_recognize``), computing (``checker.cas``).
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache

from checker.api import check_answer
from checker.cas_result import CasResult
from checker.cas_pool import CasPool, default_cas_pool
from checker.cas_recognize import MAX_PROBLEM_CHARS
from checker.extract import extract_final_answer
from checker.pool import CheckTimeout, PoolClosed, WorkerCrashed

_WHOLE_TEXT = re.compile(r"^\s*\\(?:text|textbf|mathrm)\s*\{([^{}]*)\}\s*$")
STATUSES = ("verified", "disputed", "unknown")
# Verdict reasons that mean "we could not read or judge the answer", not "the answer is wrong".
# An antiderivative without "+ C" is the right function: verified (the checker's feedback still names the + C).
_RIGHT_BUT = {"missing_constant"}
_UNJUDGED = {"unreadable", "too_large", "too_deep", "too_long", "timeout", "error", "bad_reference"}


@dataclass(frozen=True)
class Verification:
    """``expected``: sympy's answer as LaTeX (None when not computed); ``found``: the reply's final answer
    (None when it marks none); ``question``: LaTeX of what sympy computed; ``feedback``: the checker's words
    on ``found`` (empty when not compared)."""

    status: str
    expected: str | None = None
    found: str | None = None
    question: str | None = None
    feedback: str = ""


def _normalise_found(found: str) -> str:
    """Two spellings the checker's parser does not read yet (reported to its owner): "\\text{no real solution}"
    (it knows the words, not every \\text{} wrapping of them) and Chinese list words ("x=2 或 x=3")."""
    found = _WHOLE_TEXT.sub(r"\1", found).strip() or found
    return re.sub(r"\s*(?:或者|或)\s*", " or ", found).replace("，", ", ")


class _Transient(Exception):
    """The CAS pool timed out or crashed: do not cache, answer "unknown"."""


@lru_cache(maxsize=512)
def _cached(problem: str) -> CasResult | None:
    return _solve(problem, default_cas_pool(), None)


_inflight: dict[str, Future[CasResult | None]] = {}
_inflight_lock = threading.Lock()


def _shared(problem: str) -> CasResult | None:
    """:func:`_cached`, computed once for callers that ask at the same time: a class sent to the same practice
    problem asks sympy once, not once per student (``lru_cache`` lets each caller that misses compute the value).
    Hand-written: the standard library and the checker's dependencies have no single-flight cache."""
    with _inflight_lock:
        future = _inflight.get(problem)
        first = future is None
        if first:
            future = _inflight[problem] = Future()
    if not first:
        return future.result()  # the first caller's answer, or its exception (a time-out: "unknown" for all)
    try:
        result = _cached(problem)
    except BaseException as err:
        future.set_exception(err)
        raise
    finally:
        with _inflight_lock:
            _inflight.pop(problem, None)
    future.set_result(result)
    return result


def _solve(problem: str, pool: CasPool, timeout: float | None) -> CasResult | None:
    try:
        data = pool.solve(problem, timeout=timeout)
    except (CheckTimeout, WorkerCrashed, PoolClosed) as err:
        raise _Transient(str(err)) from None
    return None if data is None else CasResult.from_dict(data)


def compute(problem: str, *, pool: CasPool | None = None, timeout: float | None = None) -> CasResult | None:
    """sympy's answer to the question, or ``None`` (not understood, not trustworthy, or timed out)."""
    problem = (problem or "").strip()
    if not problem or len(problem) > MAX_PROBLEM_CHARS:
        return None
    try:
        if pool is None and timeout is None:
            return _shared(problem)
        return _solve(problem, pool or default_cas_pool(), timeout)
    except _Transient:
        return None


def verify_solution(problem: str, response: str, *, result: CasResult | None = None,
                    pool: CasPool | None = None, timeout: float | None = None) -> Verification:
    """Compare the final answer of ``response`` with sympy's answer to ``problem``.

    ``result`` reuses a :func:`compute` result (the app computes it before the model answers when grounding).
    """
    found = extract_final_answer(response or "")
    if found:
        found = _normalise_found(found)
    result = result if result is not None else compute(problem, pool=pool, timeout=timeout)
    if result is None:
        return Verification("unknown", None, found)
    if found is None:
        return Verification("unknown", result.expected, None, result.question)
    rules = {"form": result.form} if result.form else {}
    verdicts = [check_answer(found, reference, **rules) for reference in result.references]
    good = next((v for v in verdicts if v.equivalent or v.reason in _RIGHT_BUT), None)
    if good is not None:
        return Verification("verified", result.expected, found, result.question, good.feedback)
    first = verdicts[0]
    if first.timed_out or first.reason in _UNJUDGED or first.parsed_answer is None:
        return Verification("unknown", result.expected, found, result.question, first.feedback)
    return Verification("disputed", result.expected, found, result.question, first.feedback)
