"""``checker.verify_solution``: a table of (problem, response, expected status) over every kind of question it
recognises — English and Chinese, plain text and LaTeX — with near-miss wrong answers and honest "unknown"s.
Real CAS workers and the real checker; nothing is mocked."""

from __future__ import annotations

import pytest

from checker.cas_recognize import recognize
from checker.verify import compute, verify_solution

V, D, U = "verified", "disputed", "unknown"

CASES = [
    # solve: quadratics, linear, exponential, logarithmic
    ("Solve x^2 - 5x + 6 = 0", r"Factoring, \((x-2)(x-3)=0\), so \boxed{x = 2 \text{ or } x = 3}.", V),
    ("Solve x^2 - 5x + 6 = 0", r"\boxed{x = 3, x = 2}", V),
    ("Solve x^2 - 5x + 6 = 0", r"\boxed{x = 2}", D),  # missing root
    ("Solve x^2 - 5x + 6 = 0", r"\boxed{x = -2, x = -3}", D),  # sign error
    ("Solve $x^2 - 4x + 3 = 0$.", r"The answer is $x = 1$ or $x = 3$.", V),
    ("Solve $2x^2 - 3x - 2 = 0$.", r"\boxed{x = -\frac{1}{2}, x = 2}", V),
    ("Solve $2x^2 - 3x - 2 = 0$.", r"\boxed{x = \frac{1}{2}, x = -2}", D),
    ("Solve for x: 2x + 3 = 7", r"Subtract 3, divide by 2: \boxed{x = 2}", V),
    ("Solve for x: 2x + 3 = 7", r"\boxed{x = 5}", D),
    ("Solve 3(x - 2) = 6x + 3", r"\boxed{x = -3}", V),
    ("Solve 3(x - 2) = 6x + 3", r"\boxed{x = 3}", D),
    ("Solve 2^x = 64", r"\boxed{6}", V),
    ("Solve $3^{x+1} = 81$", r"\boxed{x = 4}", D),
    ("Solve $e^{2x} = 5$", r"\boxed{x = \frac{\ln 5}{2}}", V),
    ("Solve $e^{2x} = 5$", r"\boxed{x = 2\ln 5}", D),
    ("Solve x^2 + 2x + 5 = 0", r"The discriminant is negative, so there is \boxed{\text{no real solution}}.", V),
    ("Solve x^2 + 2x + 5 = 0", r"\boxed{x = -1 \pm 2i}", V),
    ("Solve x^2 + 2x + 5 = 0", r"\boxed{x = 1 \pm 2i}", D),
    ("Find the zeros of f(x) = x^2 - 4", r"\boxed{x = \pm 2}", V),
    # inequalities
    ("Solve the inequality 3x - 7 > 8.", r"\boxed{x > 5}", V),
    ("Solve the inequality 3x - 7 > 8.", r"\boxed{x < 5}", D),  # direction
    ("Solve $-2x + 3 \le 11$", r"\boxed{x \ge -4}", V),
    ("Solve $-2x + 3 \le 11$", r"\boxed{x \le -4}", D),  # forgot to flip
    ("Solve |x - 3| < 5", r"\boxed{-2 < x < 8}", V),
    ("Solve |x - 3| < 5", r"\boxed{-2 \le x \le 8}", D),  # endpoints
    ("Solve x^2 - 5x + 4 < 0", r"\boxed{(1, 4)}", V),
    # systems
    ("Solve the system x + y = 5 and x - y = 1", r"\boxed{x = 3, y = 2}", V),
    ("Solve the system x + y = 5 and x - y = 1", r"\boxed{x = 2, y = 3}", D),
    (r"Solve the system: $\begin{cases} 2x + y = 7 \\ x - y = 2 \end{cases}$", r"\boxed{(3, 1)}", V),
    ("Solve the system of equations: $x + y + z = 6$, $x - y + z = 2$, $2x + y - z = 1$.",
     r"\boxed{x = 1, y = 2, z = 3}", V),
    ("Solve the system of equations: $x + y + z = 6$, $x - y + z = 2$, $2x + y - z = 1$.",
     r"\boxed{x = 1, y = 2, z = -3}", D),
    # derivatives
    ("What is the derivative of x^3 sin(x)?", r"\boxed{3x^2\sin x + x^3\cos x}", V),
    ("What is the derivative of x^3 sin(x)?", r"\boxed{3x^2 \cos x}", D),  # derivative of each factor
    ("Differentiate $y = \ln(x^2+1)$ with respect to x.", r"\boxed{\frac{2x}{x^2+1}}", V),
    ("Differentiate $y = \ln(x^2+1)$ with respect to x.", r"\boxed{\frac{1}{x^2+1}}", D),  # chain rule missed
    (r"$\frac{d}{dx}\left(e^{3x}\right)$", r"\boxed{3e^{3x}}", V),
    ("Find the second derivative of x^4", r"\boxed{12x^2}", V),
    ("Find the second derivative of x^4", r"\boxed{4x^3}", D),
    ("Find f'(2) if f(x) = x^3", r"\boxed{12}", V),
    ("Find f'(2) if f(x) = x^3", r"\boxed{8}", D),
    # integrals
    ("Find the integral of x^2 from 0 to 1.", r"\boxed{\frac{1}{3}}", V),
    ("Find the integral of x^2 from 0 to 1.", r"\boxed{0.333}", V),  # three significant figures
    ("Find the integral of x^2 from 0 to 1.", r"\boxed{0.33}", D),  # too rough for an exact 1/3
    ("Integrate e^(2x) dx", r"\boxed{\frac{1}{2}e^{2x} + C}", V),
    ("Integrate e^(2x) dx", r"\boxed{\frac{e^{2x}}{2}}", V),  # right function, "+ C" named in the feedback
    ("Integrate e^(2x) dx", r"\boxed{2e^{2x} + C}", D),
    (r"Compute $\int_0^{\pi} \sin x\,dx$.", r"\boxed{2}", V),
    (r"Compute $\int_0^{\pi} \sin x\,dx$.", r"\boxed{0}", D),
    # limits
    ("Find the limit of sin(x)/x as x approaches 0", r"\boxed{1}", V),
    ("lim x->0 (1-cos x)/x^2", r"\boxed{\frac{1}{2}}", V),
    ("lim x->0 (1-cos x)/x^2", r"\boxed{0}", D),
    (r"Find $\lim_{x \to \infty} \frac{3x^2+1}{2x^2-5}$", r"\boxed{\frac{3}{2}}", V),
    (r"Find $\lim_{x \to \infty} \frac{3x^2+1}{2x^2-5}$", r"\boxed{-\frac{1}{5}}", D),
    # simplify, factor, expand
    ("Simplify (x^2-1)/(x-1)", r"\boxed{x + 1}", V),
    ("Simplify (x^2-1)/(x-1)", r"\boxed{\frac{x^2-1}{x-1}}", D),  # not simplified
    ("Factor x^2 - 9", r"\boxed{(x-3)(x+3)}", V),
    ("Factor x^2 - 9", r"\boxed{x^2 - 9}", D),  # equivalent but not factored
    ("Factor x^2 - 9", r"\boxed{(x-3)^2}", D),
    ("Expand (x+1)^3", r"\boxed{x^3 + 3x^2 + 3x + 1}", V),
    ("Expand (x+1)^3", r"\boxed{x^3 + 1}", D),
    # evaluate
    ("What is 15% of 80?", "15% of 80 is 0.15 × 80. **Answer:** 12", V),
    ("What is 15% of 80?", r"\boxed{120}", D),
    ("Evaluate $\\log_2 32$.", r"\boxed{5}", V),
    ("Evaluate 2x + 3 at x = 4", r"\boxed{11}", V),
    ("If f(x) = 3x^2 - 2x + 1, find f(2).", r"\boxed{9}", V),
    ("If f(x) = 3x^2 - 2x + 1, find f(2).", r"\boxed{17}", D),
    (r"Evaluate \sin(\pi/6) + \cos(60^\circ)", r"\boxed{1}", V),
    ("Compute 3/4 + 5/6", r"\boxed{\frac{19}{12}}", V),
    ("Compute 3/4 + 5/6", r"\boxed{\frac{8}{10}}", D),
    # Chinese
    ("解方程 x^2-5x+6=0", "所以最终答案是 x=2 或 x=3。", V),
    ("解方程 x^2-5x+6=0", r"\boxed{x=2}", D),
    ("解方程 2x+3=7", r"答案：\(x = 2\)", V),
    ("求函数 f(x)=x^3 的导数", r"\boxed{3x^2}", V),
    ("求函数 f(x)=x^3 的导数", r"\boxed{x^2}", D),
    ("计算 3/4 + 5/6", r"\boxed{\frac{19}{12}}", V),
    ("当 x 趋近于 0 时，sin(3x)/x 的极限是多少？", r"\boxed{3}", V),
    ("当 x 趋近于 0 时，sin(3x)/x 的极限是多少？", r"\boxed{1}", D),
    ("求不定积分 ∫ x e^x dx", r"\boxed{(x-1)e^x + C}", V),
    ("求不定积分 ∫ x e^x dx", r"\boxed{x e^x + C}", D),
    ("计算定积分 $\\int_0^1 x^2 dx$", r"\boxed{\frac{1}{3}}", V),
    ("因式分解 x^2-9", r"\boxed{(x+3)(x-3)}", V),
    ("展开 (x+2)^2", r"\boxed{x^2+4x+4}", V),
    ("化简 (x^2-1)/(x-1)", r"\boxed{x+1}", V),
    ("解方程组 x+y=10, x-y=4", r"\boxed{x=7, y=3}", V),
    ("解方程组 x+y=10, x-y=4", r"\boxed{x=3, y=7}", D),
    ("解不等式 2x-1>5", r"\boxed{x>3}", V),
    # unknown: not understood, not trustworthy, or nothing to compare
    ("Write a poem about the sea", r"\boxed{1}", U),
    ("A train travels 120 km in 2 hours. What is its speed?", r"\boxed{60 km/h}", U),
    ("Solve 2sin(x) = 1", r"\boxed{x = \frac{\pi}{6}}", U),  # a general solution set: not compared
    ("An arithmetic sequence has first term $a_1 = 10$ and common difference $d = 3$. Find $a_{29}$.",
     r"\boxed{94}", U),
    ("Prove that the square root of 2 is irrational.", "Suppose it were rational... ∎", U),
    ("How many solutions does x^2 = 4 have?", r"\boxed{2}", U),  # the answer is not the solution set
    ("Find the vertex of y = x^2 - 4x + 1", r"\boxed{(2, -3)}", U),
    ("Solve x^2 - 5x + 6 = 0", "Let's factor it together. What two numbers multiply to 6?", U),  # no final answer
    ("Solve x^2 - 5x + 6 = 0", r"\boxed{see the steps above}", U),  # unreadable answer
    ("", r"\boxed{1}", U),
    ("Solve " + "x + " * 400 + "1 = 0", r"\boxed{1}", U),  # too long to read
]


@pytest.mark.parametrize("problem,response,status", CASES, ids=[f"{i:02d}" for i in range(len(CASES))])
def test_verify_solution_table(problem: str, response: str, status: str) -> None:
    result = verify_solution(problem, response)
    assert result.status == status, (result, problem, response)
    if status != U:
        assert result.expected and result.found  # LaTeX of sympy's answer and the reply's final answer


def test_table_is_large_and_mixed() -> None:
    assert len(CASES) >= 60
    assert sum(any("\u4e00" <= ch <= "\u9fff" for ch in p) for p, _, _ in CASES) >= 10
    assert sum("\\" in p for p, _, _ in CASES) >= 10
    assert {s for _, _, s in CASES} == {V, D, U}


def test_disputed_reply_names_sympys_answer() -> None:
    result = verify_solution("Solve x^2 - 5x + 6 = 0", r"\boxed{x = 2}")
    assert result.status == D and result.found == "x = 2"
    assert "3" in result.expected and "missed" in result.feedback


def test_compute_gives_latex_and_caches() -> None:
    first = compute("Find the derivative of x^2 sin(x)")
    assert first is not None and first.op == "diff" and "\\cos" in first.expected
    assert compute("Find the derivative of x^2 sin(x)") is first  # cached per question


def test_recognizer_reads_clauses() -> None:
    task = recognize("Find the limit of (x^2-9)/(x-3) as x approaches 3")
    assert task is not None and task.op == "limit" and task.point == "3" and task.var == "x"
    task = recognize("Find the integral of x^2 from 0 to 2.")
    assert task is not None and (task.op, task.lower, task.upper) == ("integrate", "0", "2")
    assert recognize("Write a poem") is None


def test_injection_in_a_question_is_never_evaluated(tmp_path) -> None:
    marker = tmp_path / "pwned"
    problem = f"Solve __import__('os').system('touch {marker}') = 0"
    assert verify_solution(problem, r"\boxed{1}").status == U
    assert not marker.exists()


def test_the_cas_workers_warm_up_on_questions_sympy_answers() -> None:
    """A warm-up question sympy cannot read teaches the LaTeX parser nothing useful: keep the set readable."""
    from checker.cas import solve_problem
    from checker.cas_pool import _WARM, _WARM_LATEX

    unread = [q for q in (*_WARM, *_WARM_LATEX) if solve_problem(q) is None]
    assert unread == [q for q in _WARM_LATEX if "arithmetic sequence" in q], unread  # a word problem: parsed only


def _ask_at_once(question: str, students: int) -> list:
    """``compute(question)`` from ``students`` threads released together; their results."""
    import threading

    results: list = []
    start = threading.Barrier(students)

    def ask() -> None:
        start.wait()
        results.append(compute(question))

    threads = [threading.Thread(target=ask) for _ in range(students)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_students_asking_the_same_new_question_at_once_make_one_sympy_call(monkeypatch) -> None:
    """A class sent to the same practice problem: 8 threads ask sympy about one question at the same moment; the CAS
    worker is asked once and all 8 get its answer. A time-out is shared too, and not cached: the next ask retries."""
    import time

    from checker import verify

    calls: list[str] = []
    real = verify._solve

    def slow_solve(problem, pool, timeout):
        calls.append(problem)
        time.sleep(0.3)  # long enough for all 8 to arrive while the first is in sympy
        return real(problem, pool, timeout)

    monkeypatch.setattr(verify, "_solve", slow_solve)
    question = f"Solve x^2 - {time.time_ns() % 1000 + 2}x = 0"  # not in the cache yet
    results = _ask_at_once(question, 8)
    assert calls == [question] and len(results) == 8 and results[0] is not None
    assert all(r == results[0] for r in results)

    def timed_out(problem, pool, timeout):
        calls.append(problem)
        time.sleep(0.3)
        raise verify._Transient("all workers busy")

    monkeypatch.setattr(verify, "_solve", timed_out)
    calls.clear()
    other = question.replace("Solve", "Find the roots of")
    assert _ask_at_once(other, 4) == [None] * 4 and calls == [other]
    assert compute(other) is None and calls == [other, other]  # not cached: asked again
