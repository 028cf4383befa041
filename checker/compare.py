"""Is the student's answer equivalent to the reference? Dispatch on what the reference is, then decide.

Rules (also in docs/checker.md):
* Values and expressions: equal by ``checker.numeric.equal`` (exact arithmetic, 60-digit constants, random points).
* Decimals: a decimal answer to an exact reference is accepted when the reference, rounded or truncated at the
  answer's last digit, gives the answer, and the answer has at least 3 significant figures (``0.866`` for
  ``√3/2`` yes; ``0.87`` is "too few figures"). An exact answer to a decimal reference must round to it. With
  ``tolerance=`` a numeric answer within the tolerance is accepted instead.
* Percent, degrees: ``25%`` is ``0.25``; ``30°`` is ``π/6``. A bare ``25`` for ``25%`` and a bare ``30`` for
  ``30°`` are accepted with a reminder of the sign; a bare ``30`` for ``π/6`` is not (it is 30 radians).
* Units: quantities compare in SI (``5 cm`` ≡ ``0.05 m``); a different dimension or a right number with the
  wrong unit is named. A missing unit is accepted unless ``units_required=True``.
* Antiderivatives: when the reference has a constant ``C`` (or ``K``), the answer may differ by any constant
  and must have its own; a missing ``+ C`` is named.
* Equations: proportional forms are equal (``2x+4y-3=0`` ≡ ``y = -x/2 + 3/4``), and so are equations in one
  variable with the same real solutions. ``y = f(x)`` also matches the bare expression ``f(x)``. A label
  (``f'(x) =``) must match when both sides have one.
* Sets of solutions, intervals, points and matrices: see ``checker.compare_sets``.
Not covered: wording (``checker.feedback``), form rules (``checker.forms``).
"""

from __future__ import annotations

import sympy

from checker import compare_sets
from checker.forms import form_problem
from checker.nodes import Degrees, Percent, exact, has_decimal
from checker.numeric import (
    agrees_to_digits,
    constant_ratio,
    decimal_of,
    differ_by_constant,
    equal,
    pairs_at_points,
)
from checker.show import tex
from checker.units import dimension, dimension_name, to_si
from checker.values import (
    KIND_NAMES,
    Equation,
    Expr,
    Labelled,
    Matrix,
    Pair,
    Point,
    Region,
    Solutions,
    Value,
)
from checker.verdict import Outcome, Rules, outcome

CORRECT = outcome(True, "correct")
_CONSTANT_NAMES = {"C", "K", "C_1", "c_1", "C_{0}", "C_0"}


def _integration_constant(e: sympy.Expr) -> sympy.Symbol | None:
    for s in e.free_symbols:
        if s.name in _CONSTANT_NAMES and sympy.diff(e, s) == 1:
            return s
    return None


def _within_tolerance(av: sympy.Expr, rv: sympy.Expr, rules: Rules) -> bool | None:
    if rules.tolerance is None or av.free_symbols or rv.free_symbols or not (av.is_real and rv.is_real):
        return None
    diff = abs(av - rv).evalf(30)
    relative = rules.relative_tolerance()
    if relative is not None:
        return bool(diff <= relative * abs(rv).evalf(30))
    return bool(diff <= rules.tolerance)


def _decimal_rule(a_tree: sympy.Basic, av: sympy.Expr, r_tree: sympy.Basic, rv: sympy.Expr) -> Outcome | None:
    """The significant-digits rule for decimals (module docstring); ``None`` when it does not apply."""
    if av.free_symbols or rv.free_symbols:
        if has_decimal(a_tree) and av.free_symbols == rv.free_symbols:
            sigs = [decimal_of(f) for f in a_tree.atoms(sympy.Float)]
            sig = min((d.sig for d in sigs if d), default=0)
            found = pairs_at_points(av, rv)
            tol = sympy.Float(10) ** (1 - sig)
            if sig >= 3 and len(found) >= 3 and all(
                    abs(a[0] - r[0]) + abs(a[1] - r[1]) <= tol * max(abs(r[0]) + abs(r[1]), 1) for a, r in found):
                return CORRECT
        return None
    a_dec, r_dec = decimal_of(a_tree), decimal_of(r_tree)
    if a_dec and (not r_dec or a_dec.place > r_dec.place):
        if agrees_to_digits(rv, a_dec):
            need = 3 if not r_dec else min(3, r_dec.sig)
            return CORRECT if a_dec.sig >= need else outcome(False, "precision")
        if _near(av, rv, a_dec.place + 1):
            return outcome(False, "rounding")
    elif r_dec:
        if agrees_to_digits(av, r_dec):
            return CORRECT
        if a_dec and _near(av, rv, r_dec.place + 1):
            return outcome(False, "rounding")
    return None


def _near(av: sympy.Expr, rv: sympy.Expr, place: int) -> bool:
    """|av - rv| ≤ 10^place, for real numbers (a slip in the last digits rather than a wrong answer)."""
    if not (av.is_real and rv.is_real):
        return False
    diff = abs(av - rv).evalf(30)
    return bool(diff.is_number and diff <= sympy.Float(10, 30) ** place)


def _scaled_notes(a_tree: sympy.Basic, av: sympy.Expr, r_tree: sympy.Basic, rv: sympy.Expr) -> Outcome | None:
    """Percent and degree signs: accepted reminders and "did you mean" hints."""
    if av.free_symbols or rv.free_symbols:
        return None
    if isinstance(a_tree, (Percent, Degrees)) and not r_tree.has(Percent, Degrees):
        if equal(exact(a_tree.args[0]), rv):  # 45° for a reference written "45": its sign was left out
            return CORRECT
    if a_tree.has(Percent) or a_tree.has(Degrees):
        return None
    if isinstance(r_tree, Percent) and equal(av, rv * 100):
        return outcome(True, "correct", note="percent_sign")
    if isinstance(r_tree, Degrees) and equal(av, rv * 180 / sympy.pi):
        return outcome(True, "correct", note="degree_sign")
    if not r_tree.has(Degrees) and rv != 0 and equal(av * sympy.pi / 180, rv):
        return outcome(False, "radians", value=tex(a_tree))
    if not r_tree.has(Percent) and rv != 0 and equal(av / 100, rv):
        return outcome(False, "did_you_mean_percent", value=tex(a_tree))
    return None


def compare_values(a_tree: sympy.Basic, r_tree: sympy.Basic, rules: Rules, source: str = "",
                   scale: sympy.Expr = sympy.S.One) -> Outcome:
    """Two expressions as typed; ``scale`` converts the reference into the answer's unit."""
    av, rv = exact(a_tree), exact(r_tree) * scale
    if (const := _integration_constant(rv)) is not None:
        mine = _integration_constant(av)
        f, g = rv.subs(const, 0), av.subs(mine, 0) if mine is not None else av
        if equal(g, f) or differ_by_constant(g, f):
            return CORRECT if mine is not None else outcome(False, "missing_constant")
        if differ_by_constant(g, -f):
            return outcome(False, "sign")
        return outcome(False, "incorrect")
    tolerated = _within_tolerance(av, rv, rules)
    if tolerated is not None:
        if tolerated:
            return CORRECT
        return outcome(False, "sign" if rv != 0 and equal(av, -rv) else "incorrect")
    if equal(av, rv):
        found = form_problem(rules.form, a_tree, r_tree if scale == 1 else rv, source)
        if found:
            return outcome(False, found[0], factor=tex(found[1]) if found[1] is not None else "")
        return CORRECT
    decided = _decimal_rule(a_tree, av, r_tree if scale == 1 else rv, rv)
    if decided is not None:
        if decided.equivalent and rules.form == "exact" and has_decimal(a_tree) and not has_decimal(r_tree):
            return outcome(False, "form_exact")
        return decided
    noted = _scaled_notes(a_tree, av, r_tree, rv)
    if noted is not None:
        return noted
    if rv != 0 and (equal(av, -rv) or ((dec := decimal_of(a_tree)) is not None and agrees_to_digits(-rv, dec))):
        return outcome(False, "sign")
    extra = sorted(s.name for s in av.free_symbols - rv.free_symbols)
    if extra:
        return outcome(False, "variables", got=", ".join(extra),
                       want=", ".join(sorted(s.name for s in rv.free_symbols)))
    return outcome(False, "incorrect")


def compare_quantities(a: Expr, r: Expr, rules: Rules, source: str) -> Outcome:
    if r.unit is None or (a.unit is None and not rules.units_required):
        return compare_values(a.tree, r.tree, rules, source)
    if a.unit is None:
        return outcome(False, "units_missing", unit=r.unit_latex)
    if dimension(a.unit) != dimension(r.unit):
        return outcome(False, "units_dimension", got=dimension_name(a.unit), want=dimension_name(r.unit))
    ratio = sympy.nsimplify(to_si(r.unit / a.unit))  # reference unit in answer units, e.g. m/cm = 100
    found = compare_values(a.tree, r.tree, rules, source, scale=ratio)
    if not found.equivalent and ratio != 1 and equal(exact(a.tree), exact(r.tree)):
        return outcome(False, "units_value")
    return found


def _explicit_rhs(e: Equation) -> sympy.Expr | None:
    """``y = 2x + 1`` → ``2x + 1`` (a variable alone on the left, not on the right)."""
    if isinstance(e.lhs, sympy.Symbol) and e.lhs not in exact(e.rhs).free_symbols:
        return e.rhs
    return None


def compare_equations(a: Equation, r: Equation) -> Outcome:
    fa, fr = exact(a.lhs) - exact(a.rhs), exact(r.lhs) - exact(r.rhs)
    if fa == 0 or fr == 0:
        return CORRECT if equal(fa, fr) else outcome(False, "incorrect")
    if constant_ratio(fa, fr) is not None:
        return CORRECT
    free = fa.free_symbols | fr.free_symbols
    if len(free) == 1:
        var = next(iter(free))
        try:
            sa, sr = (sympy.solveset(f, var, sympy.S.Reals) for f in (fa, fr))
            if isinstance(sa, sympy.FiniteSet) and isinstance(sr, sympy.FiniteSet):
                return compare_sets.compare_solutions(Solutions(var, tuple(sa)), Solutions(var, tuple(sr)),
                                                      Rules())
            if sa == sr:
                return CORRECT
        except (NotImplementedError, ValueError, TypeError):
            pass
    return outcome(False, "incorrect")


def _solve(e: Equation) -> Solutions | None:
    f = exact(e.lhs) - exact(e.rhs)
    if len(f.free_symbols) != 1:
        return None
    var = next(iter(f.free_symbols))
    try:
        found = sympy.solveset(f, var, sympy.S.Reals)
    except (NotImplementedError, ValueError, TypeError):
        return None
    return Solutions(var, tuple(found)) if isinstance(found, sympy.FiniteSet) else None


def _open_interval(p: Pair) -> sympy.Set | None:
    """``(a, b)`` read as an open interval, when both ends are real numbers in order."""
    lo, hi = exact(p.a), exact(p.b)
    if not all(v.is_extended_real and not v.free_symbols for v in (lo, hi)) or not bool((hi > lo) is sympy.true):
        return None
    return sympy.Interval.open(lo, hi)


def _kind(a: Value, r: Value) -> Outcome:
    return outcome(False, "kind", got=KIND_NAMES[type(a)], want=KIND_NAMES[type(r)])


def compare(a: Value, r: Value, rules: Rules, source: str = "") -> Outcome:
    """Decide whether answer ``a`` is equivalent to reference ``r`` under ``rules``."""
    if isinstance(r, Labelled):
        if isinstance(a, Labelled) and a.key != r.key:
            return outcome(False, "label", got=a.latex, want=r.latex)
        return compare(a.inner if isinstance(a, Labelled) else a, r.inner, rules, source)
    if isinstance(a, Labelled):
        return compare(a.inner, r, rules, source)
    if isinstance(r, Expr):
        if isinstance(a, Expr):
            return compare_quantities(a, r, rules, source)
        if isinstance(a, Solutions) and len(a.values) == 1:
            return compare_values(a.values[0], r.tree, rules, source)
        if isinstance(a, Equation) and (rhs := _explicit_rhs(a)) is not None:
            return compare_values(rhs, r.tree, rules, source)
        return _kind(a, r)
    if isinstance(r, Equation):
        if isinstance(a, Equation):
            return compare_equations(a, r)
        if isinstance(a, Expr) and (rhs := _explicit_rhs(r)) is not None:
            return compare_values(a.tree, rhs, rules, source)
        if isinstance(a, Solutions) and (solved := _solve(r)) is not None:
            return compare_sets.compare_solutions(a, solved, rules)
        return _kind(a, r)
    if isinstance(r, Solutions):
        if isinstance(a, Expr):
            a = Solutions(None, (a.tree,))
        if isinstance(a, Solutions):
            return compare_sets.compare_solutions(a, r, rules)
        if isinstance(a, Region) and isinstance(a.set, sympy.FiniteSet):
            return compare_sets.compare_solutions(Solutions(a.var, tuple(a.set)), r, rules)
        return _kind(a, r)
    if isinstance(r, Region):
        if isinstance(a, Pair):
            if (interval := _open_interval(a)) is None:
                return _kind(a, r)
            a = Region(None, interval)
        if isinstance(a, Solutions) and not a.values:
            a = Region(a.var, sympy.S.EmptySet)
        if isinstance(a, Region):
            return compare_sets.compare_regions(a, r)
        return _kind(a, r)
    if isinstance(r, Pair):
        if isinstance(a, Region):
            if (interval := _open_interval(r)) is None:
                return _kind(a, r)
            return compare_sets.compare_regions(a, Region(None, interval))
        if isinstance(a, (Pair, Point)):
            return compare_sets.compare_points(a, Point((r.a, r.b)), rules, source)
        return _kind(a, r)
    if isinstance(r, Point):
        if isinstance(a, (Pair, Point)):
            return compare_sets.compare_points(a, r, rules, source)
        return _kind(a, r)
    if isinstance(r, Matrix):
        if isinstance(a, Matrix):
            return compare_sets.compare_matrices(a, r, rules, source)
        return _kind(a, r)
    return _kind(a, r)

