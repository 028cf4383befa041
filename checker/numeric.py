"""Deciding whether two exact sympy values are equal: exact arithmetic, high-precision numbers, random points.

* Constants: equal rationals are equal and different rationals differ, exactly (so ``1/2^99`` ≠ ``1/2^98`` and
  ``1/2004!`` ≠ ``1/2006!``); other constants are evaluated to 60 digits and must agree to 45 of them, relative
  to their size (never an absolute tolerance, which is how tiny numbers get confused).
* Expressions with variables: both are evaluated (30 digits) at 8 pseudo-random points (seeded by the variable
  names, so verdicts are reproducible). A point where either side is undefined, or real on one side and not
  on the other, is skipped (``ln(x^2)`` vs ``2 ln x`` agree where both are defined). Any point where they
  differ decides "not equal", even if sympy's ``simplify`` would say otherwise; agreement at 3 or more points
  decides "equal", even where ``simplify`` cannot reach 0. With fewer usable points, ``simplify(a - r) == 0``
  decides.
* Decimals: :class:`Dec` records the digits a student typed; :func:`agrees_to_digits` applies the rounding rule.
Not covered: which of these rules applies to which kind of answer (``checker.compare``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext

import sympy
from sympy import Float, Rational

from checker.nodes import Percent

_DIGITS = 30
_REL = sympy.Float("1e-20", 30)
_N_POINTS = 8


def _is_zeroish(v: sympy.Expr) -> bool:
    """A Float that evalf produced without significance (``0.e-168``): the expression is 0 at this point."""
    return isinstance(v, Float) and (v._mpf_[1] == 0 or v._prec < 20)


def evaluate(e: sympy.Expr, point: dict | None = None, digits: int = _DIGITS
             ) -> tuple[sympy.Expr, sympy.Expr] | None:
    """(real, imaginary) parts at ``point``; ``None`` where undefined or infinite."""
    try:
        v = e.evalf(digits, subs=point) if point else e.evalf(digits)
    except (ZeroDivisionError, ValueError, TypeError, OverflowError, ArithmeticError):
        return None
    if not v.is_number or v.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return None
    re_, im_ = v.as_real_imag()
    re_, im_ = (sympy.Integer(0) if _is_zeroish(p) else p for p in (re_, im_))
    if not (re_.is_Number and im_.is_Number):
        return None
    return re_, im_


def _close(u: tuple, v: tuple) -> bool:
    d = abs(u[0] - v[0]) + abs(u[1] - v[1])
    if d == 0:
        return True
    scale = max(abs(u[0]) + abs(u[1]), abs(v[0]) + abs(v[1]))
    return bool(d <= _REL * scale)


def _is_real(v: tuple) -> bool:
    return bool(v[1] == 0 or abs(v[1]) <= _REL * abs(v[0]))


def points(symbols: list[sympy.Symbol], n: int = _N_POINTS) -> list[dict]:
    rng = random.Random("|".join(s.name for s in symbols))
    out = []
    for k in range(n):
        pt = {}
        for s in symbols:
            magnitude = Rational(rng.randint(23, 347), 97)
            pt[s] = -magnitude if (k + rng.randint(0, 1)) % 2 else magnitude
        out.append(pt)
    return out


def pairs_at_points(a: sympy.Expr, r: sympy.Expr, mixed: list | None = None) -> list[tuple[tuple, tuple]]:
    """(value of a, value of r) at the sample points where both are defined and of the same realness.
    Points where both are defined but only one is real are appended to ``mixed`` when it is given."""
    syms = sorted((a.free_symbols | r.free_symbols), key=lambda s: s.name)
    out = []
    for pt in points(syms):
        va, vr = evaluate(a, pt), evaluate(r, pt)
        if va is None or vr is None:
            continue
        if _is_real(va) != _is_real(vr):
            if mixed is not None:
                mixed.append(pt)
            continue
        out.append((va, vr))
    return out


def const_equal(a: sympy.Expr, r: sympy.Expr) -> bool:
    if a == r:
        return True
    if a.is_Rational and r.is_Rational:
        return False
    if a.is_infinite or r.is_infinite or a.has(sympy.nan) or r.has(sympy.nan):
        return False
    va, vr = evaluate(a, digits=60), evaluate(r, digits=60)
    if va is None or vr is None:
        return bool(sympy.simplify(a - r) == 0)
    d = abs(va[0] - vr[0]) + abs(va[1] - vr[1])
    scale = max(abs(va[0]) + abs(va[1]), abs(vr[0]) + abs(vr[1]))
    return bool(d == 0 or d <= Float("1e-45", 60) * scale)


def equal(a: sympy.Expr, r: sympy.Expr) -> bool:
    """``a`` and ``r`` (exact, evaluated) are the same value or the same function of their variables."""
    if a == r:
        return True
    if not (a.free_symbols | r.free_symbols):
        return const_equal(a, r)
    mixed: list = []
    found = pairs_at_points(a, r, mixed)
    if any(not _close(va, vr) for va, vr in found):
        return False
    if len(found) >= 3:
        return True
    if len(mixed) >= 3:
        return False  # real on one side and not on the other at every usable point
    return bool(sympy.simplify(a - r) == 0)


def constant_ratio(f: sympy.Expr, g: sympy.Expr) -> sympy.Expr | None:
    """The constant ``k`` with ``f = k·g`` everywhere (checked at the sample points), else ``None``."""
    found = pairs_at_points(f, g)
    ratios = [(vf[0] + sympy.I * vf[1]) / (vg[0] + sympy.I * vg[1]) for vf, vg in found if (vg[0], vg[1]) != (0, 0)]
    if len(ratios) < 3:
        return None
    k = ratios[0]
    if abs(k) == 0 or any(abs(q - k) > _REL * abs(k) for q in ratios[1:]):
        return None
    return sympy.nsimplify(k, rational=True, tolerance=1e-15) if k.is_real else k


def differ_by_constant(a: sympy.Expr, r: sympy.Expr) -> bool:
    """``a - r`` is the same number at every sample point (antiderivatives)."""
    found = pairs_at_points(a, r)
    diffs = [(va[0] - vr[0], va[1] - vr[1]) for va, vr in found]
    if len(diffs) < 3:
        return False
    scale = max(abs(va[0]) + abs(va[1]) for va, _ in found)
    return all(abs(d[0] - diffs[0][0]) + abs(d[1] - diffs[0][1]) <= _REL * max(scale, 1) for d in diffs)


@dataclass(frozen=True)
class Dec:
    """A decimal as typed: its exact value, the power of ten of its last digit, its significant digits."""

    value: Rational
    place: int
    sig: int


def decimal_of(tree: sympy.Expr) -> Dec | None:
    """The decimal a display tree consists of (``0.866``, ``-3.14159``, ``6.02×10^23``, ``12.5%``), else None."""
    sign, scale = 1, 0
    while True:
        if isinstance(tree, sympy.Mul) and len(tree.args) == 2 and tree.args[0] == -1:
            sign, tree = -sign, tree.args[1]
        elif isinstance(tree, Percent):
            scale, tree = scale - 2, tree.args[0]
        elif (isinstance(tree, sympy.Mul) and len(tree.args) == 2 and isinstance(tree.args[1], sympy.Pow)
              and tree.args[1].base == 10 and tree.args[1].exp.is_Integer):
            scale, tree = scale + int(tree.args[1].exp), tree.args[0]
        else:
            break
    if not isinstance(tree, Float):
        return None
    d = Decimal(str(tree))
    digits = d.as_tuple()
    sig = len("".join(map(str, digits.digits)).lstrip("0")) or 1
    value = Rational(str(d)) * sign * Rational(10) ** scale
    return Dec(value, int(digits.exponent) + scale, sig)


def _to_decimal(value: sympy.Expr, place: int) -> Decimal:
    """``value`` as a Decimal with 20 digits beyond ``place``."""
    rough = value.evalf(15)
    int_digits = 1 if rough == 0 else max(1, int(sympy.floor(sympy.log(abs(rough), 10))) + 1)
    return Decimal(str(value.evalf(max(int_digits, 1) + max(-place, 0) + 20)))


def agrees_to_digits(value: sympy.Expr, dec: Dec) -> bool:
    """``value`` rounded (half up or half even) or truncated at the place of ``dec``'s last digit equals ``dec``."""
    if not value.is_real:
        return False
    try:
        with localcontext() as ctx:
            ctx.prec = 200
            exact_value = _to_decimal(value, dec.place)
            quantum = Decimal(1).scaleb(dec.place)
            target = Decimal(dec.value.p) / Decimal(dec.value.q)
            return any(exact_value.quantize(quantum, rounding=mode) == target
                       for mode in (ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_DOWN))
    except (ArithmeticError, ValueError, TypeError):
        return False
