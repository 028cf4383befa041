"""Tutor modes: prompts render in English and Chinese; the teacher's default mode and lock."""

from __future__ import annotations

import re

import pytest

from engine.errors import SettingsError
from tutor.modes import CHECK, MODES, SOCRATIC, STEPS, TutorSettings, detect_lang, released_note, system_prompt

_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_mode_renders_in_both_languages(mode: str, lang: str) -> None:
    text = system_prompt(mode, lang)
    assert len(text) > 200
    assert bool(_CJK.search(text)) == (lang == "zh")
    assert "\\(" in text  # the LaTeX convention the page renders


def test_modes_say_different_things() -> None:
    assert "\\boxed" in system_prompt(STEPS, "en") and "\\boxed" in system_prompt(STEPS, "zh")
    assert "Never state the final answer" in system_prompt(SOCRATIC, "en")
    assert "不要直接说出最终答案" in system_prompt(SOCRATIC, "zh")
    assert "first step that breaks" in system_prompt(CHECK, "en")
    assert len({system_prompt(m, "en") for m in MODES}) == 3


def test_released_note_exists() -> None:
    assert "\\boxed" in released_note("en") and "\\boxed" in released_note("zh")


def test_unknown_mode_or_language_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="socratic, steps, check"):
        system_prompt("lecture", "en")
    with pytest.raises(SettingsError, match="en, zh"):
        system_prompt(SOCRATIC, "fr")


def test_teacher_lock_forces_the_default_mode() -> None:
    locked = TutorSettings(default_mode=STEPS, locked=True)
    assert locked.choose(SOCRATIC) == STEPS and locked.choose(None) == STEPS
    assert [m for _, m in locked.choices()] == [STEPS]
    free = TutorSettings(default_mode=STEPS)
    assert free.choose(CHECK) == CHECK and free.choose("nonsense") == STEPS
    assert [m for _, m in free.choices("zh")] == list(MODES)
    assert TutorSettings().default_mode == SOCRATIC and not TutorSettings().locked


def test_settings_are_validated_and_frozen() -> None:
    with pytest.raises(SettingsError, match="default tutor mode"):
        TutorSettings(default_mode="lecture")
    with pytest.raises(SettingsError, match="lock"):
        TutorSettings(locked="yes")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        TutorSettings().locked = True  # type: ignore[misc]


def test_detect_lang() -> None:
    assert detect_lang("解方程 x^2 = 4") == "zh"
    assert detect_lang("Solve x^2 = 4") == "en" and detect_lang("") == "en"
