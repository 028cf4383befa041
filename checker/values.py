"""What an answer *is*: a value, a list of solutions, an interval, an equation, a point, a matrix.

:func:`classify` turns the parsers' shared representation (``checker.nodes``) into one of the frozen value
classes below; comparison (``checker.compare``) then works on these. Rules applied here:
``x = 2`` (a variable equal to a constant) is a solution; several solutions for one variable
(``x = 2 or x = -3``, ``x=2, x=-3``, ``{2, -3}``, ``x = ±2``) form a :class:`Solutions`; ``±`` expands into two
values; inequalities, chains (``1 < x ≤ 3``), intervals and unions become a :class:`Region` (a real set);
``(a, b)`` stays an ambiguous :class:`Pair` (a point or an open interval — the reference decides);
``x = 1, y = 2`` is a :class:`Point` with named coordinates; other equations are :class:`Equation`.
Not covered: parsing text, deciding equivalence.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Union

import sympy

from checker.lexer import ParseError
from checker.nodes import PM, Bracket, Chain, Items, MatrixLit, Rel, SetLit, Tree, UnionLit, exact


@dataclass(frozen=True)
class Expr:
    tree: sympy.Expr  # as typed (display tree)
    unit: sympy.Expr | None = None  # sympy.physics.units expression, when the answer had units
    unit_latex: str = ""


@dataclass(frozen=True)
class Solutions:
    var: sympy.Symbol | None
    values: tuple[sympy.Expr, ...]  # display trees


@dataclass(frozen=True)
class Region:
    var: sympy.Symbol | None
    set: sympy.Set  # exact real set


@dataclass(frozen=True)
class Equation:
    lhs: sympy.Expr
    rhs: sympy.Expr


@dataclass(frozen=True)
class Pair:
    a: sympy.Expr
    b: sympy.Expr


@dataclass(frozen=True)
class Point:
    items: tuple[sympy.Expr, ...]
    vars: tuple[sympy.Symbol, ...] | None = None


@dataclass(frozen=True)
class Matrix:
    rows: tuple[tuple[sympy.Expr, ...], ...]


@dataclass(frozen=True)
class Labelled:
    key: str  # "f'", "f", "y'" …
    latex: str
    inner: "Value"


Value = Union[Expr, Solutions, Region, Equation, Pair, Point, Matrix, Labelled]
KIND_NAMES = {Expr: "a single value", Solutions: "a list of solutions", Region: "an interval or inequality",
              Equation: "an equation", Pair: "a pair (a, b)", Point: "a point", Matrix: "a matrix",
              Labelled: "an equation"}


def expand_pm(tree: sympy.Expr) -> tuple[sympy.Expr, ...]:
    if not isinstance(tree, sympy.Basic) or PM not in tree.free_symbols:
        return (tree,)
    return tree.xreplace({PM: sympy.Integer(1)}), tree.xreplace({PM: sympy.Integer(-1)})


def _is_expr(tree: Tree) -> bool:
    return isinstance(tree, sympy.Expr)


def _assignment(rel: Rel) -> tuple[sympy.Symbol, tuple[sympy.Expr, ...]] | None:
    """``x = 2`` / ``x = ±2`` / ``x = {1, 2}`` → (x, values); ``None`` for any other relation."""
    if rel.op != "=" or not isinstance(rel.lhs, sympy.Symbol) or rel.lhs is PM:
        if rel.op == "=" and isinstance(rel.rhs, sympy.Symbol) and _is_expr(rel.lhs) and not _free(rel.lhs):
            return _assignment(Rel("=", rel.rhs, rel.lhs))  # 2 = x
        return None
    if isinstance(rel.rhs, SetLit) and all(_is_expr(v) and not _free(v) for v in rel.rhs.items):
        return rel.lhs, tuple(rel.rhs.items)
    if _is_expr(rel.rhs) and not _free(rel.rhs):
        return rel.lhs, expand_pm(rel.rhs)
    return None


def _free(tree: sympy.Expr) -> set:
    return {s for s in tree.free_symbols if s is not PM}


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _region_of(rel: Rel) -> Region:
    """An inequality in one variable → the real set it describes."""
    lhs, rhs = exact(rel.lhs), exact(rel.rhs)
    free = (lhs - rhs).free_symbols
    if len(free) != 1:
        raise ParseError("unsupported", "an inequality in several variables")
    var = next(iter(free))
    op = rel.op
    if rhs == var and not lhs.free_symbols:
        lhs, rhs, op = rhs, lhs, _FLIP.get(op, op)
    if op == "!=":
        if lhs == var and not rhs.free_symbols:
            return Region(var, sympy.Complement(sympy.S.Reals, sympy.FiniteSet(rhs)))
        raise ParseError("unsupported", "≠")
    if lhs == var and not rhs.free_symbols:
        bounds = {"<": (-sympy.oo, rhs, True, True), "<=": (-sympy.oo, rhs, True, False),
                  ">": (rhs, sympy.oo, True, True), ">=": (rhs, sympy.oo, False, True)}[op]
        return Region(var, sympy.Interval(*bounds))
    relation = {"<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge}[op](lhs, rhs)
    real_var = sympy.Symbol(var.name, real=True)
    found = sympy.solve_univariate_inequality(relation.xreplace({var: real_var}), real_var, relational=False)
    return Region(var, found)


def _interval(b: Bracket) -> sympy.Set:
    lo, hi = (exact(v) for v in b.items)
    if lo.is_comparable and hi.is_comparable and bool(lo > hi):
        raise ParseError("empty_interval", f"{b.left}{lo}, {hi}{b.right}")
    return sympy.Interval(lo, hi, b.left == "(", b.right == ")")


def _as_set(value: Value) -> tuple[sympy.Symbol | None, sympy.Set]:
    if isinstance(value, Region):
        return value.var, value.set
    if isinstance(value, Solutions):
        return value.var, sympy.FiniteSet(*(exact(v) for v in value.values))
    if isinstance(value, Pair):
        return None, sympy.Interval.open(exact(value.a), exact(value.b))
    if isinstance(value, Expr) and not _free(value.tree):
        return None, sympy.FiniteSet(exact(value.tree))
    raise ParseError("mixed", "")


def _combine(values: list[Value], seps: tuple[str, ...]) -> Value:
    """A top-level list: solutions of one variable, coordinates of a point, or a union of regions."""
    if all(isinstance(v, Solutions) for v in values):
        names = {v.var for v in values}  # type: ignore[union-attr]
        if len(names) == 1:
            return Solutions(values[0].var, tuple(x for v in values for x in v.values))  # type: ignore[union-attr]
        if None not in names and all(len(v.values) == 1 for v in values):  # type: ignore[union-attr]
            pairs = sorted(((v.var, v.values[0]) for v in values), key=lambda p: p[0].name)  # type: ignore
            return Point(tuple(p[1] for p in pairs), tuple(p[0] for p in pairs))
    if all(isinstance(v, Expr) and not v.unit for v in values):
        return Solutions(None, tuple(v.tree for v in values))  # type: ignore[union-attr]
    if all(isinstance(v, (Solutions, Expr)) for v in values):
        named = [v.var for v in values if isinstance(v, Solutions) and v.var is not None]
        return Solutions(named[0] if named else None,
                         tuple(x for v in values for x in (v.values if isinstance(v, Solutions) else (v.tree,))))
    if any(isinstance(v, Region) for v in values):
        sets = [_as_set(v) for v in values]
        var = next((s[0] for s in sets if s[0] is not None), None)
        joined = sympy.Intersection(*(s[1] for s in sets)) if seps and set(seps) == {"and"} else \
            sympy.Union(*(s[1] for s in sets))
        return Region(var, joined)
    raise ParseError("mixed", "")


def classify(tree: Tree) -> Value:
    """The shared representation → a :data:`Value`; raises :class:`ParseError` for what we cannot compare."""
    if isinstance(tree, Rel):
        assigned = _assignment(tree)
        if assigned:
            return Solutions(*assigned)
        if tree.op == "=":
            if isinstance(tree.lhs, sympy.Symbol) and isinstance(tree.rhs, (Bracket, UnionLit)):
                _, found = _as_set(classify(tree.rhs))
                return Region(tree.lhs, found)  # x ∈ [1, 2) written as x = [1, 2)
            if not (_is_expr(tree.lhs) and _is_expr(tree.rhs)):
                raise ParseError("mixed", "")
            if PM in tree.lhs.free_symbols | tree.rhs.free_symbols:
                raise ParseError("unsupported", "±")
            return Equation(tree.lhs, tree.rhs)
        if not (_is_expr(tree.lhs) and _is_expr(tree.rhs)):
            raise ParseError("mixed", "")
        return _region_of(tree)
    if isinstance(tree, Chain):
        regions = [_region_of(r) for r in tree.rels]
        var = regions[0].var
        return Region(var, sympy.Intersection(*(r.set for r in regions)))
    if isinstance(tree, Items):
        return _combine([classify(t) for t in tree.items], tree.seps)
    if isinstance(tree, SetLit):
        if not tree.items:
            return Solutions(None, ())
        inner = _combine([classify(t) for t in tree.items], ())
        if isinstance(inner, Solutions):
            return inner
        raise ParseError("mixed", "")
    if isinstance(tree, Bracket):
        if all(isinstance(t, Rel) for t in tree.items):
            inner = _combine([classify(t) for t in tree.items], ())
            if isinstance(inner, Point):
                return inner
        if not all(_is_expr(t) for t in tree.items):
            raise ParseError("mixed", "")
        if len(tree.items) == 2:
            infinite = any(exact(t).is_infinite for t in tree.items)
            if tree.left == "(" and tree.right == ")" and not infinite:
                return Pair(*tree.items)
            return Region(None, _interval(tree))
        return Point(tuple(tree.items))
    if isinstance(tree, UnionLit):
        return Region(None, sympy.Union(*(_as_set(classify(p))[1] for p in tree.parts)))
    if isinstance(tree, MatrixLit):
        if len({len(r) for r in tree.rows}) != 1 or not all(_is_expr(x) for r in tree.rows for x in r):
            raise ParseError("mixed", "")
        return Matrix(tree.rows)
    if isinstance(tree, sympy.Set):
        return Region(None, tree)
    if isinstance(tree, sympy.Expr):
        values = expand_pm(tree)
        return Expr(tree) if len(values) == 1 else Solutions(None, values)
    raise ParseError("mixed", "")


def _map_fields(value: object, fn) -> object:
    """Apply ``fn`` to every sympy object inside a value (through tuples and nested values)."""
    if isinstance(value, sympy.Basic):
        return fn(value)
    if isinstance(value, tuple):
        return tuple(_map_fields(v, fn) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _map_fields(getattr(value, f.name), fn) for f in dataclasses.fields(value)
                   if f.name not in ("unit", "key", "latex", "unit_latex")}
        return dataclasses.replace(value, **changes)
    return value


def symbols_of(value: Value) -> set[sympy.Symbol]:
    found: set[sympy.Symbol] = set()
    _map_fields(value, lambda e: found.update(s for s in e.free_symbols if isinstance(s, sympy.Symbol)) or e)
    return found


def align_case(answer: Value, reference: Value) -> Value:
    """``X = 2`` for ``x = 2``: rename the answer's variables that match the reference's only up to case
    (phones capitalise the first letter). Names that exist as typed, or clash, are left alone."""
    mine, theirs = symbols_of(answer), symbols_of(reference)
    by_lower: dict[str, list[sympy.Symbol]] = {}
    for s in theirs:
        by_lower.setdefault(s.name.lower(), []).append(s)
    mapping = {s: by_lower[s.name.lower()][0] for s in mine - theirs
               if len(by_lower.get(s.name.lower(), [])) == 1 and by_lower[s.name.lower()][0] not in mine}
    if not mapping:
        return answer
    return _map_fields(answer, lambda e: e.xreplace(mapping))  # type: ignore[return-value]
