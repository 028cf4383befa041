"""Tutor modes (Socratic, step by step, check my work), their system prompts, and the teacher's default + lock.

    system_prompt(mode, lang) -> str          # prompts/mode_<mode>_<lang>.txt
    TutorSettings(default_mode, locked)       # built once in app.py; .choose(requested) is what a turn uses
    detect_lang(text) -> "en" | "zh"

Prompts are files in ``prompts/`` (English and Chinese). The Socratic prompt asks the model to withhold the final
answer; the app does not rely on that (``tutor.redact``). Not covered: which hint to show (``tutor.hints``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import prompts
from engine.errors import SettingsError

SOCRATIC, STEPS, CHECK = "socratic", "steps", "check"
MODES = (SOCRATIC, STEPS, CHECK)
LANGS = ("en", "zh")
MODE_LABELS = {
    "en": {SOCRATIC: "Socratic (guide me)", STEPS: "Step by step", CHECK: "Check my work"},
    "zh": {SOCRATIC: "启发式提问", STEPS: "分步讲解", CHECK: "检查我的步骤"},
}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def detect_lang(text: str) -> str:
    """``"zh"`` when the text has Chinese characters, else ``"en"``."""
    return "zh" if _CJK.search(text or "") else "en"


def _check(mode: str, lang: str) -> None:
    if mode not in MODES:
        raise SettingsError(f"Tutor mode must be one of {', '.join(MODES)} (got {mode!r}).")
    if lang not in LANGS:
        raise SettingsError(f"Language must be one of {', '.join(LANGS)} (got {lang!r}).")


def system_prompt(mode: str, lang: str = "en") -> str:
    """The full system prompt for ``mode`` in ``lang`` (each mode file is a complete prompt)."""
    _check(mode, lang)
    return prompts.load(f"mode_{mode}_{lang}")


def released_note(lang: str = "en") -> str:
    """Told to the model in Socratic mode once the answer is released (the student solved it or used all hints)."""
    _check(SOCRATIC, lang)
    return prompts.load(f"released_{lang}")


@dataclass(frozen=True)
class TutorSettings:
    """The teacher's choice for the deployment: the default mode and whether students may switch."""

    default_mode: str = SOCRATIC
    locked: bool = False

    def __post_init__(self) -> None:
        if self.default_mode not in MODES:
            raise SettingsError(f"The default tutor mode must be one of {', '.join(MODES)} "
                                f"(got {self.default_mode!r}).")
        if not isinstance(self.locked, bool):
            raise SettingsError(f"The tutor-mode lock must be True or False (got {self.locked!r}).")

    def choose(self, requested: str | None) -> str:
        """The mode a turn runs in: the default when locked or when ``requested`` is not a mode."""
        if self.locked or requested not in MODES:
            return self.default_mode
        return requested  # type: ignore[return-value]

    def choices(self, lang: str = "en") -> list[tuple[str, str]]:
        """(label, mode) pairs for a selector: only the default when locked."""
        labels = MODE_LABELS.get(lang, MODE_LABELS["en"])
        modes = (self.default_mode,) if self.locked else MODES
        return [(labels[m], m) for m in modes]
