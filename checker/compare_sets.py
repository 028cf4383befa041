"""Comparing collections: solution lists, intervals and inequalities, points, matrices.

* Solutions compare as sets (order and repeats do not matter): every reference value must be matched by an
  equivalent answer value (decimals and form rules apply per value), and the feedback names what was found,
  what is missing and what is extra. When both name a variable, it must be the same one.
* Regions (intervals, unions, inequalities) compare as real sets, endpoint by endpoint: the same endpoints
  with a different bracket give "check the endpoints", the mirror image gives "check the direction".
* Points and matrices compare entry by entry, in order; named coordinates (``x = 1, y = 2``) by name.
Not covered: single values (``checker.compare``).
"""

from __future__ import annotations

import sympy

from checker.nodes import exact
from checker.numeric import equal
from checker.plain import neg
from checker.show import tex
from checker.values import Matrix, Pair, Point, Region, Solutions
from checker.verdict import Outcome, Rules, outcome


def _distinct(values: tuple[sympy.Expr, ...]) -> list[sympy.Expr]:
    out: list[sympy.Expr] = []
    for v in values:
        if not any(equal(exact(v), exact(w)) for w in out):
            out.append(v)
    return out


def _name(var: sympy.Symbol | None, values: list[sympy.Expr]) -> str:
    shown = [tex(v) for v in values]
    if var is None:
        return ", ".join(shown)
    return r" \text{ or } ".join(f"{tex(var)} = {s}" for s in shown)


def compare_solutions(a: Solutions, r: Solutions, rules: Rules) -> Outcome:
    from checker.compare import compare_values  # one value at a time, with the decimal and form rules

    if a.var is not None and r.var is not None and a.var != r.var:
        return outcome(False, "variable", got=tex(a.var), want=tex(r.var))
    var = r.var or a.var
    answers, wanted = _distinct(a.values), _distinct(r.values)
    missing = list(wanted)
    found, extra, form_issue = [], [], None
    for value in answers:
        match = None
        for w in missing:
            result = compare_values(value, w, rules)
            if result.equivalent or result.reason.startswith("form_") or result.reason == "precision":
                match = (w, result)
                break
        if match is None:
            extra.append(value)
            continue
        missing.remove(match[0])
        found.append(value)
        if not match[1].equivalent and form_issue is None:
            form_issue = match[1]
    if not missing and not extra:
        return form_issue or outcome(True, "correct")
    if len(answers) == 1 and len(wanted) == 1:
        return compare_values(answers[0], wanted[0], rules)
    if not wanted:
        return outcome(False, "no_solution")
    if not answers:
        return outcome(False, "has_solutions")
    if not found and len(answers) == len(wanted) and all(
            any(compare_values(neg(v), w, rules).equivalent for w in wanted) for v in answers):
        return outcome(False, "sign")
    return outcome(False, "roots", found=_name(var, found), missing=_name(var, missing), extra=_name(var, extra),
                   n_extra=str(len(extra)))


def _parts(s: sympy.Set) -> list[tuple]:
    """A real set as sorted (start, end, left_open, right_open) pieces; single points are closed pieces."""
    if s == sympy.S.Reals:
        return [(-sympy.oo, sympy.oo, True, True)]
    if isinstance(s, sympy.Union):
        pieces = [p for arg in s.args for p in _parts(arg)]
    elif isinstance(s, sympy.Interval):
        pieces = [(s.start, s.end, bool(s.left_open), bool(s.right_open))]
    elif isinstance(s, sympy.FiniteSet):
        pieces = [(v, v, False, False) for v in s.args]
    elif s == sympy.S.EmptySet:
        pieces = []
    else:
        raise TypeError(f"cannot compare {s}")
    return sorted(pieces, key=lambda p: (sympy.Float(p[0].evalf(30)) if p[0].is_finite else
                                         (-1e308 if p[0] == -sympy.oo else 1e308)))


def _same_point(u: sympy.Expr, v: sympy.Expr) -> bool:
    if u.is_infinite or v.is_infinite:
        return u == v
    return equal(u, v)


def compare_regions(a: Region, r: Region) -> Outcome:
    if a.var is not None and r.var is not None and a.var != r.var:
        return outcome(False, "variable", got=tex(a.var), want=tex(r.var))
    try:
        pa, pr = _parts(a.set), _parts(r.set)
    except TypeError:
        return outcome(True, "correct") if a.set == r.set else outcome(False, "incorrect")
    if len(pa) == len(pr) and all(_same_point(x[0], y[0]) and _same_point(x[1], y[1]) for x, y in zip(pa, pr)):
        for x, y in zip(pa, pr):
            for end, open_a, open_r in ((x[0], x[2], y[2]), (x[1], x[3], y[3])):
                if open_a != open_r and end.is_finite:
                    return outcome(False, "endpoints", point=tex(end), included="no" if open_r else "yes")
        return outcome(True, "correct")
    mirrored = sympy.Complement(sympy.S.Reals, r.set)
    try:
        pm = _parts(mirrored)
        if len(pm) == len(pa) and all(_same_point(x[0], y[0]) and _same_point(x[1], y[1]) for x, y in zip(pa, pm)):
            return outcome(False, "direction")
    except TypeError:
        pass
    return outcome(False, "interval")


def compare_points(a: Pair | Point, r: Point, rules: Rules, source: str) -> Outcome:
    from checker.compare import compare_values

    items = (a.a, a.b) if isinstance(a, Pair) else a.items
    if len(items) != len(r.items):
        return outcome(False, "shape", want=f"have {len(r.items)} coordinates", got=f"{len(items)}")
    if isinstance(a, Point) and a.vars and r.vars and a.vars != r.vars:
        return outcome(False, "variable", got=", ".join(map(tex, a.vars)), want=", ".join(map(tex, r.vars)))
    for i, (x, y) in enumerate(zip(items, r.items), start=1):
        result = compare_values(x, y, rules, source)
        if not result.equivalent:
            if result.reason.startswith("form_"):
                return result
            return outcome(False, "coordinate", index=str(i))
    return outcome(True, "correct")


def compare_matrices(a: Matrix, r: Matrix, rules: Rules, source: str) -> Outcome:
    from checker.compare import compare_values

    shape_a, shape_r = (len(a.rows), len(a.rows[0])), (len(r.rows), len(r.rows[0]))
    if shape_a != shape_r:
        return outcome(False, "shape", want=f"be {shape_r[0]}×{shape_r[1]}", got=f"{shape_a[0]}×{shape_a[1]}")
    for i, (row_a, row_r) in enumerate(zip(a.rows, r.rows), start=1):
        for j, (x, y) in enumerate(zip(row_a, row_r), start=1):
            result = compare_values(x, y, rules, source)
            if not result.equivalent:
                return result if result.reason.startswith("form_") else outcome(False, "entry", row=str(i),
                                                                                 col=str(j))
    return outcome(True, "correct")
