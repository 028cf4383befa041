"""The whitelisted tokenizer for plain-text answers: digits, letters, known names and a few operators only.

Hand-written on purpose: ``sympy.parse_expr``/``sympify`` run Python ``eval`` on the text (``__import__('os')``
would execute), so user text never reaches them. Each token is checked against a whitelist; a run of letters is
split into known names (``sin``, ``sqrt``, ``pi``, Greek letters) and one-letter variables (``sinx`` → sin, x;
``xy`` → x, y), and a run of four or more unknown letters (``exec``, ``system``) is refused. Anything else is a
:class:`ParseError` that names the fragment. Not covered: grammar (``checker.plain``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy


class ParseError(Exception):
    """``kind`` is one of: empty, incomplete, unclosed, unmatched, not_math, unknown_word, missing_operator,
    empty_brackets, too_deep, unsupported. ``fragment`` is the part of the input to quote back."""

    def __init__(self, kind: str, fragment: str = "") -> None:
        super().__init__(f"{kind}: {fragment}")
        self.kind, self.fragment = kind, fragment


_FUNCS = {
    "sqrt", "cbrt", "root", "root4", "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan",
    "asin", "acos", "atan", "sinh", "cosh", "tanh", "ln", "log", "lg", "exp", "abs", "floor", "ceil", "factorial",
}
_CONSTS = {"pi": sympy.pi, "oo": sympy.oo, "inf": sympy.oo, "infinity": sympy.oo, "e": sympy.E, "i": sympy.I}
_GREEK = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "kappa", "lambda", "mu", "nu",
          "xi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega"]
_GREEK_CHARS = dict(zip("αβγδεζηθκλμνξρστφχψω", _GREEK))
_WORDS = {"or", "and"}
_KNOWN = sorted(_FUNCS | set(_CONSTS) | set(_GREEK) | _WORDS, key=len, reverse=True)
_WHOLE = {"oo", "inf", "infinity"}  # only as a whole word: "foo" is f·o·o, not f·∞
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<mixed>(?<![\d.^/])\d+\s+\d+\s*/\s*\d+(?![\d.]))
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-zαβγδεζηθκλμνξρστφχψω]+(?:_(?:\{[A-Za-z0-9]+\}|[A-Za-z0-9]+))?)
  | (?P<op>\*\*|<=|>=|!=|==|=<|=>|[-+*/^()\[\]{}|,;=<>!%°√±∪'])
""", re.VERBOSE)
@dataclass(frozen=True)
class Tok:
    kind: str  # num, mixed, name, func, const, word, op, end
    text: str
    pos: int


def _fragment(text: str, pos: int) -> str:
    start = max(text.rfind(" ", 0, pos) + 1, pos - 12)
    end = text.find(" ", pos + 1)
    end = min(end if end != -1 else len(text), pos + 14)
    return text[start:end]


def _split_word(word: str, pos: int, text: str) -> list[Tok]:
    """``sinx`` → sin, x; ``xy`` → x, y; a long run of unknown letters (``exec``) is an error."""
    base, sub = (word.split("_", 1) + [""])[:2]
    base = "".join(_GREEK_CHARS.get(c, c) for c in base)
    out: list[Tok] = []
    i, singles = 0, 0
    while i < len(base):
        known = next((k for k in _KNOWN if base.startswith(k, i) and (k not in _WHOLE or base == k)), None)
        if known and len(known) > 1:
            kind = "func" if known in _FUNCS else "const" if known in _CONSTS else "word" if known in _WORDS else "name"
            out.append(Tok(kind, known, pos + i))
            i += len(known)
            singles = 0
            continue
        singles += 1
        if singles >= 4:
            raise ParseError("unknown_word", word)
        ch = base[i]
        out.append(Tok("const" if ch in _CONSTS else "name", ch, pos + i))
        i += 1
    if sub:
        last = out[-1]
        if last.kind != "name" and last.text not in ("e", "i"):
            if last.text == "log":
                return out + [Tok("op", "_", pos), Tok("num" if sub.strip("{}").isdigit() else "name",
                                                        sub.strip("{}"), pos)]
            raise ParseError("not_math", _fragment(text, pos))
        inner = sub.strip("{}")
        out[-1] = Tok("name", last.text + ("_" + inner if len(inner) == 1 else "_{" + inner + "}"), last.pos)
    return out


def tokenize(text: str) -> list[Tok]:
    if re.search(r"(?<![A-Za-z])d\s*/\s*d[a-z](?![A-Za-z])|∫|\bint\b|\blim\b", text):
        raise ParseError("unsupported", "derivatives, integrals or limits written out")
    toks: list[Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ParseError("not_math", _fragment(text, pos))
        kind = m.lastgroup
        if kind == "word":
            toks.extend(_split_word(m.group(), pos, text))
        elif kind == "op":
            op = {"**": "^", "==": "=", "=<": "<=", "=>": ">="}.get(m.group(), m.group())
            toks.append(Tok("op", op, pos))
        elif kind != "space":
            toks.append(Tok(kind, m.group(), pos))
        pos = m.end()
    toks.append(Tok("end", "", len(text)))
    return toks
