"""What a student's question asks a computer algebra system to do: a :class:`Task` (operation + math fragments).

Plain string work with regular expressions, English and Chinese, plain text or LaTeX; nothing is parsed or
evaluated here (``checker.cas`` parses the fragments with the checker's safe parsers, in a worker process).
Hand-written because no library reads tutoring questions ("Find the limit of … as x approaches 0", "求 … 的导数").

Steps: normalise punctuation; take out clauses that carry parameters (limit point, integration bounds, "with
respect to", "at x = 2", "f(2)", derivative order); name the operation from keywords (priority: limit, integral,
derivative, system, factor, expand, simplify, solve, evaluate); cut the rest into runs of math-looking tokens —
CJK text, math delimiters and English words end a run. ``None`` when the question is not recognised.
Not covered: deciding which run is *the* math (``checker.cas`` tries them with the parser).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPS = ("solve", "system", "diff", "integrate", "limit", "simplify", "factor", "expand", "evaluate")
MAX_PROBLEM_CHARS = 1000  # longer questions are not recognised (word problems, pasted essays)


@dataclass(frozen=True)
class Task:
    """``op`` is one of :data:`OPS` or ``""`` (decide from the math: an equation means solve, a number evaluate).
    ``runs`` are candidate math fragments in the order written; ``subs`` are ``(variable, value)`` substitutions
    ("at x = 2", "f(2)"); ``point`` is a limit point; ``lower``/``upper`` definite-integral bounds."""

    op: str
    runs: tuple[str, ...]
    var: str | None = None
    order: int = 1
    lower: str | None = None
    upper: str | None = None
    point: str | None = None
    subs: tuple[tuple[str, str], ...] = ()
    lang: str = "en"


_PUNCT = str.maketrans({"，": ",", "：": ":", "；": ";", "（": "(", "）": ")", "＝": "=", "？": "?", "！": "!",
                        "＋": "+", "－": "-", "　": " ", "、": ",", "【": "[", "】": "]", "｛": "{", "｝": "}"})
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SEP = " \x00 "  # a hard break between runs

_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("limit", r"\blim(?:it|its)?\b|\\lim|极限"),
    ("integrate", r"\bintegra(?:l|te|tion)s?\b|\bantiderivative\b|\\int|∫|积分|原函数"),
    ("diff", r"\bderivative\b|\bdifferentiate\b|(?<![a-z])d\s*/\s*d[a-z]\b|\\frac\s*\{\s*d\s*\}|"
             r"\\frac\s*\{\s*d\^|导数|求导|导函数|\b[a-z]\s*'+\s*\(|\b[a-z]'+(?![\w(])"),
    ("system", r"\bsystem\b|\bsimultaneous\b|方程组|\\begin\s*\{cases\}"),
    ("factor", r"\bfactori[sz]e\b|\bfactor\b|\bfactori[sz]ation\b|因式分解|分解因式"),
    ("expand", r"\bexpand\b|\bmultiply out\b|展开"),
    ("simplify", r"\bsimplif(?:y|ied|ication)\b|化简|简化"),
    ("solve", r"\bsolve\b|\bsolutions?\b|\broots?\b|\bzeros?\b|\bfind\s+[a-z]\b(?!\s*['(])|解方程|解不等式|求解|"
              r"\b[Ss]olve\b|(?<![了理])解(?!析)"),
    ("evaluate", r"\bevaluate\b|\bcompute\b|\bcalculate\b|\bwhat is\b|\bwhat's\b|\bfind the value\b|\bvalue of\b|"
                 r"计算|求值|的值|等于多少|是多少|求"),
)
# Questions whose answer is not the computed object itself ("how many solutions", "prove", "the vertex"): unknown.
_INDIRECT = re.compile(r"\bhow many\b|\bprove\b|\bshow that\b|\bexplain\b|\bwhy\b|\bgraph\b|\bsketch\b|"
                       r"\bdomain\b|\brange\b|\bslope\b|\bvertex\b|\bmaximum\b|\bminimum\b|\barea\b|"
                       r"\bprobability\b|\bwhich\b|\btrue or false\b|\bverify\b|几个|证明|为什么|定义域|值域|"
                       r"顶点|最大值|最小值|面积|概率|哪", re.IGNORECASE)
_ORDER = re.compile(r"\b(second|third|2nd|3rd)\s+derivative\b|二阶导|三阶导|d\s*\^\s*\{?([23])\}?\s*/\s*d[a-z]|"
                    r"\b[a-z]\s*('{2,3})\s*\(", re.IGNORECASE)
_POINT_TOKEN = (r"(?:[-+]?\s*(?:\\infty|∞|oo|infinity|\\pi|π|pi|[\d.]+(?:\s*/\s*\d+)?)(?:\s*/\s*\d+)?|"
                r"[-+]?\d*\s*\\?pi(?:\s*/\s*\d+)?)")
_LIMIT_POINT = (
    re.compile(rf"\b(?:as|when)\s+([a-z])\s*(?:approaches|tends\s+to|goes\s+to|->|→|\\to|\\rightarrow)\s*"
               rf"({_POINT_TOKEN})", re.IGNORECASE),
    re.compile(rf"\blim(?:it)?\s*_?\s*[({{]?\s*([a-z])\s*(?:->|→|\\to|\\rightarrow)\s*({_POINT_TOKEN})\s*[)}}]?",
               re.IGNORECASE),
    re.compile(rf"当?\s*([a-z])\s*(?:→|->|\\to|趋[近向]于|趋于|趋向)\s*({_POINT_TOKEN})\s*时?"),
)
_BOUND = r"(-?\s*(?:[\d.]+(?:\s*/\s*\d+)?|\\pi|π|pi|\d*\s*\\?pi(?:\s*/\s*\d+)?|e|\\infty|∞|oo))"
_BOUNDS = (
    re.compile(rf"\bfrom\s+(?:[a-z]\s*=\s*)?{_BOUND}\s+to\s+(?:[a-z]\s*=\s*)?{_BOUND}", re.IGNORECASE),
    re.compile(rf"\bbetween\s+{_BOUND}\s+and\s+{_BOUND}", re.IGNORECASE),
    re.compile(rf"\b(?:over|on)\s+(?:the\s+interval\s+)?\[\s*{_BOUND}\s*,\s*{_BOUND}\s*\]", re.IGNORECASE),
    re.compile(rf"从\s*{_BOUND}\s*到\s*{_BOUND}"),
    re.compile(rf"在\s*\[\s*{_BOUND}\s*,\s*{_BOUND}\s*\]\s*上"),
)
_PLAIN_INT = re.compile(rf"(?:∫|\bint\b)\s*_\s*\{{?\s*{_BOUND}\s*\}}?\s*\^\s*\{{?\s*{_BOUND}\s*\}}?")
_WRT = re.compile(r"\bwith\s+respect\s+to\s+([a-z])\b|关于\s*([a-z])\b|\bfor\s+([a-z])\b(?!\s*[=(])|"
                  r"(?<![a-z\\])d\s*/\s*d([a-z])\b", re.IGNORECASE)
_AT = re.compile(r"\b(?:at|when|if|where|for)\s+([a-z])\s*=\s*(-?[\d./]+|-?\\?pi(?:\s*/\s*\d+)?)|"
                 r"当\s*([a-z])\s*=\s*(-?[\d./]+)\s*时?")
_CALL = re.compile(r"(?<![A-Za-z\\])([a-zA-Z])\s*('*)\s*\(\s*(-?[\d./]+)\s*\)")
_DEFINES = re.compile(r"(?<![A-Za-z\\])([a-zA-Z])\s*\(\s*([a-z])\s*\)\s*=")
_PERCENT_OF = re.compile(r"(\d+(?:\.\d+)?)\s*(?:%|\\%|percent)\s+of\s+", re.IGNORECASE)
_DX = re.compile(r"(?<![A-Za-z\\])d\s*([a-z])(?=\s*(?:$|[?.,;:\x00]))")
_DELIMS = re.compile(r"\$\$|\\\[|\\\]|\\\(|\\\)|(?<!\\)\$")

_FUNCS = ("arcsin|arccos|arctan|sinh|cosh|tanh|sin|cos|tan|sec|csc|cot|ln|log|exp|sqrt|pi|abs")
_LETTERS = re.compile(rf"^(?:(?:{_FUNCS})[a-zA-Z]?|[a-zA-Z]{{1,2}})$")
_STOP = {"is", "as", "at", "in", "on", "of", "to", "if", "be", "by", "an", "or", "it", "we", "me", "do", "go",
         "no", "so", "up", "us", "my", "am", "he", "and", "for", "the", "are", "its", "pi"}
_CONTRACTION = re.compile(r"^[A-Za-z]+['’][a-z]{1,2}$")
_MATHY = re.compile(r"[\d\\=+\-*/^()\[\]{}<>|!√π≤≥±∞∫'²³_·×÷−]")


def _lang(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def _normalise(problem: str) -> str:
    text = problem.translate(_PUNCT)
    text = _PERCENT_OF.sub(lambda m: f"{m.group(1)}% * ", text)  # "15% of 80" → "15% * 80"
    return text


def _take(pattern: re.Pattern[str], text: str) -> tuple[re.Match[str] | None, str]:
    m = pattern.search(text)
    if not m:
        return None, text
    return m, text[: m.start()] + _SEP + text[m.end():]


def _clean_token(value: str) -> str:
    return re.sub(r"\s+", "", value).rstrip(".").replace("π", "pi").replace("∞", "oo").replace("\\infty", "oo")


def _op(text: str) -> str:
    lowered = text.lower()
    for op, pattern in _KEYWORDS:
        if re.search(pattern, lowered):
            return op
    return ""


def _mathy(token: str, following: str | None) -> bool:
    if _CONTRACTION.match(token):
        return False  # "it's", "what's", "don't"
    if _MATHY.search(token):
        return True
    if token.lower() in _STOP:
        return False
    if token in ("a", "A", "I") and following is not None and not _mathy(following, None):
        return False  # an article: "a function"
    return bool(_LETTERS.match(token))


def math_runs(text: str) -> tuple[str, ...]:
    """Maximal runs of math-looking tokens; CJK characters, delimiters and English words end a run."""
    text = _DELIMS.sub(_SEP, text)
    text = _CJK.sub(_SEP, text)
    runs: list[str] = []
    for chunk in text.split("\x00"):
        tokens = chunk.split()
        current: list[str] = []
        for i, token in enumerate(tokens):
            stripped = token.rstrip("?.:;!")
            following = tokens[i + 1] if i + 1 < len(tokens) else None
            if stripped and _mathy(stripped, following):
                current.append(stripped)
                if stripped != token:  # "?", ":", ";", "." end a sentence or a clause
                    runs.append(" ".join(current))
                    current = []
            else:
                if current:
                    runs.append(" ".join(current))
                current = []
        if current:
            runs.append(" ".join(current))
    cleaned = (r.strip(" ,;:") for r in runs)
    return tuple(r for r in cleaned if r and r not in (",", ";"))


def recognize(problem: str) -> Task | None:
    """The :class:`Task` a question asks for, or ``None`` when it is too long or has no math in it."""
    if not problem or len(problem) > MAX_PROBLEM_CHARS or _INDIRECT.search(problem):
        return None
    lang = _lang(problem)
    op = _op(problem)
    text = _normalise(problem)
    var: str | None = None
    order, lower, upper, point = 1, None, None, None
    subs: list[tuple[str, str]] = []

    m = _ORDER.search(text)
    if m and op == "diff":
        word = (m.group(1) or "").lower()
        order = 3 if word in ("third", "3rd") or "三" in m.group(0) or m.group(2) == "3" or m.group(3) == "'''" \
            else 2
    if op == "limit":
        for pattern in _LIMIT_POINT:
            if "\\lim" in text:
                break  # LaTeX \lim_{x \to a} is read whole by the LaTeX grammar
            m, text = _take(pattern, text)
            if m:
                var, point = m.group(1), _clean_token(m.group(2))
                break
    if op == "integrate" and "\\int" not in text:
        m, text = _take(_PLAIN_INT, text)
        if m:
            lower, upper = _clean_token(m.group(1)), _clean_token(m.group(2))
        else:
            for pattern in _BOUNDS:
                m, text = _take(pattern, text)
                if m:
                    lower, upper = _clean_token(m.group(1)), _clean_token(m.group(2))
                    break
        text = re.sub(r"∫|\bint\b", " ", text)
    m, text = _take(_WRT, text)
    if m:
        var = next(g for g in m.groups() if g)
    defined = _DEFINES.search(text)
    if defined and op in ("diff", "evaluate", ""):
        for call in _CALL.finditer(text):
            if call.group(1) == defined.group(1):
                if call.group(2):
                    op, order = "diff", len(call.group(2))
                subs.append((defined.group(2), _clean_token(call.group(3))))
                text = text[: call.start()] + _SEP + text[call.end():]
                break
    m, text = _take(_AT, text)
    if m:
        subs.append((m.group(1) or m.group(3), _clean_token(m.group(2) or m.group(4))))
    if op == "integrate" and "\\int" not in text:
        m, text = _take(_DX, text)
        if m:
            var = var or m.group(1)
    runs = math_runs(text)
    if not runs:
        return None
    return Task(op, runs, var, order, lower, upper, point, tuple(subs), lang)
