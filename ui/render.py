"""Math and currency in chat text: the LaTeX delimiters the page renders, and protecting dollar amounts.

The page renders ``$…$``, ``$$…$$``, ``\\(…\\)`` and ``\\[…\\]`` with KaTeX (Gradio's default is ``$$`` only).
With ``$`` as a delimiter, "a pencil costs $0.40 and a pen $1.20" would become math. We decide which dollars open
and close inline math with Pandoc's rule (the opening ``$`` has a non-space character right after it, the closing
one a non-space character right before it and no digit right after it), and the math between them holds no other
bare ``$`` (so "$5 and $x$" is money, then math); every other ``$`` is money and becomes
``<span class="currency">&#36;</span>``. Gradio's front end first pairs ``$…$`` with a regular expression on the raw
text (the entity hides the dollar from it), then runs KaTeX's auto-render on each DOM text node (the span keeps the
dollar alone in its own node, where it has no partner). A browser test checks this on the real page.
``to_model_text`` undoes the wrapping, so the
model always sees the text as written. Hand-written because no Markdown library applies Pandoc's dollar rule to
text that Gradio's front end renders afterwards.

Not covered: Markdown itself (Gradio renders it), sanitising HTML (Gradio's ``sanitize_html``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

LATEX_DELIMITERS: list[dict[str, str | bool]] = [
    {"left": "$$", "right": "$$", "display": True},  # before "$" so that "$$" is never read as two "$"
    {"left": "$", "right": "$", "display": False},
    {"left": "\\(", "right": "\\)", "display": False},
    {"left": "\\[", "right": "\\]", "display": True},
]

CURRENCY_HTML = '<span class="currency">&#36;</span>'
# Fenced code, inline code, display math and the other delimiters are copied through untouched.
_PROTECTED = re.compile(r"```[\s\S]*?(?:```|$)|`[^`\n]*`|\$\$[\s\S]+?\$\$|\\\([\s\S]+?\\\)|\\\[[\s\S]+?\\\]")


_DOLLAR = re.compile(r"(?<!\\)\$")  # a dollar that no backslash escapes
_IN_MATH = re.compile(r"\\[\s\S]?|\n\n|\$")  # inside a span: an escape pair, a paragraph break, a dollar


def _inline_math_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each ``$…$`` inline-math span under Pandoc's rule, end exclusive.

    Hand-written (markdown-it's dollarmath plugin parses block-level Markdown; here only the spans are wanted, on
    every streamed update): jumps from one candidate character to the next with two regexes, as the reply grows
    to thousands of characters and this runs on Gradio's event loop for every update."""
    spans: list[tuple[int, int]] = []
    n, i = len(text), 0
    while (opener := _DOLLAR.search(text, i)) is not None:
        i = opener.start()
        if i + 1 >= n or text[i + 1].isspace() or text[i + 1] == "$":
            i += 1
            continue
        close, j = -1, i + 1
        while (m := _IN_MATH.search(text, j)) is not None:
            if m.group() == "\n\n":
                break  # inline math never spans a paragraph break
            if m.group() == "$":
                # Inline math holds no bare "$": a dollar that cannot close this span means the opener was money.
                k = m.start()
                if not text[k - 1].isspace() and (k + 1 >= n or not text[k + 1].isdigit()):
                    close = k
                break
            j = m.end()  # an escape: the next character is taken as it is
        if close < 0:
            i += 1
            continue
        spans.append((i, close + 1))
        i = close + 1
    return spans


def _protect_plain(text: str) -> str:
    out: list[str] = []
    pos = 0
    for start, end in _inline_math_spans(text):
        out.append(_money(text[pos:start]))
        out.append(text[start:end])
        pos = end
    out.append(_money(text[pos:]))
    return "".join(out)


def _money(text: str) -> str:
    return _wrap_bare_boxed(text.replace("\\$", "$").replace("$", CURRENCY_HTML))


def _wrap_bare_boxed(text: str) -> str:
    """Models often write a final ``\\boxed{…}`` outside any math delimiters; show it as math."""
    out: list[str] = []
    pos = 0
    while (start := text.find("\\boxed{", pos)) >= 0:
        depth, j = 0, start + len("\\boxed")
        while j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                break
            j += 1
        if depth:  # unclosed (still streaming): leave it for the next update
            break
        out.append(text[pos:start] + "\\(" + text[start : j + 1] + "\\)")
        pos = j + 1
    out.append(text[pos:])
    return "".join(out)


def to_display(text: str) -> str:
    """Chat text as the page should receive it: math untouched, every money dollar made inert."""
    out: list[str] = []
    pos = 0
    for m in _PROTECTED.finditer(text):
        out.append(_protect_plain(text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_protect_plain(text[pos:]))
    return "".join(out)


def to_model_text(text: str) -> str:
    """Undo :func:`to_display` (history comes back from the page in display form)."""
    return text.replace(CURRENCY_HTML, "$")


def message_text(content: Any) -> str:
    """The text of a chat message's content as Gradio hands it back (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, Sequence):
        return "".join(message_text(part) for part in content)
    return ""
