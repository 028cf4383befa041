"""Text clean-up before parsing: size limits, math delimiters, unicode, word answers and left-hand-side labels.

Everything here is string work with regular expressions; nothing is evaluated. ``precheck`` runs in the calling
process (cheap, before a worker is involved); the rest runs in the worker. Not covered: tokenising or parsing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_CHARS = 2000  # a longer answer (or reference) is refused with a message
MAX_DEPTH = 60  # brackets nested deeper than this are refused


def precheck(text: str) -> str | None:
    """``"too_long"`` or ``"too_deep"`` when the text must be refused before parsing, else ``None``."""
    if len(text) > MAX_CHARS:
        return "too_long"
    depth = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                return "too_deep"
        elif ch in ")]}":
            depth -= 1
    return None


def _balanced_end(text: str, start: int, open_ch: str = "{", close_ch: str = "}") -> int:
    """Index just past the bracket that closes the one at ``start``, or -1."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == open_ch:
            depth += 1
        elif ch == close_ch:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


_WRAPPERS = [("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")]
_BOXED = re.compile(r"^\\(?:boxed|fbox)\s*\{")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# Control characters (not tab or newlines) carry nothing, and the LaTeX reader uses NUL as its own marker.
_INVISIBLE.update(dict.fromkeys((c for c in range(32) if chr(c) not in "\t\n\r"), None))


def clean(text: str) -> str:
    """Strip math delimiters, a whole-answer ``\\boxed{…}``, invisible characters and a final full stop."""
    text = text.translate(_INVISIBLE).strip()
    for _ in range(4):
        before = text
        for left, right in _WRAPPERS:
            if len(text) > len(left) + len(right) and text.startswith(left) and text.endswith(right):
                text = text[len(left): -len(right)].strip()
        m = _BOXED.match(text)
        if m and _balanced_end(text, m.end() - 1) == len(text):
            text = text[m.end(): -1].strip()
        text = re.sub(r"(?<!\\)[.。](?=\s*$)", "", text).strip()
        text = re.sub(r"^(?:\\?\$|US\$|€|£|¥|￥)\s*(?=[\d.])", "", text)  # currency: $12 is 12
        if text == before:
            break
    return text


def is_latex(text: str) -> bool:
    return "\\" in text


_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_VULGAR = {"½": "1/2", "⅓": "1/3", "⅔": "2/3", "¼": "1/4", "¾": "3/4", "⅕": "1/5", "⅛": "1/8", "⅜": "3/8",
           "⅝": "5/8", "⅞": "7/8"}
_PLAIN_REPLACE = [
    ("+/-", "±"), ("+-", "±"), ("∓", "±"), ("×", "*"), ("·", "*"), ("⋅", "*"), ("∙", "*"), ("÷", "/"),
    ("∕", "/"), ("⁄", "/"), ("−", "-"), ("–", "-"), ("—", "-"), ("‐", "-"), ("≤", "<="), ("⩽", "<="),
    ("≥", ">="), ("⩾", ">="), ("≠", "!="), ("∞", "oo"), ("π", "pi"), ("≈", "="), ("∪", " ∪ "), ("′", "'"), ("″", "''"),
    ("∛", "cbrt"), ("∜", "root4"),
]


def normalize_plain(text: str) -> str:
    """Unicode as students type it → the ASCII-ish forms the plain tokenizer reads (``x²`` → ``x^(2)``)."""
    text = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+", lambda m: "^(" + m.group().translate(_SUPERSCRIPT) + ")", text)
    text = re.sub("[" + "".join(_VULGAR) + "]", lambda m: " " + _VULGAR[m.group()], text)
    text = unicodedata.normalize("NFKC", text)
    for old, new in _PLAIN_REPLACE:
        text = text.replace(old, new)
    text = re.sub(r"(?<=[\d)])\s*(?:degrees|degree|deg)\b", "°", text)
    text = re.sub(r"(?<=[\d)])\s*(?:percent|pct)\b", "%", text)
    return text.strip()


_WORDS = {
    "empty": {"no solution", "no solutions", "no real solution", "no real solutions", "none", "empty set",
              "the empty set", "∅", "{}", "\\emptyset", "\\varnothing", "\\{\\}", "\\text{no solution}",
              "无解", "没有解", "空集"},
    "reals": {"all real numbers", "all reals", "all real x", "any real number", "ℝ", "\\mathbb{r}",
              "(-oo, oo)", "(-∞, ∞)", "(-\\infty, \\infty)", "(-\\infty,\\infty)", "(-oo,oo)", "(-∞,∞)",
              "infinitely many solutions", "全体实数"},
}


def word_answer(text: str) -> str | None:
    """``"empty"`` or ``"reals"`` for answers written in words or symbols (``no solution``, ``ℝ``)."""
    key = re.sub(r"\s+", " ", text.strip().lower())
    key = re.sub(r"^(?:x\s*[=∈]\s*|x\s*\\in\s*)", "", key)
    for kind, words in _WORDS.items():
        if key in words:
            return kind
    return None


@dataclass(frozen=True)
class Label:
    key: str  # canonical: "f'", "f", "f^-1", "y'" (dy/dx and y' share a key)
    latex: str  # how to show it


_PRIME = r"(?:'|′|\^\s*\{?\s*\\prime\s*\}?|\^\s*\{\s*\\prime\s*\\prime\s*\})"
_FUNC = re.compile(
    rf"^(?P<f>[A-Za-z])\s*(?P<p>(?:{_PRIME}\s*)*)(?P<inv>\^\s*\{{?\s*\(?\s*-\s*1\s*\)?\s*\}}?)?\s*"
    r"(?:\\left\s*)?\(\s*(?P<x>[A-Za-z])\s*(?:\\right\s*)?\)$")
_PRIMED = re.compile(rf"^(?P<f>[A-Za-z])\s*(?P<p>(?:{_PRIME}\s*)+)$")
_DERIV = re.compile(
    r"^(?:\\d?frac\s*\{\s*d\s*(?:\^\s*\{?(?P<n1>\d)\}?)?\s*(?P<f1>[A-Za-z])\s*\}\s*\{\s*d\s*(?P<x1>[A-Za-z])\s*"
    r"(?:\^\s*\{?\d\}?)?\s*\}|d\s*(?:\^\s*\(?(?P<n2>\d)\)?)?\s*(?P<f2>[A-Za-z])\s*/\s*d\s*(?P<x2>[A-Za-z])"
    r"\s*(?:\^\s*\(?\d\)?)?)$")
_LONE_EQUALS = re.compile(r"(?<![<>!=\\])=(?!=)")


def _primes(text: str) -> int:
    return text.count("'") + text.count("′") + text.count("\\prime")


def split_label(text: str) -> tuple[Label, str] | None:
    """``"f'(x) = 2x"`` → ``(Label("f'", "f'(x)"), "2x")``; ``None`` when the left side is not a function name."""
    found = list(_LONE_EQUALS.finditer(text))
    if len(found) != 1:
        return None
    lhs, rhs = text[: found[0].start()].strip(), text[found[0].end():].strip()
    if not rhs:
        return None
    m = _FUNC.match(lhs)
    if m:
        n, inv = _primes(m.group("p")), bool(m.group("inv"))
        key = m.group("f") + "'" * n + ("^-1" if inv else "")
        return Label(key, m.group("f") + "'" * n + ("^{-1}" if inv else "") + f"({m.group('x')})"), rhs
    m = _PRIMED.match(lhs)
    if m:
        key = m.group("f") + "'" * _primes(m.group("p"))
        return Label(key, key), rhs
    m = _DERIV.match(lhs)
    if m:
        n = int(m.group("n1") or m.group("n2") or 1)
        f, x = m.group("f1") or m.group("f2"), m.group("x1") or m.group("x2")
        shown = rf"\frac{{d{f}}}{{d{x}}}" if n == 1 else rf"\frac{{d^{{{n}}}{f}}}{{d{x}^{{{n}}}}}"
        return Label(f + "'" * n, shown), rhs
    return None
