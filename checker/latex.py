"""LaTeX answers (``\\frac{\\sqrt3}{2}``, ``x \\in (-\\infty, 3]``), parsed by latex2sympy2_extended's ANTLR grammar.

We use the grammar-based converter (it builds sympy objects from a parse tree and never evaluates the text) with
three changes made by subclassing its converter (pinned: latex2sympy2_extended 1.11): decimals keep the number
of significant digits typed, ``30^\\circ`` becomes :class:`~checker.nodes.Degrees` instead of being dropped, and
symbols keep their case. Before it, a small pre-pass fixes what the grammar cannot read (``\\sqrt(4)``, unicode
symbols) and splits a top-level list (``x=2 \\text{ or } x=-3``, ``x=2, x=-3``) so that we, not the normaliser,
decide what "or" and "and" mean. The result is converted to the shared representation of ``checker.nodes``.
Not covered: labels such as ``f'(x) =`` and units (``checker.text``, ``checker.units``) — both are taken off first.
"""

from __future__ import annotations

import re
from typing import Any

import sympy
from latex2sympy2_extended import NormalizationConfig, normalize_latex
from latex2sympy2_extended.latex2sympy2 import ConversionConfig, _Latex2Sympy
from sympy import Float, Integer

from checker.lexer import ParseError
from checker.nodes import Bracket, Chain, Degrees, Items, MatrixLit, Percent, Rel, SetLit, Tree, UnionLit
from checker.text import _balanced_end

_NORMALIZE = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=False,
                                 boxed="none", equations=False)
_CONVERT = ConversionConfig(interpret_as_mixed_fractions=True, interpret_simple_eq_as_assignment=False,
                            interpret_contains_as_eq=True, lowercase_symbols=False)
_UNICODE = [("π", r"\pi "), ("√", r"\sqrt"), ("≤", r"\le "), ("≥", r"\ge "), ("≠", r"\neq "), ("×", r"\times "),
            ("·", r"\cdot "), ("−", "-"), ("∞", r"\infty "), ("°", r"^{\circ}"), ("±", r"\pm "),
            (r"\degree", r"^{\circ}"), (r"\varnothing", r"\emptyset"), (r"\approx", "="), (r"\leqslant", r"\leq"),
            (r"\geqslant", r"\geq"), (r"\dfrac", r"\frac"), (r"\tfrac", r"\frac"), (r"\lvert", "|"),
            (r"\rvert", "|"), (r"\mid", "|")]
_SEP = re.compile(r"\s*(?:\\q?quad\s*)*(?:\\text\s*\{\s*(or|and)\s*\}|\\(lor|vee|land|wedge)(?![a-zA-Z])|"
                  r"(?<![A-Za-z\\])(or|and)(?![A-Za-z]))\s*(?:\\q?quad\s*)*")
_THOUSANDS = re.compile(r"^\s*-?\d{1,3}(,\d{3})+(\.\d+)?\s*$")
_ROW = {"lor": "or", "vee": "or", "land": "and", "wedge": "and"}


class _Converter(_Latex2Sympy):
    """latex2sympy2's converter, keeping typed precision and degree signs (see the module docstring)."""

    def parse_number(self, text: str) -> sympy.Expr:
        text = text.replace(",", "")
        if text.isdigit():
            return Integer(text)
        mantissa = re.split(r"[eE]", text)[0].replace(".", "").lstrip("0")
        return Float(text, max(len(mantissa), 1))

    def convert_postfix(self, postfix: Any) -> Any:
        value = super().convert_postfix(postfix)
        if any(op.degree() for op in postfix.postfix_op()) and isinstance(value, sympy.Expr):
            return Degrees(value)
        return value


def _fix_round_brackets(text: str, command: str) -> str:
    r"""``\sqrt(4)`` → ``\sqrt{4}`` and ``x^(2n)`` → ``x^{2n}``, matching brackets (the normaliser's regex cannot)."""
    out, i = [], 0
    while True:
        j = text.find(command, i)
        if j == -1:
            return "".join(out) + text[i:]
        k = j + len(command)
        while k < len(text) and text[k] == " ":
            k += 1
        out.append(text[i:k])
        if k < len(text) and text[k] == "(":
            end = _balanced_end(text, k, "(", ")")
            if end != -1:
                out.append("{" + text[k + 1: end - 1] + "}")
                i = end
                continue
        i = k


def prepare(text: str) -> str:
    for old, new in _UNICODE:
        text = text.replace(old, new)
    text = re.sub(r"\\[,;:!>]|\\ |~", " ", text)
    text = _fix_round_brackets(text, "\\sqrt")
    return _fix_round_brackets(text, "^")


def _split_top(text: str) -> tuple[list[str], list[str]]:
    """Split at top-level commas, semicolons and "or"/"and" (outside any bracket)."""
    marked = _SEP.sub(lambda m: "\x00" + (m.group(1) or _ROW.get(m.group(2) or "", "") or m.group(3)) + "\x00", text)
    parts, seps, depth, buf = [], [], 0, []
    i = 0
    while i < len(marked):
        ch = marked[i]
        if ch == "\x00":
            end = marked.index("\x00", i + 1)
            if depth == 0:
                parts.append("".join(buf))
                seps.append(marked[i + 1: end])
                buf = []
            else:
                buf.append(" ")
            i = end + 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch in ",;" and depth == 0:
            parts.append("".join(buf))
            seps.append(ch)
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return [p.strip() for p in parts], seps


def _fix_symbol(s: sympy.Symbol) -> sympy.Expr:
    if s.name == "i":
        return sympy.I
    if s.name in ("e", "\\text{e}", "text{e}"):
        return sympy.E
    return sympy.Symbol(s.name)


def _expr(value: sympy.Basic) -> sympy.Basic:
    """Plain symbols, ``i`` → I, and latex2sympy's percent form ``n·(1/100)`` → :class:`Percent`."""
    if isinstance(value, sympy.Symbol):
        return _fix_symbol(value)
    if value.is_Atom or not value.args:
        return value
    if isinstance(value, sympy.Mul) and len(value.args) > 1 and value.args[0] == 1:  # \frac{1}{x}: no "1 ·"
        rest = value.args[1:]
        return _expr(rest[0] if len(rest) == 1 else sympy.Mul(*rest, evaluate=False))
    if isinstance(value, sympy.Mul) and any(isinstance(a, sympy.UnevaluatedExpr) for a in value.args):
        rest = [_expr(a) for a in value.args if not isinstance(a, sympy.UnevaluatedExpr)]
        return Percent(rest[0] if len(rest) == 1 else sympy.Mul(*rest, evaluate=False))
    return value.func(*[_expr(a) for a in value.args], evaluate=False) if _takes_evaluate(value) else \
        value.func(*[_expr(a) for a in value.args])


def _takes_evaluate(value: sympy.Basic) -> bool:
    return isinstance(value, (sympy.Add, sympy.Mul, sympy.Pow, sympy.Function))


_RELS = {sympy.Eq: "=", sympy.StrictLessThan: "<", sympy.LessThan: "<=", sympy.StrictGreaterThan: ">",
         sympy.GreaterThan: ">=", sympy.Ne: "!="}


def _to_tree(value: Any) -> Tree:
    """latex2sympy's result → the shared representation (``checker.nodes``)."""
    if isinstance(value, bool) or value in (sympy.true, sympy.false):
        raise ParseError("not_math", "")
    for cls, op in _RELS.items():
        if isinstance(value, cls):
            return Rel(op, _to_tree(value.lhs), _to_tree(value.rhs))
    if isinstance(value, sympy.And):
        rels = tuple(_to_tree(a) for a in getattr(value, "_unsorted_args", value.args))
        return Chain(rels) if all(isinstance(r, Rel) for r in rels) else Items(rels, ("and",) * (len(rels) - 1))
    if isinstance(value, sympy.FiniteSet):
        return SetLit(tuple(_to_tree(a) for a in getattr(value, "_unsorted_args", value.args)))
    if value == sympy.S.EmptySet:
        return SetLit(())
    if isinstance(value, sympy.Interval):
        return Bracket("(" if value.left_open else "[", (_expr(value.start), _expr(value.end)),
                       ")" if value.right_open else "]")
    if isinstance(value, sympy.Tuple):
        return Bracket("(", tuple(_to_tree(a) for a in value.args), ")")
    if isinstance(value, sympy.Union):
        return UnionLit(tuple(_to_tree(a) for a in value.args))
    if isinstance(value, sympy.MatrixBase):
        return MatrixLit(tuple(tuple(_expr(value[r, c]) for c in range(value.cols)) for r in range(value.rows)))
    if isinstance(value, sympy.Set):
        return value  # Reals, Integers, …
    if isinstance(value, sympy.Expr):
        return _expr(value)
    raise ParseError("not_math", "")


def _parse_part(text: str) -> Tree:
    if not text:
        raise ParseError("incomplete", "")
    converter = _Converter(None, None, False, config=_CONVERT)
    try:
        value = converter.parse(normalize_latex(text, _NORMALIZE))
    except ParseError:
        raise
    except RecursionError:
        raise ParseError("too_deep", "") from None
    except Exception:
        raise ParseError("latex", text if len(text) <= 40 else text[:37] + "…") from None
    return _to_tree(value)


def parse_latex(text: str) -> Tree:
    """Parse a cleaned LaTeX answer into the shared representation; raises :class:`ParseError`."""
    text = prepare(text)
    if _THOUSANDS.match(text):
        return Integer(text.replace(",", "").split(".")[0]) if "." not in text else _Converter(
            None, None, False, config=_CONVERT).parse_number(text)
    parts, seps = _split_top(text)
    trees = tuple(_parse_part(p) for p in parts)
    return trees[0] if len(trees) == 1 else Items(trees, tuple(seps))
