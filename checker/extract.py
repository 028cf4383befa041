"""``extract_final_answer``: the final answer of a tutor's reply, or ``None``.

Looks, in this order, for the last ``\\boxed{…}`` (or ``\\fbox``; braces may nest), then the last phrase that
announces an answer: "The (final) answer is …", "**Answer:** …", "Final answer: …", "最终答案是…", "答案是…".
The answer is the rest of that line up to the end of the sentence, without math delimiters or Markdown bold.
Plain string work, nothing is parsed or evaluated. Not covered: checking the answer (``checker.api``).
"""

from __future__ import annotations

import re

from checker.text import _balanced_end

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_PHRASE = re.compile(
    r"(?:\*\*|__)?[ \t]*(?:the[ \t]+)?(?:final[ \t]+)?answer(?:\*\*|__)?(?:[ \t]+is|[ \t]*[:：])[ \t]*(?:\*\*|__)?[ \t]*[:：]?"
    r"|最终答案(?:是|为|[:：])|(?<!最终)答案(?:是|为|[:：])",
    re.IGNORECASE)
_MATH = [("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")]
_SENTENCE_END = re.compile(r"[。！？]|[.?](?=\s|$)")


def _last_boxed(text: str) -> str | None:
    found = None
    for m in _BOXED.finditer(text):
        end = _balanced_end(text, m.end() - 1)
        if end != -1:
            found = text[m.end(): end - 1].strip()
    return found


def _strip_math(text: str) -> str:
    for left, right in _MATH:
        if text.startswith(left):
            end = text.find(right, len(left))
            if end != -1:
                rest = text[end + len(right):].strip()
                inner = text[len(left): end].strip()
                # "$x = 2$ or $x = 3$": keep joining math spans separated by short words
                m = re.match(r"^(,|or|and|或|和)\s*(.*)$", rest)
                if m and m.group(2).startswith(left):
                    return inner + f" {m.group(1)} " + _strip_math(m.group(2))
                return inner
    return text


def extract_final_answer(text: str) -> str | None:
    """The final answer in ``text`` (a model's or tutor's reply), or ``None`` if none is marked."""
    if not text:
        return None
    boxed = _last_boxed(text)
    if boxed:
        return boxed
    matches = list(_PHRASE.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end():]
    lines = [line.strip() for line in rest.splitlines()]
    line = next((ln for ln in lines if ln), "")
    line = line.replace("**", "").replace("__", "").strip()
    if not line:
        return None
    if line[:1] in "$\\":
        answer = _strip_math(line)
    else:
        cut = _SENTENCE_END.search(line)
        answer = line[: cut.start()] if cut else line
        answer = _strip_math(answer.strip())
    answer = re.sub(r"[\s.。,，;；:：]+$", "", answer).strip()
    return answer or None
