"""CAS grounding for the chat: the sympy result told to the model before it answers, and the badge after.

    grounding_note(problem, lang=None) -> str | None   # "Tool result (sympy): for …, the answer is …"
    badge(verification, lang="en", released=True) -> str   # "Verified by sympy ✓" / "sympy disagrees: …" / ""

The note comes from ``checker.verify.compute`` (sympy in a worker process, cached per question), rendered with
``prompts/grounding_<lang>.txt``; ``None`` when sympy cannot answer the question with confidence. The badge never
shows sympy's answer while a Socratic answer is withheld (``released=False``).
Not covered: recognising or computing (``checker.cas*``), comparing (``checker.verify``).
"""

from __future__ import annotations

import re

import prompts
from checker.cas_result import CasResult
from checker.verify import Verification, compute
from tutor.modes import SOCRATIC, STEPS, detect_lang

BADGES = {
    "en": {"verified": "✅ Verified by sympy ✓", "disputed": "❌ sympy disagrees: it gets \\({expected}\\) ✗",
           "disputed_hidden": "❌ sympy disagrees with this answer ✗"},
    "zh": {"verified": "✅ 已由 sympy 验证 ✓", "disputed": "❌ sympy 的结果不同：它得到 \\({expected}\\) ✗",
           "disputed_hidden": "❌ sympy 不同意这个答案 ✗"},
}


SMALL_MODEL_BILLIONS = 8.0  # grounding is on by default up to this size


def grounding_default(model_name: str) -> bool:
    """The "tool-grounded" setting's default: on for small models (≤ 8B parameters by the name, e.g. "0.5B"),
    and when the size cannot be told from the name; off for larger ones."""
    sizes = [float(m) for m in re.findall(r"(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])", model_name or "")]
    return not sizes or max(sizes) <= SMALL_MODEL_BILLIONS


def grounding_note(problem: str, lang: str | None = None, *, result: CasResult | None = None,
                   mode: str = STEPS) -> str | None:
    """Text giving sympy's answer to the model (add it to the system prompt), or ``None``. In Socratic mode the
    note asks the model to guide with it, not to state it (prompts/grounding_socratic_<lang>.txt)."""
    result = result if result is not None else compute(problem)
    if result is None:
        return None
    lang = lang or detect_lang(problem)
    kind = "grounding_socratic" if mode == SOCRATIC else "grounding"
    template = prompts.load(f"{kind}_{'zh' if lang == 'zh' else 'en'}")
    return template.format(question=f"\\({result.question}\\)", answer=f"\\({result.expected}\\)",
                           boxed=result.expected)


def badge(verification: Verification, lang: str = "en", released: bool = True) -> str:
    """The line shown under a reply: verified, disputed (with sympy's answer once released), or nothing."""
    words = BADGES.get(lang, BADGES["en"])
    if verification.status == "verified":
        return words["verified"]
    if verification.status == "disputed":
        if released and verification.expected:
            return words["disputed"].format(expected=verification.expected)
        return words["disputed_hidden"]
    return ""
