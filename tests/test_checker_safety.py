"""Students type anything: injection attempts, denial of service, odd input, many threads at once.

These drive the real worker pool (real processes, real time limits). The only timing asserted is a generous
bound that proves a time limit or a refusal happened at all; speed goals live in bench/checker.py.
"""

from __future__ import annotations

import builtins
import string
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import checker
from checker.pool import CheckerPool
from engine.errors import SettingsError
from tests.checker_cases import CASES

INJECTIONS = [
    "__import__('os').system('touch {marker}')",
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: 0",
    "exec(\"open('{marker}', 'w').write('x')\")",
    "eval('__import__(\"os\").system(\"touch {marker}\")')",
    "open('{marker}', 'w')",
    "x; import os; os.system('touch {marker}')",
    r"\input{/etc/passwd}",
    r"\immediate\write18{touch {marker}}",
    "getattr(x, '__class__')",
    "Symbol('x').__class__.__mro__",
    "sympify('__import__(\"os\").system(\"touch {marker}\")')",
]


@pytest.fixture(scope="module")
def small_pool():
    with CheckerPool(size=1, timeout=2.0) as pool:
        yield pool


@pytest.mark.parametrize("template", INJECTIONS)
def test_injection_does_nothing_and_says_so(template, tmp_path):
    marker = tmp_path / "pwned"
    verdict = checker.check_answer(template.replace("{marker}", str(marker)), "2")
    assert not marker.exists()
    assert not verdict.equivalent and not verdict.timed_out
    assert verdict.reason == "unreadable"
    assert verdict.feedback.startswith("Couldn't read")


def test_injection_in_the_reference_is_refused_too(tmp_path):
    marker = tmp_path / "pwned"
    verdict = checker.check_answer("2", f"__import__('os').system('touch {marker}')")
    assert not marker.exists()
    assert verdict.reason == "bad_reference" and not verdict.equivalent


def test_no_eval_exec_or_parse_expr_on_user_text(monkeypatch):
    """Run every table case in-process with eval/exec/parse_expr watched: none of them may see the user text."""
    from sympy.parsing import sympy_parser

    from checker.verdict import Rules
    from checker.worker import check_here

    seen: list[str] = []
    real_eval, real_exec = builtins.eval, builtins.exec

    def watch(real):
        def wrapper(source, *args, **kwargs):
            seen.append(str(source))
            return real(source, *args, **kwargs)
        return wrapper

    def refuse(*args, **kwargs):
        raise AssertionError(f"parse_expr called with {args!r}")

    monkeypatch.setattr(builtins, "eval", watch(real_eval))
    monkeypatch.setattr(builtins, "exec", watch(real_exec))
    monkeypatch.setattr(sympy_parser, "parse_expr", refuse)
    texts = [a for a, *_ in CASES] + [t.replace("{marker}", "/nonexistent/x") for t in INJECTIONS]
    for text in texts:
        check_here(text, "2", Rules())
    user_texts = {t for t in texts if len(t) > 3}
    assert not [s for s in seen if any(t in s for t in user_texts)]


@pytest.mark.parametrize("text, reason", [
    ("9^9^9^9", "too_large"),
    ("factorial(10^9)", "too_large"),
    ("(10^9)!", "too_large"),
    ("2^(2^(2^(2^(2^2))))", "too_large"),
    ("(" * 10_000 + "1" + ")" * 10_000, "too_long"),
    ("x" * 1_000_000, "too_long"),
    ("1+" * 5_000 + "1", "too_long"),
    ("(" * 100 + "x" + ")" * 100, "too_deep"),
    ("e^(e^(e^(e^(e^5))))", ("timeout", "too_large")),  # runs out of time or memory, whichever comes first
])
def test_denial_of_service_is_refused_quickly_and_the_checker_keeps_serving(text, reason):
    start = time.monotonic()
    verdict = checker.check_answer(text, "2")
    assert time.monotonic() - start < 10  # generous: proves it did not run unbounded
    assert verdict.reason in (reason if isinstance(reason, tuple) else (reason,)) and not verdict.equivalent
    assert verdict.timed_out is (verdict.reason == "timeout")
    assert any(word in verdict.feedback for word in ("large", "long", "nested"))
    assert checker.check_answer("x^2 - 1", "(x-1)(x+1)").equivalent


HANGS = "x^1999 - 3x^7 + 1 > 0"  # sympy's inequality solver grinds on this for minutes, with little memory


def test_a_hung_check_times_out_the_worker_is_replaced_and_serving_goes_on(small_pool):
    before = small_pool.killed
    start = time.monotonic()
    verdict = checker.check_answer(HANGS, "x > 1", pool=small_pool)
    assert time.monotonic() - start < 10  # 2 s limit plus killing the worker; generous bound
    assert verdict.timed_out and verdict.reason == "timeout" and not verdict.equivalent
    assert "too long" in verdict.feedback
    assert small_pool.killed == before + 1
    assert checker.check_answer("2x", "x*2", pool=small_pool).equivalent
    assert checker.check_answer("0.866", r"\frac{\sqrt{3}}{2}", pool=small_pool).equivalent


def test_per_call_timeout_overrides_the_pool_default(small_pool):
    verdict = checker.check_answer(HANGS, "x > 1", pool=small_pool, timeout=0.5)
    assert verdict.timed_out
    assert checker.check_answer("1/2", "0.5", pool=small_pool).equivalent


def test_memory_limit_caps_a_worker_process():
    import subprocess

    code = ("from checker.worker import _limit_memory\n_limit_memory(50)\n"
            "try:\n    block = bytearray(500 * 2**20)\n    print('allocated')\n"
            "except MemoryError:\n    print('refused')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert out.stdout.strip() == "refused", out.stderr


def test_a_worker_out_of_memory_gives_a_verdict_not_an_exception():
    with CheckerPool(size=1, memory_mb=1) as pool:
        for _ in range(2):
            verdict = checker.check_answer("(x+1)^40 + (y+2)^30", "(x+1)^40", pool=pool)
            assert isinstance(verdict, checker.Verdict) and not verdict.equivalent


def test_fifty_threads_get_the_same_verdicts_as_one_by_one():
    cases = [CASES[(i * 7) % len(CASES)] for i in range(50)]
    one_by_one = [checker.check_answer(a, r, **rules) for a, r, rules, _ in cases]
    with ThreadPoolExecutor(max_workers=50) as ex:
        at_once = list(ex.map(lambda c: checker.check_answer(c[0], c[1], **c[2]), cases))
    assert at_once == one_by_one


def test_pool_is_lazy_and_closes():
    pool = CheckerPool(size=2)
    assert pool.started == 0
    assert checker.check_answer("1+1", "2", pool=pool).equivalent
    assert pool.started == 1  # only as many workers as were needed
    processes = [w.process for w in pool._idle]
    pool.close()
    for p in processes:
        p.join(timeout=5)
        assert not p.is_alive()
    assert checker.check_answer("1+1", "2", pool=pool).reason == "error"


def test_parent_process_does_not_import_sympy():
    import subprocess

    code = ("import sys, checker; v = checker.check_answer('x=2 or x=3', '{2,3}'); "
            "print(v.equivalent, 'sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert out.stdout.split() == ["True", "False"], out.stderr


@pytest.mark.parametrize("weird", [None, 42, "", "   ", "\x00\x01\x02", "😀", "∫∑∏", "$$", "\\", "{", "}",
                                   "((((", "x=", "=2", "<=>", "^^", "1..2", "--1", "1e999999", "0/0", "1/0",
                                   "oo - oo", "zoo", "nan", "x^", "sqrt()", "|", "||", "\\frac{}{}", "\\boxed{}"])
def test_odd_input_never_raises(weird):
    verdict = checker.check_answer(weird, "1")
    assert isinstance(verdict, checker.Verdict)
    assert isinstance(verdict.feedback, str) and verdict.feedback


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=string.printable + "√π²³×÷−≤≥∞±°%", max_size=40))
def test_fuzzed_input_never_raises(text):
    verdict = checker.check_answer(text, "x^2 - 1")
    assert isinstance(verdict, checker.Verdict) and verdict.feedback


def test_bad_rules_are_a_configuration_error():
    with pytest.raises(SettingsError, match="form must be one of"):
        checker.check_answer("1", "1", form="pretty")
    with pytest.raises(SettingsError, match="Unknown checker rule"):
        checker.check_answer("1", "1", tolerence=0.1)
    with pytest.raises(SettingsError, match="tolerance"):
        checker.check_answer("1", "1", tolerance="lots")


def test_default_pool_size_follows_the_cores_from_2_to_12(monkeypatch):
    """Three quarters of the cores: a 2-core laptop keeps 2 workers, a 16-core GPU box gets 12 (a class's burst of
    questions waits on them), and no machine gets more than 12."""
    from checker import pool

    for cores, workers in ((None, 2), (1, 2), (2, 2), (4, 3), (8, 6), (16, 12), (64, 12)):
        monkeypatch.setattr(pool.os, "cpu_count", lambda cores=cores: cores)
        assert pool.default_size() == workers
