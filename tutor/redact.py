"""The app's own enforcement of Socratic withholding: hide the final answer of a reply until it is released.

``redact_final_answer(text, released)`` replaces the content of every ``\\boxed{…}`` / ``\\fbox{…}`` and of every
announced answer ("The answer is …", "**Answer:** …", "Final answer: …", "最终答案是…", "答案是…") with a
placeholder and keeps the rest of the text. It uses the same patterns as ``checker.extract_final_answer``, so what
the checker would take as the final answer is exactly what is hidden. It works on partial text while a reply
streams: an unclosed ``\\boxed{`` hides everything after it. Plain string work.
Not covered: deciding when the answer is released (``tutor.hints``), the model's own behaviour (prompts).
"""

from __future__ import annotations

import re

# Private patterns of checker.extract, reused on purpose: redaction must hide what extraction would find.
from checker.extract import _BOXED, _PHRASE, _SENTENCE_END
from checker.text import _balanced_end

HIDDEN_BOXED = r"\boxed{\text{?}}"
_BARE_BOXED = re.compile(r"\\(?:boxed|fbox)\s*(?:[^\s{\\]|\\[A-Za-z]+)")
HIDDEN_TEXT = {"en": "🔒 (hidden until you solve it or use every hint)", "zh": "🔒（你解出答案或用完所有提示后显示）"}
_CJK = re.compile(r"[\u3400-\u9fff]")
_STUDENTS = re.compile(r"(?:your|my|their|own|student's)\s*$|你的\s*$|我的\s*$", re.IGNORECASE)  # not the final answer


def _hide_boxed(text: str) -> str:
    out, i = [], 0
    for m in _BOXED.finditer(text):
        if m.start() < i:
            continue  # nested inside a box already hidden
        end = _balanced_end(text, m.end() - 1)
        out.append(text[i: m.start()])
        out.append(HIDDEN_BOXED)
        if end == -1:  # still streaming: hide the rest
            i = len(text)
            break
        i = end
    out.append(text[i:])
    # KaTeX also boxes an argument without braces (``\boxed3``, ``\boxed\pi``): hide those too.
    return _BARE_BOXED.sub(lambda _: HIDDEN_BOXED, "".join(out))


def _phrase_end(text: str, start: int) -> int:
    """Where an announced answer starting at ``start`` ends: the end of its sentence or line (the next
    non-empty line when the phrase ends its line, as ``extract_final_answer`` reads it)."""
    j = start
    while j < len(text) and text[j] in " \t":
        j += 1
    if text.startswith("\n", j) or j >= len(text):
        rest = text[j:]
        stripped = rest.lstrip("\n \t")
        j += len(rest) - len(stripped)
    line_end = text.find("\n", j)
    line_end = len(text) if line_end == -1 else line_end
    line = text[j:line_end]
    if line.lstrip()[:1] in ("$", "\\"):
        return line_end  # math: the whole line
    cut = _SENTENCE_END.search(line)
    return j + cut.start() if cut else line_end


def redact_final_answer(text: str, released: bool, lang: str | None = None) -> str:
    """``text`` with its final answer hidden, unless ``released``."""
    if released or not text:
        return text
    lang = lang or ("zh" if _CJK.search(text) else "en")
    placeholder = HIDDEN_TEXT.get(lang, HIDDEN_TEXT["en"])
    text = _hide_boxed(text)
    out, i = [], 0
    for m in _PHRASE.finditer(text):
        if m.start() < i or _STUDENTS.search(text[max(0, m.start() - 12): m.start()]):
            continue
        end = _phrase_end(text, m.end())
        hidden = text[m.end(): end]
        out.append(text[i: m.end()])
        if hidden.strip() and HIDDEN_BOXED not in hidden:
            lead = hidden[: len(hidden) - len(hidden.lstrip())]
            out.append(lead + placeholder)
        else:
            out.append(hidden)
        i = end
    out.append(text[i:])
    return "".join(out)
