"""Worker processes for the CAS (``checker.cas``), with the checker pool's time and memory limits.

:class:`CasPool` is a :class:`checker.pool.CheckerPool` whose workers run :func:`serve` instead of the answer
check: the same spawn start, memory cap (``RLIMIT_AS``), per-call time limit, kill-and-replace on time-out and
thread safety — only the work differs. A message is the pool's usual triple; here it reads ``(problem, "", {})``
and the reply is a :class:`~checker.cas.CasResult` as a dict, or ``None`` when sympy's answer would not be
trustworthy. Integrals and limits take longer than answer checks, hence the larger default time limit.
Not covered: what is computed (``checker.cas``), comparing with a reply (``checker.verify``).
"""

from __future__ import annotations

from typing import Any

from checker.pool import CheckerPool, SharedPool, _Worker, default_size

CAS_TIMEOUT = 5.0  # seconds per question (sympy's integrate/limit on a busy 2-core machine)
_WARM = ("Solve x^2 - 5x + 6 = 0", "Find the derivative of x^3 sin(x)", "Find the integral of x e^x dx",
         "Find the limit of sin(x)/x as x approaches 0", "Solve 3x - 7 > 8")
# Questions in LaTeX, one of each shape a class asks (written for the warm-up, not taken from the practice bank).
# The LaTeX parser (latex2sympy2_extended's ANTLR grammar) is most of a question's cost, and ANTLR caches what it
# learns about the grammar per process: a worker that has read these reads the practice bank's 156 problems in
# 19 ms each on average instead of 24 (p95 77 instead of 102 ms; this 2-core box), for about 1.4 s more start-up.
_WARM_LATEX = (
    r"Compute $17 \times 23$.", "What is 15% of 80?", r"Solve $3x + 4 = 19$.", r"Solve $x^2 + 3x - 10 = 0$.",
    r"Solve the system of equations: $2x + y = 5$ and $x - y = 1$.", r"Solve $5x - 3 \le 12$.",
    r"Solve $|x + 2| < 5$.", r"If $f(x) = 2x^{2} - 3x + 1$, find $f(-1)$.", r"Evaluate $\log_{3} 81$.",
    r"Evaluate $\ln(e^{2})$.", r"Find the exact value of $\sin\left(60^\circ\right)$.",
    r"Find the exact value of $\cos\left(\frac{\pi}{3}\right)$.", r"Simplify $\frac{x^2 - 4}{x - 2}$.",
    r"Find the derivative of $f(x) = 4x^{3} - 2x^{2} + x - 7$.", r"Differentiate $y = \cos(2x^2)$.",
    r"Find $\frac{d}{dx}\left(x^{2} e^{2x}\right)$.", r"Differentiate $y = \ln(x^2 + 1)$.",
    r"Find $\int (2x^{2} - 4x + 1)\,dx$.", r"Evaluate $\int_{0}^{2} e^{3x}\,dx$.",
    r"Evaluate $\int_{1}^{2} \frac{1}{x}\,dx$.", r"Find $\lim_{x \to 2} \frac{x^2 - 4}{x - 2}$.",
    r"Find $\lim_{x \to 0} \frac{\sin(3x)}{x}$.", r"Find $\lim_{x \to \infty} \frac{2x + 1}{x - 3}$.",
    r"An arithmetic sequence has first term $a_1 = 4$ and common difference $d = 5$. Find $a_{10}$.",
    r"Compute $\sqrt{144} + 2^{5}$.", r"Expand $(x + 3)^{2}$.", r"Factor $x^{2} - 9$.",
)


def _solve_message(message: Any) -> dict[str, Any] | None:
    from checker.cas import solve_problem

    try:
        result = solve_problem(message[0])
    except MemoryError:
        result = None
    except Exception:  # noqa: BLE001 - a sympy bug on odd input means "unknown", never a dead worker
        result = None
    return None if result is None else result.to_dict()


def _warm_solver() -> None:
    from checker.cas import solve_problem

    for question in (*_WARM, *_WARM_LATEX):
        solve_problem(question)


def serve(conn: Any, memory_mb: int) -> None:
    """The CAS worker's entry point: the checker's worker loop, answering questions with sympy."""
    from checker.worker import serve_requests

    serve_requests(conn, memory_mb, _warm_solver, _solve_message)


class CasPool(CheckerPool):
    """A pool of CAS workers; :meth:`solve` is the one call (raises the pool's ``CheckTimeout`` etc.)."""

    def __init__(self, size: int = 2, timeout: float = CAS_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(size=size, timeout=timeout, **kwargs)

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=serve, args=(child, self.memory_mb), daemon=True, name="cas-worker")
        process.start()
        child.close()
        self.started += 1
        return _Worker(process, parent)

    def solve(self, problem: str, timeout: float | None = None) -> dict[str, Any] | None:
        """sympy's answer to ``problem`` as a ``CasResult`` dict, or ``None``."""
        return self.run(problem, "", {}, timeout=timeout)


# Every chat turn asks sympy about the question: as many workers as the checker's pool.
_shared = SharedPool(lambda: CasPool(size=default_size()))


def default_cas_pool() -> CasPool:
    """The shared CAS pool (started lazily, closed at interpreter exit)."""
    return _shared.get()  # type: ignore[return-value]
