"""``parse(text)``: a student's or a reference answer → a :class:`Parsed` value, plain text or LaTeX.

Steps: clean the text (``checker.text``), recognise word answers ("no solution"), take off a left-hand label
(``f'(x) =``), take off units at the end (``checker.units``), then parse with ``checker.latex`` when the text
has a backslash or ``checker.plain`` otherwise, and classify (``checker.values``). Never evaluates the text.
Raises :class:`~checker.plain.ParseError` (unreadable) or :class:`~checker.nodes.TooLarge`.
Not covered: comparing (``checker.compare``), time and memory limits (``checker.pool``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from checker.latex import parse_latex
from checker.lexer import ParseError
from checker.nodes import exact
from checker.plain import parse_plain
from checker.show import show
from checker.text import clean, is_latex, normalize_plain, split_label, word_answer
from checker.units import parse_unit, split_unit_tail
from checker.values import Expr, Labelled, Region, Solutions, Value, classify


@dataclass(frozen=True)
class Parsed:
    value: Value
    latex: str  # what we understood, as LaTeX
    source: str  # the cleaned text (form rules look at it, e.g. for \frac{2}{4})

    @property
    def has_unit(self) -> bool:
        inner = self.value.inner if isinstance(self.value, Labelled) else self.value
        return isinstance(inner, Expr) and inner.unit is not None


_THOUSANDS = re.compile(r"^\s*-?\d{1,3}(,\d{3})+(\.\d+)?\s*$")
_ASSIGN = re.compile(r"^\s*([A-Za-z])\s*=(?!=)\s*(.+)$")
_LATEX_UNIT = re.compile(r"^(?P<head>.*?)(?:\\[,;: ]|\s)*\\(?:text|mathrm|mbox|operatorname)\s*\{(?P<unit>[^{}]*)\}"
                         r"(?P<pow>\^\s*\{?-?\d\}?)?\s*$")


def _numeric(tree: object) -> bool:
    return isinstance(tree, sympy.Expr) and not exact(tree).free_symbols


def _quantity(body: str, latex: bool) -> Value | None:
    """``5 cm``, ``v = 3 m/s``, ``5\\,\\text{cm}`` → an :class:`Expr` with a unit; ``None`` if not a quantity."""
    var, rest = None, body
    m = _ASSIGN.match(body)
    if m and "=" not in m.group(2):
        var, rest = m.group(1), m.group(2)
    split = None
    if latex:
        lm = _LATEX_UNIT.match(rest)
        if lm and lm.group("head").strip():
            found = parse_unit(lm.group("unit").strip() + (lm.group("pow") or "").replace("{", "").replace("}", ""))
            if found:
                split = (lm.group("head"), found[0], found[1])
        if split is None:
            split = split_unit_tail(re.sub(r"\\[,;: ]", " ", rest))
    else:
        split = split_unit_tail(rest)
    if split is None:
        return None
    head, unit, unit_latex = split
    try:
        tree = parse_latex(head) if latex else parse_plain(head)
    except ParseError:
        return None
    if not _numeric(tree):
        return None
    value: Value = Expr(tree, unit, unit_latex)
    return Labelled(var, var, value) if var else value


def parse(text: str, units: bool = True) -> Parsed:
    """Parse one answer. ``units=False`` reads ``4t`` as 4·t rather than four tonnes."""
    cleaned = clean(text)
    if not cleaned:
        raise ParseError("empty", "")
    word = word_answer(cleaned)
    if word is not None:
        value: Value = Solutions(None, ()) if word == "empty" else Region(None, sympy.S.Reals)
        return Parsed(value, show(value), cleaned)
    latex = is_latex(cleaned)
    body = cleaned if latex else normalize_plain(cleaned)
    if _THOUSANDS.match(body):
        body = body.replace(",", "")  # 1,000 is a number, not the list {1, 0}
    label = split_label(body)
    if label is not None:
        body = label[1]
    counted = ""
    try:
        value = (_quantity(body, latex) if units else None) or classify(
            parse_latex(body) if latex else parse_plain(body))
    except ParseError:
        found = None if latex else _counted(body)
        if found is None:
            raise
        value, counted = found
    if label is not None:
        value = Labelled(label[0].key, label[0].latex, value)
    return Parsed(value, show(value) + counted, cleaned)


_COUNTED = re.compile(r"^(?P<head>.*?[\d)])\s+(?P<words>[A-Za-z]+(?:\s+[A-Za-z]+){0,2})$")


def _counted(body: str) -> tuple[Value, str] | None:
    """``12 apples``, ``5 dollars``: a number followed by words that are not units — the number is the answer."""
    m = _COUNTED.match(body)
    if not m:
        return None
    try:
        tree = parse_plain(m.group("head"))
    except ParseError:
        return None
    if not _numeric(tree):
        return None
    return Expr(tree), r"\ \text{" + m.group("words") + "}"
