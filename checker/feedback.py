"""Feedback sentences: short, kind and specific, always ending with what we read (``We read your answer as …``).

Math in feedback is wrapped in ``\\(…\\)``, which the chat page renders (``ui.render.LATEX_DELIMITERS``) and which
never collides with dollar amounts. Not covered: deciding anything (``checker.compare``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checker.text import MAX_CHARS, MAX_DEPTH
from checker.verdict import Outcome

if TYPE_CHECKING:
    from checker.lexer import ParseError


def m(latex: str) -> str:
    return rf"\({latex}\)" if latex else ""


_HEADLINES = {
    "correct": "Correct ✓",
    "incorrect": "Not quite — have another look.",
    "sign": "Check the sign.",
    "precision": "Close, but give at least 3 significant figures.",
    "rounding": "Close — check your rounding.",
    "missing_constant": "Almost: add the constant of integration, + C.",
    "form_factored": "Equivalent, but not factored: write it as a product.",
    "form_expanded": "Equivalent, but not expanded: multiply out the brackets.",
    "form_simplified": "Equivalent, but not simplified.",
    "form_exact": "Equivalent, but give the exact value, not a decimal.",
    "form_decimal": "Equivalent, but give the answer as a decimal.",
    "direction": "Check the direction of the inequality.",
    "interval": "Not quite — check the interval.",
    "units_value": "Check the units: the number is right, but the unit is not.",
    "no_solution": "Not quite: there is no solution here.",
    "has_solutions": "Not quite: this does have solutions.",
}


def headline(o: Outcome) -> str:
    r = o.reason
    if r == "correct":
        note = o.get("note")
        return "Correct ✓" + (" (remember the % sign)" if note == "percent_sign" else
                              " (remember the ° sign)" if note == "degree_sign" else "")
    if r in _HEADLINES:
        return _HEADLINES[r]
    if r == "form_not_fully_factored":
        return f"Equivalent, but not fully factored: {m(o.get('factor'))} factors further."
    if r == "roots":
        found, missing, extra = o.get("found"), o.get("missing"), o.get("extra")
        not_solution = "is not a solution" if o.get("n_extra") == "1" else "are not solutions"
        if found and missing and not extra:
            return f"You found {m(found)} but missed {m(missing)}."
        if found and extra and not missing:
            return f"{m(extra)} {not_solution}."
        if found and extra and missing:
            return f"You found {m(found)} but missed {m(missing)}, and {m(extra)} {not_solution}."
        return f"Not quite: {m(extra)} {not_solution}."
    if r == "endpoints":
        included = "should be included" if o.get("included") == "yes" else "should not be included"
        return f"Check the endpoints: {m(o.get('point'))} {included}."
    if r == "units_missing":
        return f"Include the units ({m(o.get('unit'))})."
    if r == "units_dimension":
        return f"Check the units: your answer is {o.get('got')}, but the answer should be {o.get('want')}."
    if r == "radians":
        degrees = m(o.get("value") + r"^{\circ}")
        return f"Did you mean {degrees}? Without the ° sign the number is read in radians."
    if r == "did_you_mean_percent":
        percent = m(o.get("value") + r"\%")
        return f"Did you mean {percent}?"
    if r == "label":
        return f"The left side should be {m(o.get('want'))}, not {m(o.get('got'))}."
    if r in ("variable", "variables"):
        if not o.get("want"):
            return f"Your answer uses {m(o.get('got'))}, but the answer has no variables."
        return f"Your answer uses {m(o.get('got'))}, but the answer is in terms of {m(o.get('want'))}."
    if r == "kind":
        return f"We expected {o.get('want')}, but read {o.get('got')}."
    if r == "shape":
        return f"Check the size: it should {o.get('want')}."
    if r == "coordinate":
        return f"Check coordinate {o.get('index')}."
    if r == "entry":
        return f"Check the entry in row {o.get('row')}, column {o.get('col')}."
    return "Not quite — have another look."


def message(o: Outcome, answer_latex: str) -> str:
    return f"{headline(o)} We read your answer as {m(answer_latex)}."


_PARSE = {
    "empty": "Type an answer first.",
    "incomplete": "Couldn't read ‘{f}’: is something missing?",
    "unclosed": "Couldn't read ‘{f}’: a bracket is not closed.",
    "unmatched": "Couldn't read ‘{f}’: there is a closing bracket without an opening one.",
    "missing_operator": "Couldn't read ‘{f}’: is an operator missing between the numbers?",
    "empty_brackets": "Couldn't read ‘{f}’: the brackets are empty.",
    "unknown_word": "Couldn't read ‘{f}’: that word isn't maths we know. Use names like sqrt, sin, log, pi.",
    "not_math": "Couldn't read ‘{f}’: only maths can be checked here — numbers, letters, + − × ÷ ^, brackets "
                "and functions like sqrt, sin, log.",
    "too_deep": f"Couldn't read this: brackets are nested more than {MAX_DEPTH} deep.",
    "latex": "Couldn't read the LaTeX ‘{f}’: please check it.",
    "empty_interval": "Couldn't read ‘{f}’: the interval is empty — is the order of the endpoints right?",
    "unsupported": "We can't check {f} yet.",
    "mixed": "Couldn't read this: it mixes kinds of answer (values, intervals, equations) in one list.",
}


def unreadable(err: "ParseError") -> str:
    fragment = err.fragment.strip() or "this"
    return _PARSE.get(err.kind, "Couldn't read ‘{f}’: please check what you typed.").format(f=fragment)


def bad_reference(text: str) -> str:
    shown = text if len(text) <= 60 else text[:57] + "…"
    return f"We couldn't read the reference answer ‘{shown}’, so this answer can't be checked automatically."


def refused(reason: str, length: int = 0) -> str:
    if reason == "too_long":
        return f"Your answer is too long to check ({length:,} characters; the limit is {MAX_CHARS:,})."
    if reason == "too_deep":
        return f"Your answer has brackets nested more than {MAX_DEPTH} deep; please simplify it."
    if reason == "too_large":
        return "This involves numbers too large to check. Try writing it more simply."
    if reason == "timeout":
        return "This took too long to check. Try writing it more simply."
    return "Something went wrong while checking; please try again."
