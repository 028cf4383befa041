"""What a parser hands to the classifier: sympy expressions as typed, plus a few plain containers.

Both parsers (``checker.plain`` for typed text, ``checker.latex`` for LaTeX) produce the same intermediate
representation, so everything after parsing is shared:

* an *expression* is an unevaluated sympy tree that mirrors what was typed (``2/4`` stays ``2/4``, ``0.866`` is a
  ``Float`` whose precision is the number of significant digits typed), with :class:`Percent`, :class:`Degrees`
  and the :data:`PM` sign (``±``) as markers;
* :class:`Rel` / :class:`Chain` are (chains of) relations, :class:`Items` is a top-level list (``x=2 or x=-3``),
  :class:`SetLit` a ``{…}`` set, :class:`Bracket` a bracketed pair or tuple (``(1, 2)``, ``[1, 2)``),
  :class:`UnionLit` a union of intervals, :class:`MatrixLit` a matrix.

:func:`exact` turns an expression into the exact evaluated sympy value that comparisons use (decimals become
rationals, percent and degrees are scaled), refusing numbers too large to hold. Not covered: parsing, comparing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Union

import sympy
from sympy import Float, Rational

Tree = Any  # a sympy expression (display tree) or one of the containers below

MAX_BITS = 200_000  # exact integers larger than this (about 60,000 digits) are refused, not computed
MAX_FACTORIAL = 5_000


class TooLarge(Exception):
    """A number in the input is too large to compute exactly (``9^9^9^9``, ``factorial(10^9)``)."""


class Percent(sympy.Function):
    """``25%``: kept as typed for display and feedback; :func:`exact` makes it ``25/100``."""

    nargs = 1

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return _power(printer._print(self.args[0]) + r"\%", printer, exp)


def _power(latex: str, printer: Any, exp: Any) -> str:
    """sympy's printer passes ``exp`` when the function is raised to a power (``(30°)^2``)."""
    return latex if exp is None else rf"\left({latex}\right)^{{{exp if isinstance(exp, str) else printer._print(exp)}}}"


class Degrees(sympy.Function):
    """``30°``: kept as typed; :func:`exact` makes it ``30·π/180`` (angles compare in radians)."""

    nargs = 1

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return _power(printer._print(self.args[0]) + r"^{\circ}", printer, exp)


class LogBase(sympy.Function):
    """``log_2(8)``: a logarithm with a base, shown as typed; :func:`exact` makes it ``log(8)/log(2)``."""

    nargs = 2

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return _power(rf"\log_{{{printer._print(self.args[1])}}}\left({printer._print(self.args[0])}\right)", printer, exp)


class _PlusMinus(sympy.Symbol):
    def _latex(self, printer: Any) -> str:
        return r"\pm"


PM = _PlusMinus("PM_SIGN")  # ``a ± b`` is parsed as ``a + PM·b``; the classifier expands PM = +1 and PM = -1


@dataclass(frozen=True)
class Rel:
    op: str  # one of "=", "<", "<=", ">", ">=", "!="
    lhs: Tree
    rhs: Tree


@dataclass(frozen=True)
class Chain:
    rels: tuple[Rel, ...]  # ``1 < x <= 3``: consecutive relations sharing their middle terms


@dataclass(frozen=True)
class Items:
    items: tuple[Tree, ...]
    seps: tuple[str, ...]  # "," ";" "or" "and", one fewer than items


@dataclass(frozen=True)
class SetLit:
    items: tuple[Tree, ...]


@dataclass(frozen=True)
class Bracket:
    left: str  # "(" or "["
    items: tuple[Tree, ...]
    right: str  # ")" or "]"


@dataclass(frozen=True)
class UnionLit:
    parts: tuple[Tree, ...]


@dataclass(frozen=True)
class MatrixLit:
    rows: tuple[tuple[Tree, ...], ...]


Container = Union[Rel, Chain, Items, SetLit, Bracket, UnionLit, MatrixLit]


def _bits(r: Rational) -> float:
    return math.log2(abs(int(r.p)) + 1) + math.log2(int(r.q) + 1)


def _guard_pow(base: sympy.Basic, exp: sympy.Basic) -> None:
    if base.is_Rational and exp.is_Integer and abs(base) != 1 and base != 0:
        if abs(int(exp)) > MAX_BITS or abs(int(exp)) * _bits(base) > MAX_BITS:
            raise TooLarge("power")
    if exp.is_Integer and abs(int(exp)) > 10_000 and base.free_symbols:
        raise TooLarge("power")  # (x+1)^(10^9) would be expanded by later steps


def exact(tree: sympy.Basic) -> sympy.Basic:
    """The exact, evaluated value of a display tree (bottom-up rebuild with sympy's automatic evaluation)."""
    if isinstance(tree, Float):
        return Rational(str(tree)) if tree.is_finite else tree
    if not isinstance(tree, sympy.Basic) or tree.is_Atom:
        return tree
    if tree is PM:
        return tree
    args = [exact(a) for a in tree.args]
    if isinstance(tree, Percent):
        return args[0] / 100
    if isinstance(tree, Degrees):
        return args[0] * sympy.pi / 180
    if isinstance(tree, LogBase):
        return sympy.log(args[0], args[1])
    if isinstance(tree, sympy.UnevaluatedExpr):
        return args[0]
    if isinstance(tree, sympy.Pow):
        _guard_pow(args[0], args[1])
        base, exp = args
        if base.is_Number and base.is_negative and exp.is_Rational and exp.q % 2 == 1 and not exp.is_Integer:
            return (-1) ** exp.p * (-base) ** exp  # odd roots of negative numbers are real: ∛(-8) = -2
    if isinstance(tree, sympy.factorial):
        if args[0].is_Integer and int(args[0]) > MAX_FACTORIAL:
            raise TooLarge("factorial")
        if args[0].is_Number and not args[0].is_Integer:
            return sympy.gamma(args[0] + 1)
    if isinstance(tree, (sympy.Derivative, sympy.Integral)):
        return tree.func(*args).doit()
    return tree.func(*args)


def has_decimal(tree: Tree) -> bool:
    return isinstance(tree, sympy.Basic) and any(isinstance(a, Float) for a in sympy.preorder_traversal(tree))

