"""What runs inside a checker worker process: the whole check (:func:`check_here`) and the serving loop.

:func:`check_here` parses both answers, compares them and words the verdict; it never raises (any failure
becomes a verdict) but has no time limit of its own — :mod:`checker.pool` runs it in a worker process, kills the
worker when a call takes too long, and caps the worker's memory with ``RLIMIT_AS``. :func:`serve` is the
process's entry point: set limits, import and warm up sympy and the LaTeX grammar, say "ready", then answer
``(answer, reference, rules)`` messages with verdict dicts until told to stop.
Not covered: the process pool itself (``checker.pool``), the public API (``checker.api``).
"""

from __future__ import annotations

from collections.abc import Callable

import os
import sys
from typing import Any

from checker import feedback
from checker.compare import compare
from checker.lexer import ParseError
from checker.nodes import TooLarge, exact
from checker.parse import Parsed, parse
from checker.values import Expr, Labelled, align_case
from checker.verdict import Rules, Verdict


def _units_agree(answer: Parsed, reference: Parsed, answer_text: str, reference_text: str) -> tuple[Parsed, Parsed]:
    """``4t`` reads as four tonnes only when the other side is not an expression in variables."""
    if answer.has_unit and not reference.has_unit and _has_variables(reference):
        return parse(answer_text, units=False), reference
    if reference.has_unit and not answer.has_unit and _has_variables(answer):
        return answer, parse(reference_text, units=False)
    return answer, reference


def _has_variables(p: Parsed) -> bool:
    value = p.value.inner if isinstance(p.value, Labelled) else p.value
    return isinstance(value, Expr) and bool(exact(value.tree).free_symbols)


def check_here(answer: str, reference: str, rules: Rules) -> Verdict:
    """The full check in this process (no time limit). Never raises."""
    try:
        ref = parse(reference)
    except (ParseError, TooLarge, RecursionError, MemoryError):
        return Verdict(False, feedback.bad_reference(reference), reason="bad_reference")
    except Exception:  # noqa: BLE001 - a sympy failure on a reference is reported, never raised
        return Verdict(False, feedback.bad_reference(reference), reason="bad_reference")
    try:
        ans = parse(answer)
    except ParseError as err:
        return Verdict(False, feedback.unreadable(err), None, ref.latex, reason="unreadable")
    except (TooLarge, MemoryError, OverflowError):
        return Verdict(False, feedback.refused("too_large"), None, ref.latex, reason="too_large")
    except RecursionError:
        return Verdict(False, feedback.refused("too_deep"), None, ref.latex, reason="too_deep")
    except Exception:  # noqa: BLE001 - sympy can fail on odd input; the student gets a message, not a crash
        return Verdict(False, feedback.unreadable(ParseError("generic", answer[:40])), None, ref.latex,
                       reason="unreadable")
    try:
        ans, ref = _units_agree(ans, ref, answer, reference)
        result = compare(align_case(ans.value, ref.value), ref.value, rules, ans.source)
    except (TooLarge, MemoryError, OverflowError):
        return Verdict(False, feedback.refused("too_large"), ans.latex, ref.latex, reason="too_large")
    except Exception:  # noqa: BLE001
        return Verdict(False, feedback.refused("error"), ans.latex, ref.latex, reason="error")
    return Verdict(result.equivalent, feedback.message(result, ans.latex), ans.latex, ref.latex,
                   reason=result.reason)


def _limit_memory(megabytes: int) -> None:
    """Cap this process's address space at its current size plus ``megabytes``."""
    try:
        import resource

        with open("/proc/self/status", encoding="ascii") as status:
            current_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
        limit = current_kb * 1024 + megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, StopIteration, ValueError):
        pass  # not Linux: the time limit still applies


def serve_requests(conn: Any, memory_mb: int, warm: Callable[[], object], handle: Callable[[Any], Any]) -> None:
    """The loop every worker process runs (the checker's and sympy's): interpreter limits, warm-up, the memory cap,
    then one reply per message until ``None`` arrives or the pipe closes."""
    sys.setrecursionlimit(5000)
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(100_000)  # numbers up to nodes.MAX_BITS print; larger ones are refused earlier
    warm()
    _limit_memory(memory_mb)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        conn.send(handle(message))


def _check_message(message: Any) -> dict[str, Any]:
    answer, reference, rules = message
    try:
        verdict = check_here(answer, reference, Rules(**rules))
    except MemoryError:
        verdict = Verdict(False, feedback.refused("too_large"), reason="too_large")
    return verdict.to_dict()


def _warm_checks() -> None:
    for warm in (("2x+1", "1+x*2"), (r"\frac{\sqrt{3}}{2}", "0.866"), ("x = 2 or x = 3", "{3, 2}"),
                 ("[1, 2)", "x >= 1"), ("5 cm", "0.05 m")):
        check_here(*warm, Rules())


def serve(conn: Any, memory_mb: int) -> None:
    """Worker process entry point (``multiprocessing`` target)."""
    serve_requests(conn, memory_mb, _warm_checks, _check_message)
