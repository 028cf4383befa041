"""Fuzzing the answer checker with hypothesis: 10,000 generated inputs, nothing escapes, nothing runs.

Inputs mix random unicode, math-ish token soup from a small grammar (numbers, operators, brackets, ``\\frac``,
``\\sqrt``, ``^``, functions, units, relations, ``,``/``and``/``or``), Python-injection strings that would touch a
marker file if anything evaluated them, huge exponents and deep nesting. Four tests share the budget, because a
check through the worker pool costs a few milliseconds and a time-out costs the pool's limit (2 s) plus a new
worker, which is too slow for 10,000 on two cores:

* 2,000 ``check_answer`` calls through the real worker pool (the pool's own time limit and memory cap): every call
  returns a verdict (a time-out is a verdict too, and is counted), the marker never appears, and the pool still
  answers normal checks afterwards;
* 5,000 calls of the parsing the workers run (``checker.parse.parse`` after ``precheck``), in this process under a
  time guard (SIGALRM, the pool's limit; pytest runs tests in the main thread) with ``eval``/``exec`` watched: no
  user text reaches ``eval``/``exec``, and any exception besides the documented refusals must still become a
  verdict in the worker's own check (the two such bugs found are pinned in a table below);
* 500 ``verify_solution`` calls on fuzzed replies to a question sympy has solved once (extraction in-process, the
  comparison through the pool);
* 2,500 ``extract_final_answer`` and ``tutor.redact.redact_final_answer`` calls (plain string work), where a
  ``\\boxed{…}`` answer must never survive redaction.

Derandomized (hypothesis derives the seed from the test's code) with no example database, so CI sees the same
inputs every run. No timing is asserted; each test prints its counts (time-outs, reasons, the slowest call).
Measured on the 2-core development machine: about 70 s for the four (pool 28 s, parsing 25 s, verify 11 s,
extraction 3 s).
"""

from __future__ import annotations

import builtins
import collections
import signal
import string
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import checker
from checker.pool import DEFAULT_TIMEOUT
from checker.verdict import Verdict
from checker.verify import Verification, verify_solution
from tutor.redact import HIDDEN_BOXED, redact_final_answer

POOL_EXAMPLES = 2000
PARSE_EXAMPLES = 5000
VERIFY_EXAMPLES = 500
EXTRACT_EXAMPLES = 2500  # 10,000 generated inputs in all

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))

# --- strategies ---------------------------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-1000, max_value=1000).map(str),
    st.sampled_from(["0", "1", "-1", ".5", "6.02e23", "1e999999", "1,000", "2 1/2", "½", "3/4", "0/0", "1/0"]),
)
NAMES = st.sampled_from(["x", "y", "z", "n", "a", "b", "t", "pi", "π", "e", "i", "oo", "∞", "C", "θ", "x_1"])
FUNCS = ["sin", "cos", "tan", "ln", "log", "sqrt", "exp", "abs", "arcsin", "floor", "factorial", "log_2"]
UNITS = ["cm", "m", "km/h", "m/s", "m/s^2", "kg", "s", "°", "%", " degrees", "\\text{cm}", "^\\circ"]
RELATIONS = ["=", "<", ">", "<=", ">=", "≤", "≥", "!=", "\\le", "\\geq", "\\neq"]
JOINS = [", ", " and ", " or ", " U ", " ∪ ", "; ", " \\text{ or } "]
OPERATORS = ["+", "-", "*", "/", "^", "**", "×", "÷", "−", "±", "\\pm", "\\cdot", "\\times", ""]


def _binary(parts: tuple[str, str, str]) -> str:
    return f"{parts[0]} {parts[1]} {parts[2]}"


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(OPERATORS), inner).map(_binary),
        inner.map(lambda a: f"({a})"),
        st.tuples(st.sampled_from(FUNCS), inner).map(lambda p: f"{p[0]}({p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"\\frac{{{p[0]}}}{{{p[1]}}}"),
        inner.map(lambda a: f"\\sqrt{{{a}}}"),
        st.tuples(st.sampled_from(["3", "n", "4"]), inner).map(lambda p: f"\\sqrt[{p[0]}]{{{p[1]}}}"),
        st.tuples(inner, inner).map(lambda p: f"{p[0]}^{{{p[1]}}}"),
        inner.map(lambda a: f"\\left({a}\\right)"),
        inner.map(lambda a: f"|{a}|"),
        inner.map(lambda a: f"\\boxed{{{a}}}"),
        st.tuples(inner, st.sampled_from(UNITS)).map(lambda p: f"{p[0]} {p[1]}"),
        st.tuples(inner, st.sampled_from(RELATIONS), inner).map(_binary),
        st.tuples(inner, st.sampled_from(JOINS), inner).map(lambda p: "".join(p)),
        st.tuples(inner, inner).map(lambda p: f"[{p[0]}, {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"\\{{{p[0]}, {p[1]}\\}}"),
        st.tuples(inner, inner).map(lambda p: f"\\begin{{pmatrix}} {p[0]} & {p[1]} \\end{{pmatrix}}"),
        inner.map(lambda a: f"${a}$"),
    )


GRAMMAR = st.recursive(st.one_of(NUMBERS, NAMES), _extend, max_leaves=10)

SOUP_TOKENS = [*FUNCS, *UNITS, *RELATIONS, *JOINS, *OPERATORS, "(", ")", "[", "]", "{", "}", "\\frac", "\\sqrt",
               "\\left(", "\\right)", "\\boxed{", "$", "$$", "\\(", "\\)", "x", "2", "10", "pi", "!", "'", "_",
               "&", "\\\\", "\\begin{array}", "\\end{array}", "\\text{", "\\def\\a{\\a\\a}\\a", "oo", "."]
SOUP = st.lists(st.one_of(st.sampled_from(SOUP_TOKENS), NUMBERS), max_size=30).map(" ".join)

INJECTIONS = [
    "__import__('os').system('touch {m}')",
    "__import__(\"os\").system(\"touch {m}\")",
    "exec(\"open('{m}', 'w').write('x')\")",
    "eval('__import__(\"os\").system(\"touch {m}\")')",
    "eval(",
    "open('{m}', 'w').write('pwned')",
    "(lambda: __import__('os').system('touch {m}'))()",
    "lambda x: x",
    "f\"{{__import__('os').system('touch {m}')}}\"",
    "f'{{open(\"{m}\",\"w\")}}'",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__.__mro__[1].__subclasses__()",
    "getattr(__builtins__, 'exec')('open(\"{m}\",\"w\")')",
    "Symbol('x').__init__.__globals__['__builtins__']['exec']('open(\"{m}\",\"w\")')",
    "sympify('__import__(\"os\").system(\"touch {m}\")')",
    "x; import os; os.system('touch {m}')",
    "1 if __import__('os').system('touch {m}') else 2",
    "\\input{/etc/passwd}",
    "\\immediate\\write18{touch {m}}",
    "\\href{javascript:alert(1)}{x}",
    "$(touch {m})",
    "`touch {m}`",
    "{{7*7}} {{config}}",
    "<script>window.__x=1</script>",
]
HUGE = st.one_of(
    st.sampled_from(["9^9^9^9", "10**10**10", "2^(2^(2^(2^(2^2))))", "10^{10^{10}}", "(10^9)!", "factorial(10^9)",
                     "9^(9^(9^9))", "2**2**2**2**2**2", "10^10^10 - 10^10^10", "1e999999999", "x^(10^9)",
                     "(x+1)^(10^6)", "\\sqrt[10^9]{2}", "e^(e^(e^(e^(e^5))))"]),
    st.tuples(st.integers(2, 10**4), st.integers(2, 10**4), st.integers(2, 99)).map(
        lambda p: f"{p[0]}^{p[1]}^{p[2]}"),
    st.tuples(st.integers(10, 10**12), st.sampled_from(["^", "**"]), st.integers(10, 10**12)).map(
        lambda p: f"{p[0]}{p[1]}{p[2]}"),
)


def _nest(parts: tuple[int, str, str]) -> str:
    depth, kind, atom = parts
    if kind == "paren":
        return "(" * depth + atom + ")" * depth
    if kind == "frac":
        return "\\frac{1}{" * depth + atom + "}" * depth
    if kind == "sqrt":
        return "\\sqrt{" * depth + atom + "}" * depth
    if kind == "power":
        return "x^{" * depth + atom + "}" * depth
    return "(" * depth + atom  # unbalanced


DEEP = st.tuples(st.integers(1, 90), st.sampled_from(["paren", "frac", "sqrt", "power", "open"]),
                 st.sampled_from(["x", "1", "x+1", "2"])).map(_nest)


def hostile_text(marker: Path) -> st.SearchStrategy[str]:
    """One student answer (or model reply) from any of the families, sometimes wrapped or glued together."""
    injection = st.sampled_from(INJECTIONS).map(lambda t: t.replace("{m}", str(marker)))
    one = st.one_of(
        st.text(max_size=60),  # random unicode, control characters included
        st.text(alphabet=string.printable + "√π²³×÷−≤≥∞±°%½∪θ\u200b\u202e", max_size=40),
        GRAMMAR, GRAMMAR, GRAMMAR, SOUP, injection, HUGE, DEEP,
    )
    return st.one_of(one, st.tuples(one, one).map(lambda p: f"{p[0]} {p[1]}"),
                     one.map(lambda a: f"\\boxed{{{a}}}"), one.map(lambda a: f"The answer is {a}."))


@pytest.fixture(scope="module")
def marker(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "pwned"


@pytest.fixture(scope="module")
def pool():
    """The app's shared pool (its default size, time limit and memory cap), warm before the clock matters."""
    p = checker.default_pool()
    p.warm_up()
    return p


REFERENCES = ["x^2 - 1", "2", r"\frac{\sqrt{3}}{2}", "x = 2 or x = 3", "[3, oo)", "(1, 2)", "5 cm", "25%", "30°",
              "x^3/3 + C", "y = -x/2 + 3/4", r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", "no solution"]


# --- the tests ----------------------------------------------------------------------------------------------------

def test_check_answer_through_the_pool_survives_hostile_input(pool, marker):
    seen: collections.Counter[str] = collections.Counter()
    slowest = [0.0, ""]
    killed_before = pool.killed
    text = hostile_text(marker)

    @settings(FUZZ, max_examples=POOL_EXAMPLES)
    @given(answer=text, reference=st.one_of(st.sampled_from(REFERENCES), st.sampled_from(REFERENCES), text))
    def check(answer: str, reference: str) -> None:
        start = time.monotonic()
        verdict = checker.check_answer(answer, reference, pool=pool)  # the pool's own time limit
        took = time.monotonic() - start
        if took > slowest[0]:
            slowest[:] = [took, f"{answer[:60]!r} vs {reference[:30]!r}"]
        assert isinstance(verdict, Verdict) and isinstance(verdict.feedback, str) and verdict.feedback
        assert verdict.timed_out is (verdict.reason == "timeout")
        assert not marker.exists(), f"something executed {answer!r}"
        seen[verdict.reason or "?"] += 1
        seen["(injections)"] += str(marker) in answer

    check()
    injections = seen.pop("(injections)")
    print(f"\npool fuzz: {sum(seen.values())} checks ({injections} with an injection), {seen['timeout']} timed out, "
          f"{pool.killed - killed_before} workers replaced, slowest {slowest[0]:.2f} s ({slowest[1]}); "
          f"reasons {dict(seen.most_common(8))}")
    assert sum(seen.values()) >= POOL_EXAMPLES * 0.9  # hypothesis may stop a little early on duplicates
    assert injections >= 50  # the injection family really was drawn
    assert pool.killed - killed_before >= seen["timeout"]  # each time-out killed its worker
    assert checker.check_answer("x^2 - 1", "(x-1)(x+1)", pool=pool).equivalent  # the pool still serves
    assert checker.check_answer("0.866", r"\frac{\sqrt{3}}{2}", pool=pool).equivalent
    assert not marker.exists()


class _Guard(BaseException):
    """Raised by the time guard; a BaseException so that no ``except Exception`` in the checker swallows it."""


def test_parsing_in_process_survives_hostile_input(marker, monkeypatch):
    from checker.lexer import ParseError
    from checker.nodes import TooLarge
    from checker.parse import parse
    from checker.text import precheck
    from checker.verdict import Rules
    from checker.worker import check_here

    reached: list[str] = []  # eval/exec calls that saw the marker's path: user text being run

    def watch(real):
        def wrapper(source, *args, **kwargs):
            if str(marker) in str(source):
                reached.append(str(source))
            return real(source, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(builtins, "eval", watch(builtins.eval))
    monkeypatch.setattr(builtins, "exec", watch(builtins.exec))

    def stop(*_):
        raise _Guard()

    outcomes: collections.Counter[str] = collections.Counter()
    breaches: dict[str, str] = {}  # exception type -> first input
    slowest = [0.0, ""]
    text = hostile_text(marker)
    previous = signal.signal(signal.SIGALRM, stop)

    @settings(FUZZ, max_examples=PARSE_EXAMPLES)
    @given(answer=text)
    def check(answer: str) -> None:
        refused = precheck(answer)
        if refused:
            outcomes[refused] += 1
            return
        start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, DEFAULT_TIMEOUT)
        try:
            parse(answer)
            outcomes["parsed"] += 1
        except ParseError:
            outcomes["unreadable"] += 1
        except TooLarge:
            outcomes["too_large"] += 1
        except RecursionError:  # the worker reports it as too_deep
            outcomes["too_deep"] += 1
        except _Guard:  # the pool would have killed its worker here
            outcomes["guard"] += 1
        except Exception as err:  # noqa: BLE001 - outside parse's contract; the worker turns it into a verdict
            outcomes[f"breach {type(err).__name__}"] += 1
            breaches.setdefault(type(err).__name__, answer)
            assert isinstance(check_here(answer, "2", Rules()), Verdict)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        took = time.monotonic() - start
        if took > slowest[0]:
            slowest[:] = [took, repr(answer[:60])]
        assert not marker.exists() and not reached, f"something executed {answer!r}"

    try:
        check()
    finally:
        signal.signal(signal.SIGALRM, previous)
    print(f"\nparse fuzz: {sum(outcomes.values())} inputs, slowest {slowest[0]:.2f} s ({slowest[1]}); "
          f"{dict(outcomes.most_common())}; outside the contract: {breaches}")
    assert sum(outcomes.values()) >= PARSE_EXAMPLES * 0.9
    assert not marker.exists() and not reached


@pytest.mark.parametrize("text", ["\x00\\", "x = 1 \x00 \\frac{1}{2}", r"\sqrt[0]{0^\circ}", r"(30^\circ)^{2}"])
def test_parse_raises_only_its_documented_errors(text):
    """What the fuzzer found, as a table: ``parse`` raises only ParseError or TooLarge (the worker still turns
    anything else into an "unreadable" verdict, so students never see these)."""
    from checker.lexer import ParseError
    from checker.nodes import TooLarge
    from checker.parse import parse

    try:
        parse(text)
    except (ParseError, TooLarge):
        pass


def test_verify_solution_on_hostile_replies(pool, marker):
    from checker.verify import compute

    solved = compute("Solve x^2 - 5x + 6 = 0")
    assert solved is not None  # sympy's answer, computed once; the replies are what is fuzzed
    statuses: collections.Counter[str] = collections.Counter()
    text = hostile_text(marker)

    @settings(FUZZ, max_examples=VERIFY_EXAMPLES)
    @given(reply=st.one_of(text, st.tuples(st.text(max_size=40), text).map(lambda p: f"{p[0]} \\boxed{{{p[1]}}}")))
    def check(reply: str) -> None:
        result = verify_solution("Solve x^2 - 5x + 6 = 0", reply, result=solved)  # compares in the pool
        assert isinstance(result, Verification) and result.status in ("verified", "disputed", "unknown")
        assert not marker.exists(), f"something executed {reply!r}"
        statuses[result.status] += 1

    check()
    print(f"\nverify fuzz: {dict(statuses)}")
    assert sum(statuses.values()) >= VERIFY_EXAMPLES * 0.9
    assert verify_solution("Solve x^2 - 5x + 6 = 0", r"So \boxed{x = 2 \text{ or } x = 3}", result=solved
                           ).status == "verified"


def test_extraction_and_redaction_never_raise_and_hide_every_box(marker):
    found = collections.Counter[str]()
    text = hostile_text(marker)

    @settings(FUZZ, max_examples=EXTRACT_EXAMPLES)
    @given(reply=text, secret=st.text(alphabet=string.ascii_letters + string.digits + "+-=^ ", min_size=3,
                                         max_size=12).filter(lambda s: s.strip()))
    def check(reply: str, secret: str) -> None:
        answer = checker.extract_final_answer(reply)
        assert answer is None or isinstance(answer, str)
        found["some" if answer else "none"] += 1
        for lang in (None, "en", "zh"):
            assert isinstance(redact_final_answer(reply, False, lang), str)
        # A boxed answer the model appends to hostile text is hidden while the answer is withheld.
        boxed = f"{reply}\n\nSo \\boxed{{{secret}}}"
        shown = redact_final_answer(boxed, False)
        assert HIDDEN_BOXED in shown and f"\\boxed{{{secret}}}" not in shown
        assert redact_final_answer(boxed, True) == boxed

    check()
    print(f"\nextract fuzz: {dict(found)}")
    assert sum(found.values()) >= EXTRACT_EXAMPLES * 0.9
