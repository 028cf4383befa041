"""Prompt text lives in files beside this module, not in code. ``load(name)`` reads ``<name>.txt``.

Not covered: choosing a prompt (the UI does), templating beyond ``str.format`` fields the caller passes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

PROMPT_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def load(name: str) -> str:
    """The text of ``prompts/<name>.txt`` without trailing whitespace. ``name`` is a plain file stem."""
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"not a prompt name: {name!r}")
    return (PROMPT_DIR / f"{name}.txt").read_text(encoding="utf-8").rstrip()
