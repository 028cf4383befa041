"""Compute what a recognised question asks, with sympy, on objects built by the checker's safe parsers.

:func:`solve_problem` runs inside a CAS worker process (``checker.cas_pool``) with a time and memory limit: it
recognises the question (``checker.cas_recognize``), parses each math fragment with ``checker.plain`` /
``checker.latex`` (never ``sympify``/``parse_expr``/``eval``), computes the answer — solve (real solutions,
inequalities), systems, derivatives, integrals (definite and indefinite), limits (two-sided), simplify, factor,
expand, evaluate — and returns a :class:`CasResult` whose reference strings the checker itself can read back
(checked here with ``checker.worker.check_here``). Anything it cannot do with confidence gives ``None``: general
trigonometric solution sets, several candidate expressions, parametric or many-solution systems, word problems.
Not covered: comparing a reply with the result (``checker.verify``), process isolation (``checker.cas_pool``).
"""

from __future__ import annotations

import re
from typing import Any

import sympy

from checker.cas_recognize import Task, recognize
from checker.cas_result import CasResult
from checker.lexer import ParseError
from checker.latex import parse_latex
from checker.nodes import Chain, Items, Rel, TooLarge, exact
from checker.plain import parse_plain
from checker.text import clean, is_latex, normalize_plain, split_label
from checker.verdict import Rules

_OPERATOR = re.compile(r"[-+*/^%√!·×÷]|\\[a-zA-Z]|[a-z]{2,}\s*\(|\d\s*\(")
_FORMS = {"factor": "factored", "expand": "expanded", "simplify": "simplified"}


class Unsure(Exception):
    """sympy's answer would not be trustworthy or comparable here: the honest result is "unknown"."""


def tex(value: sympy.Basic) -> str:
    """LaTeX that the checker's LaTeX parser reads back (``\\ln`` for natural logs, ``\\arcsin``)."""
    return sympy.latex(value, ln_notation=True, inv_trig_style="full")


def _parse(fragment: str) -> tuple[Any, bool]:
    """A fragment → (tree, was_labelled). ``f(x) = x^3`` gives the right-hand side, labelled."""
    text = clean(fragment)
    latex = is_latex(text)
    body = text if latex else normalize_plain(text)
    label = split_label(body)
    if label is not None:
        body = label[1]
    return (parse_latex(body) if latex else parse_plain(body)), label is not None


def _cases(run: str) -> list[str]:
    m = re.search(r"\\begin\s*\{cases\}(.*?)\\end\s*\{cases\}", run, re.S)
    if not m:
        return [run]
    return [p.replace("&", " ").strip() for p in re.split(r"\\\\", m.group(1)) if p.strip()]


def _parsed_runs(task: Task) -> list[tuple[Any, bool, str]]:
    out = []
    for run in task.runs:
        for part in _cases(run):
            try:
                tree, labelled = _parse(part)
            except (ParseError, TooLarge, RecursionError, ValueError, TypeError):
                continue
            out.append((tree, labelled, part))
    return out


def _rels(tree: Any) -> list[Rel] | None:
    if isinstance(tree, Rel):
        return [tree]
    if isinstance(tree, Items) and all(isinstance(t, Rel) for t in tree.items):
        return list(tree.items)
    return None


def _var(expr: sympy.Basic, task: Task) -> sympy.Symbol:
    free = sorted(expr.free_symbols, key=lambda s: s.name)
    if task.var:
        for s in free:
            if s.name == task.var:
                return s
        return sympy.Symbol(task.var)
    if len(free) == 1:
        return free[0]
    named_x = [s for s in free if s.name == "x"]
    if named_x:
        return named_x[0]
    raise Unsure("which variable?")


def _number(text: str | None) -> sympy.Expr:
    if text is None:
        raise Unsure("missing value")
    tree, _ = _parse(text)
    value = exact(tree)
    if not isinstance(value, sympy.Expr) or value.free_symbols:
        raise Unsure("not a number")
    return value


_CALCULUS = (sympy.Integral, sympy.Limit, sympy.Derivative)


def _expression(task: Task, parsed: list[tuple[Any, bool, str]], need_free: bool) -> tuple[sympy.Expr, Any, str]:
    """(value, display tree, text) of the one expression the question is about: the longest run that is an
    expression (``y = …`` and ``f(x) = …`` give their right-hand side)."""
    found: list[tuple[sympy.Expr, Any, str]] = []
    for tree, _, text in parsed:
        if isinstance(tree, Rel) and tree.op == "=" and isinstance(tree.lhs, sympy.Symbol) \
                and isinstance(tree.rhs, sympy.Expr):
            tree = tree.rhs  # y = x^2 + 1
        if not isinstance(tree, sympy.Expr) or isinstance(tree, sympy.Symbol):
            continue
        if isinstance(tree, _CALCULUS):
            found.append((tree, tree, text))
            continue
        value = exact(tree)
        if need_free and not value.free_symbols:
            continue
        found.append((value, tree, text))
    if not found:
        raise Unsure("no expression")
    found.sort(key=lambda f: -len(f[2]))
    if len(found) > 1 and len(found[0][2]) == len(found[1][2]) and found[0][0] != found[1][0]:
        raise Unsure("two candidate expressions")
    return found[0]


def _solutions(var: sympy.Symbol, values: list[sympy.Expr]) -> tuple[str, str]:
    values = sorted(values, key=lambda v: (sympy.re(v).evalf(), sympy.im(v).evalf()))
    reference = ", ".join(f"{var.name} = {tex(v)}" for v in values)
    shown = r" \text{ or } ".join(f"{tex(var)} = {tex(v)}" for v in values)
    return reference, shown


def _real_set(var: sympy.Symbol, found: sympy.Set) -> tuple[str, str]:
    if found == sympy.S.EmptySet:
        return "no solution", r"\varnothing \text{ (no solution)}"
    if found == sympy.S.Reals:
        return "all real numbers", r"\mathbb{R}"
    if isinstance(found, sympy.FiniteSet):
        return _solutions(var, list(found))
    if isinstance(found, (sympy.Interval, sympy.Union)) and all(
            isinstance(a, sympy.Interval) for a in (found.args if isinstance(found, sympy.Union) else (found,))):
        return tex(found), f"{tex(var)} \\in {tex(found)}"
    raise Unsure(f"solution set {type(found).__name__}")


def _solve_one(rel: Rel, task: Task) -> CasResult:
    lhs, rhs = exact(rel.lhs), exact(rel.rhs)
    var = _var(lhs - rhs, task)
    if (lhs - rhs).free_symbols - {var}:
        raise Unsure("parameters")
    if rel.op == "=":
        question = f"{tex(lhs)} = {tex(rhs)}"
        found = sympy.solveset(lhs - rhs, var, domain=sympy.S.Reals)
        if found == sympy.S.EmptySet:
            complex_found = sympy.solveset(lhs - rhs, var)
            if isinstance(complex_found, sympy.FiniteSet) and len(complex_found):
                ref, shown = _solutions(var, list(complex_found))
                return CasResult("solve", question, r"\text{no real solution; } " + shown, ("no solution", ref))
        ref, shown = _real_set(var, found)
        return CasResult("solve", question, shown, (ref,))
    real = sympy.Symbol(var.name, real=True)
    ops = {"<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge}
    if rel.op not in ops:
        raise Unsure("≠")
    relation = ops[rel.op](lhs, rhs).xreplace({var: real})
    found = sympy.solve_univariate_inequality(relation, real, relational=False)
    ref, shown = _real_set(var, found)
    return CasResult("solve", tex(ops[rel.op](lhs, rhs)), shown.replace(tex(real), tex(var)), (ref,))


def _solve_chain(chain: Chain, task: Task) -> CasResult:
    ops = {"<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge}
    relations = [ops[r.op](exact(r.lhs), exact(r.rhs)) for r in chain.rels if r.op in ops]
    if len(relations) != len(chain.rels):
        raise Unsure("mixed chain")
    free = set().union(*(r.free_symbols for r in relations))
    var = _var(sympy.Add(*free) if free else sympy.Integer(0), task)
    real = sympy.Symbol(var.name, real=True)
    found = sympy.S.Reals
    for r in relations:
        found = found.intersect(sympy.solve_univariate_inequality(r.xreplace({var: real}), real, relational=False))
    ref, shown = _real_set(var, found)
    return CasResult("solve", r" \text{ and } ".join(tex(r) for r in relations), shown, (ref,))


def _given(rel: Rel) -> bool:
    """``a_1 = 10``: a value handed to the student, not an equation to solve."""
    return rel.op == "=" and isinstance(rel.lhs, sympy.Symbol) and isinstance(rel.rhs, sympy.Expr) \
        and not exact(rel.rhs).free_symbols


def _system(rels: list[Rel]) -> CasResult:
    if all(_given(r) for r in rels):
        raise Unsure("only given values")
    eqs = [sympy.Eq(exact(r.lhs), exact(r.rhs)) for r in rels if r.op == "="]
    if len(eqs) != len(rels) or len(eqs) < 2:
        raise Unsure("not a system of equations")
    syms = sorted(set().union(*(e.free_symbols for e in eqs)), key=lambda s: s.name)
    if len(syms) != len(eqs) or len(syms) > 4:
        raise Unsure("unknowns and equations differ")
    found = sympy.solve(eqs, syms, dict=True)
    question = r" ,\quad ".join(tex(e) for e in eqs)
    if not found:
        return CasResult("system", question, r"\varnothing \text{ (no solution)}", ("no solution",))
    if len(found) != 1 or set(found[0]) != set(syms) or any(v.free_symbols for v in found[0].values()):
        raise Unsure("several or infinitely many solutions")
    sol = found[0]
    reference = ", ".join(f"{s.name} = {tex(sol[s])}" for s in syms)
    shown = r",\ ".join(f"{tex(s)} = {tex(sol[s])}" for s in syms)
    return CasResult("system", question, shown, (reference,))


def _limit(f: sympy.Expr, var: sympy.Symbol, point: sympy.Expr, direction: str | None = None) -> sympy.Expr:
    if point.is_infinite:
        value = sympy.limit(f, var, point)
    else:
        value = sympy.limit(f, var, point, direction or "+-")
    if value.has(sympy.Limit, sympy.AccumBounds) or value in (sympy.zoo, sympy.nan):
        raise Unsure("no limit")
    return value


def _calculus(op: str, task: Task, parsed: list[tuple[Any, bool, str]]) -> CasResult:
    f, shown, text = _expression(task, parsed, need_free=op not in ("evaluate", "simplify"))
    if isinstance(f, sympy.Integral):
        op, integrand = "integrate", exact(f.function)
        (var, *bounds) = f.limits[0]
        lower, upper = (exact(b) for b in bounds) if len(bounds) == 2 else (None, None)
        return _integral(integrand, var, lower, upper)
    if isinstance(f, sympy.Limit):
        expr, var, point = exact(f.args[0]), f.args[1], exact(f.args[2])
        value = _limit(expr, var, point)
        return CasResult("limit", tex(sympy.Limit(expr, var, point, "+-" if not point.is_infinite else "+")),
                         tex(value), (tex(value),))
    if isinstance(f, sympy.Derivative):
        op, expr = "diff", exact(f.expr)
        var, order = f.variable_count[0]
        d = sympy.diff(expr, var, order)
        return CasResult("diff", tex(sympy.Derivative(expr, (var, order))), tex(d), (tex(d),))
    if op == "diff":
        var = _var(f, task)
        d = sympy.diff(f, var, task.order)
        question = tex(sympy.Derivative(f, (var, task.order)))
        if task.subs:
            point = _number(task.subs[0][1])
            value = sympy.simplify(d.subs(var, point))
            question += rf"\Big|_{{{tex(var)} = {tex(point)}}}"
            return CasResult("diff", question, tex(value), (tex(value),))
        return CasResult("diff", question, tex(d), (tex(d),))
    if op == "integrate":
        var = _var(f, task)
        lower = _number(task.lower) if task.lower is not None else None
        upper = _number(task.upper) if task.upper is not None else None
        return _integral(f, var, lower, upper)
    if op == "limit":
        var = _var(f, task)
        point = _number(task.point)
        value = _limit(f, var, point)
        return CasResult("limit", tex(sympy.Limit(f, var, point, "+-" if not point.is_infinite else "+")),
                         tex(value), (tex(value),))
    if op in ("simplify", "factor", "expand"):
        if op in ("factor", "expand") and not f.free_symbols:
            raise Unsure("factor/expand a number")
        result = {"simplify": sympy.simplify, "factor": sympy.factor, "expand": sympy.expand}[op](f)
        form = _FORMS[op]
        if op == "factor" and not isinstance(result, (sympy.Mul, sympy.Pow)):
            form = None  # irreducible: nothing to factor
        return CasResult(op, tex(f), tex(result), (tex(result),), form)
    # evaluate: a bare number, or several numbers in words, is a word problem we do not read
    if not task.subs and (not _OPERATOR.search(text) or sum(bool(re.search(r"\d", r)) for r in task.runs) > 1):
        raise Unsure("a word problem")
    if task.subs:
        var_name, text = task.subs[0]
        var = _var(f, Task("", (), var_name or task.var))
        point = _number(text)
        f = f.subs(var, point)
    if f.free_symbols:
        raise Unsure("has variables")
    value = sympy.simplify(f)
    return CasResult("evaluate", tex(shown) if not task.subs else tex(f), tex(value), (tex(value),))


def _integral(f: sympy.Expr, var: sympy.Symbol, lower: sympy.Expr | None, upper: sympy.Expr | None) -> CasResult:
    if lower is None or upper is None:
        antiderivative = sympy.integrate(f, var)
        if antiderivative.has(sympy.Integral):
            raise Unsure("no closed form")
        shown = tex(antiderivative) + " + C"
        return CasResult("integrate", tex(sympy.Integral(f, var)), shown, (shown,))
    value = sympy.integrate(f, (var, lower, upper))
    if value.has(sympy.Integral) or not value.is_finite:
        raise Unsure("no finite value")
    value = sympy.simplify(value)
    return CasResult("integrate", tex(sympy.Integral(f, (var, lower, upper))), tex(value), (tex(value),))


def compute(task: Task) -> CasResult:
    """Raises :class:`Unsure` when the result would not be trustworthy."""
    parsed = _parsed_runs(task)
    if not parsed:
        raise Unsure("no readable math")
    op = task.op
    rel_runs = [rels for tree, _, _ in parsed if (rels := _rels(tree))]
    chains = [tree for tree, _, _ in parsed if isinstance(tree, Chain)]
    calculus = any(isinstance(t, (sympy.Integral, sympy.Limit, sympy.Derivative)) for t, _, _ in parsed)
    equations = [r for rels in rel_runs for r in rels]
    if not calculus and (op in ("system", "solve", "") and len(equations) >= 2
                         and all(r.op == "=" for r in equations)):
        return _system(equations)
    if not calculus and op in ("solve", "") and chains and not rel_runs:
        return _solve_chain(chains[0], task)
    if not calculus and op in ("solve", "") and rel_runs:
        if op == "" and _given(rel_runs[0][0]):
            raise Unsure("a given value, not a question")
        return _solve_one(rel_runs[0][0], task)
    if op == "solve" and any(labelled for _, labelled, _ in parsed):  # zeros of f(x) = …: f(x) = 0
        tree = next(t for t, labelled, _ in parsed if labelled)
        return _solve_one(Rel("=", tree, sympy.Integer(0)), task)
    if op in ("", "solve", "system"):
        op = "evaluate"
    return _calculus(op, task, parsed)


def solve_problem(problem: str) -> CasResult | None:
    """The question's answer by sympy, or ``None`` (not understood, not trustworthy, or not comparable).
    Call it in a worker process: it has no time limit of its own."""
    from checker.worker import check_here

    task = recognize(problem)
    if task is None:
        return None
    try:
        result = compute(task)
    except (Unsure, ParseError, TooLarge, NotImplementedError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, ZeroDivisionError, RecursionError):
        return None
    rules = Rules(form=result.form)
    references = tuple(r for r in result.references if check_here(r, r, rules).equivalent)
    if not references:
        return None  # the checker could not read sympy's answer back: better say nothing than mislead
    return CasResult(result.op, result.question, result.expected, references, result.form, task.lang)
