"""A recursive-descent parser for answers typed as plain text (``2x^2 - 3``, ``√2/2``).

Hand-written on purpose: ``sympy.parse_expr``/``sympify`` run Python ``eval`` on the text (``__import__('os')``
would execute), so user text never reaches them. Tokens come from the whitelisted ``checker.lexer``; the parser
builds sympy objects directly, unevaluated, so the tree mirrors what was typed.

Conventions (documented in docs/checker.md): implicit multiplication binds like ``*`` (``1/2x`` is ``x/2``);
``e`` is Euler's number and ``i`` the imaginary unit; ``log`` is base 10 as in the LaTeX parser (``ln`` is
natural, ``log_2`` base 2); ``sin^-1`` is ``arcsin``; ``2 1/2`` is a mixed number; ``2e5`` is scientific notation.
Not covered: LaTeX (``checker.latex``), units after a number (``checker.units``), left-hand labels (``checker.text``).
"""

from __future__ import annotations

import re
from typing import Any

import sympy
from sympy import Float, Integer, Mul, Pow, Rational

from checker.lexer import _CONSTS, _WORDS, ParseError, Tok, _fragment, tokenize  # noqa: F401 (re-exported)
from checker.nodes import PM, Bracket, Chain, Degrees, Items, LogBase, MatrixLit, Percent, Rel, SetLit, Tree, UnionLit

_INVERSE = {"sin": sympy.asin, "cos": sympy.acos, "tan": sympy.atan}
_SIMPLE = {"sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "sec": sympy.sec, "csc": sympy.csc,
           "cot": sympy.cot, "arcsin": sympy.asin, "asin": sympy.asin, "arccos": sympy.acos, "acos": sympy.acos,
           "arctan": sympy.atan, "atan": sympy.atan, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
           "ln": sympy.log, "exp": sympy.exp, "abs": sympy.Abs, "floor": sympy.floor,
           "ceil": sympy.ceiling, "factorial": sympy.factorial}

_MAX_DEPTH = 60


def _number(text: str) -> sympy.Expr:
    if re.fullmatch(r"\d+", text):
        return Integer(text)
    mantissa = re.split(r"[eE]", text)[0].replace(".", "").lstrip("0")
    return Float(text, max(len(mantissa), 1))


def neg(x: sympy.Expr) -> sympy.Expr:
    if isinstance(x, sympy.Number):
        return -x
    return Mul(Integer(-1), x, evaluate=False)


def _is_expr(x: Any) -> bool:
    return isinstance(x, sympy.Basic)


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0
        self.abs_depth = 0

    # -- token helpers
    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def at(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def take(self) -> Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, kind: str, tok: Tok | None = None) -> ParseError:
        tok = tok or self.tok
        if tok.kind == "end" and kind not in ("unclosed",):
            kind = "incomplete"
        whole = kind in ("incomplete", "unclosed") and len(self.text) <= 40
        frag = self.text if whole else _fragment(self.text, tok.pos)
        return ParseError(kind, frag)

    def expect(self, *ops: str) -> str:
        if self.at(*ops):
            return self.take().text
        if self.tok.kind == "end":
            raise self.fail("unclosed" if set(ops) & {")", "]", "}", "|"} else "incomplete")
        if self.at(")", "]", "}"):
            raise self.fail("unmatched")
        raise self.fail("missing_operator" if self.starts_operand() else "not_math")

    def nest(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise ParseError("too_deep", "")

    # -- grammar
    def top(self) -> Tree:
        if self.tok.kind == "end":
            raise ParseError("empty", "")
        tree = self.items()
        if self.tok.kind != "end":
            if self.at(")", "]", "}"):
                raise self.fail("unmatched")
            raise self.fail("missing_operator" if self.starts_operand() else "not_math")
        return tree

    def items(self) -> Tree:
        items, seps = [self.item()], []
        while self.at(",", ";") or (self.tok.kind == "word" and self.tok.text in _WORDS):
            seps.append(self.take().text)
            items.append(self.item())
        return items[0] if len(items) == 1 else Items(tuple(items), tuple(seps))

    def item(self) -> Tree:
        left = self.sum()
        if isinstance(left, (Bracket, SetLit, UnionLit)) and self.at_union():
            parts = [left]
            while self.at_union():
                self.take()
                parts.append(self.sum())
            return UnionLit(tuple(parts))
        rels: list[Rel] = []
        while self.at("=", "<", "<=", ">", ">=", "!="):
            op = self.take().text
            right = self.sum()
            rels.append(Rel(op, left, right))
            left = right
        if not rels:
            return left
        return rels[0] if len(rels) == 1 else Chain(tuple(rels))

    def at_union(self) -> bool:
        return self.at("∪") or (self.tok.kind == "name" and self.tok.text == "U")

    def sum(self) -> Tree:
        terms: list[Any] = []
        if self.at("±"):
            self.take()
            terms.append(Mul(PM, self.operand(self.term()), evaluate=False))
        else:
            first = self.term()
            if not _is_expr(first):
                if self.at("+", "-", "±"):
                    raise self.fail("not_math")
                return first
            terms.append(first)
        while self.at("+", "-", "±"):
            op = self.take().text
            t = self.operand(self.term())
            terms.append(t if op == "+" else neg(t) if op == "-" else Mul(PM, t, evaluate=False))
        return terms[0] if len(terms) == 1 else sympy.Add(*terms, evaluate=False)

    def operand(self, x: Tree) -> sympy.Expr:
        if not _is_expr(x):
            raise self.fail("not_math")
        return x

    def term(self) -> Tree:
        first = self.unary()
        if not _is_expr(first):
            return first
        factors: list[Any] = [first]
        while True:
            if self.at("*", "/"):
                op = self.take().text
                f = self.operand(self.unary())
                factors.append(f if op == "*" else Pow(f, -1, evaluate=False))
            elif self.starts_operand():
                if self.tok.kind == "num" and self.toks[self.i - 1].kind == "num":
                    prev = self.toks[self.i - 1]
                    raise ParseError("missing_operator", self.text[prev.pos: self.tok.pos + len(self.tok.text)])
                factors.append(self.power())
            else:
                break
        if len(factors) == 1:
            return first
        for f in factors:
            self.operand(f)
        if factors[0] == 1 and isinstance(factors[1], Pow) and factors[1].exp == -1:
            factors = factors[1:]
        if isinstance(factors[0], Mul) and factors[0].args[0] == -1:  # -x^3/3: keep the sign in front
            factors = [Integer(-1), *factors[0].args[1:], *factors[1:]]
        return factors[0] if len(factors) == 1 else Mul(*factors, evaluate=False)

    def starts_operand(self) -> bool:
        t = self.tok
        if t.kind in ("num", "mixed", "name", "func", "const"):
            return True
        return t.kind == "op" and (t.text in ("(", "√") or (t.text == "|" and self.abs_depth == 0))

    def unary(self) -> Tree:
        if self.at("-", "+"):
            op = self.take().text
            self.nest()
            x = self.operand(self.unary())
            self.depth -= 1
            return neg(x) if op == "-" else x
        return self.power()

    def power(self) -> Tree:
        base = self.postfix()
        if self.at("^"):
            self.take()
            self.operand(base)
            self.nest()
            exp = self.braced() if self.at("{") else self.operand(self.unary())
            self.depth -= 1
            return Pow(base, exp, evaluate=False)
        return base

    def braced(self) -> sympy.Expr:
        self.take()
        x = self.operand(self.sum())
        self.expect("}")
        return x

    def postfix(self) -> Tree:
        x = self.primary()
        while self.at("!", "%", "°"):
            op = self.take().text
            self.operand(x)
            x = sympy.factorial(x, evaluate=False) if op == "!" else Percent(x) if op == "%" else Degrees(x)
        return x

    def primary(self) -> Tree:
        tok = self.tok
        if tok.kind == "num":
            self.take()
            return _number(tok.text)
        if tok.kind == "mixed":
            self.take()
            whole, frac = tok.text.split(None, 1)
            num, den = (int(p) for p in frac.split("/"))
            return sympy.Add(Integer(whole), Rational(num, den), evaluate=False)
        if tok.kind == "const":
            self.take()
            return _CONSTS[tok.text]
        if tok.kind == "name":
            self.take()
            return sympy.Symbol(tok.text)
        if tok.kind == "func":
            return self.function()
        if tok.kind == "op":
            if tok.text in ("(", "["):
                return self.bracket()
            if tok.text == "{":
                return self.set_literal()
            if tok.text == "|":
                return self.absolute()
            if tok.text == "√":
                self.take()
                return sympy.sqrt(self.operand(self.postfix()), evaluate=False)
        if tok.kind == "end":
            raise self.fail("incomplete")
        if self.at(")", "]", "}"):
            raise self.fail("unmatched")
        raise self.fail("not_math")

    def function(self) -> sympy.Expr:
        name = self.take().text
        base = None
        if self.at("_"):
            self.take()
            base = self.operand(self.primary())
        power = None
        if self.at("^"):
            self.take()
            power = self.braced() if self.at("{") else self.operand(self.unary())
        if self.at("("):
            self.take()
            self.nest()
            args = [self.operand(self.sum())]
            while self.at(","):
                self.take()
                args.append(self.operand(self.sum()))
            self.expect(")")
            self.depth -= 1
        else:
            if not self.starts_operand():
                raise self.fail("incomplete" if self.tok.kind == "end" else "not_math")
            factors = [self.operand(self.power())]
            while self.starts_operand() and self.tok.kind != "func":
                factors.append(self.operand(self.power()))
            args = [factors[0] if len(factors) == 1 else Mul(*factors, evaluate=False)]
        value = self.apply(name, args, base)
        if power is not None:
            if power == -1 and name in _INVERSE:
                return _INVERSE[name](args[0], evaluate=False)
            return Pow(value, power, evaluate=False)
        return value

    def apply(self, name: str, args: list[sympy.Expr], base: sympy.Expr | None) -> sympy.Expr:
        x = args[0]
        if name in ("log", "ln") and (base is not None or len(args) == 2):
            return LogBase(x, base if base is not None else args[1])
        if len(args) != (2 if name == "root" else 1):
            raise self.fail("not_math")
        if name == "sqrt":
            return sympy.sqrt(x, evaluate=False)
        if name in ("cbrt", "root4"):
            return Pow(x, Rational(1, 3 if name == "cbrt" else 4), evaluate=False)
        if name == "root":
            return Pow(x, Pow(args[1], -1, evaluate=False), evaluate=False)
        if name in ("lg", "log"):
            return LogBase(x, Integer(10))  # as latex2sympy reads \log: base 10 (``ln`` is natural)
        return _SIMPLE[name](x, evaluate=False)

    def bracket(self) -> Tree:
        opener = self.take()
        self.nest()
        if self.at(")", "]"):
            raise self.fail("empty_brackets")
        inner = self.items()
        if self.tok.kind == "end":
            raise self.fail("unclosed", opener)
        closer = self.expect(")", "]")
        self.depth -= 1
        items = inner.items if isinstance(inner, Items) and set(inner.seps) == {","} else (inner,)
        if len(items) == 1:
            only = items[0]
            if opener.text == "[" and isinstance(only, Bracket) and only.left == "[" and only.right == "]":
                return MatrixLit((tuple(only.items),))  # [[1, 2]]: one row
            return only  # (x + 1) or [x + 1]: grouping
        if opener.text == "[" and all(isinstance(r, Bracket) and r.left == "[" and r.right == "]" for r in items):
            return MatrixLit(tuple(tuple(r.items) for r in items))
        return Bracket(opener.text, tuple(items), closer)

    def set_literal(self) -> SetLit:
        self.take()
        self.nest()
        if self.at("}"):
            self.take()
            self.depth -= 1
            return SetLit(())
        inner = self.items()
        self.expect("}")
        self.depth -= 1
        return SetLit(inner.items if isinstance(inner, Items) else (inner,))

    def absolute(self) -> sympy.Expr:
        self.take()
        self.abs_depth += 1
        self.nest()
        x = self.operand(self.sum())
        self.expect("|")
        self.abs_depth -= 1
        self.depth -= 1
        return sympy.Abs(x, evaluate=False)


def parse_plain(text: str) -> Tree:
    """Parse normalized plain text (see ``checker.text.normalize_plain``) into the shared representation."""
    return Parser(text).top()


__all__ = ["ParseError", "parse_plain", "tokenize", "neg"]
