"""Where the app keeps what it downloads and builds: one user cache folder, never the repository.

``TUTOR_CACHE_DIR`` overrides it (tests point it at a temporary folder). Sub-folders: ``models/`` (converted or
downloaded checkpoints), ``quantized/`` (AWQ results), ``hub/`` (hub downloads).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE = "TUTOR_CACHE_DIR"


def cache_dir() -> Path:
    env = os.environ.get(ENV_CACHE)
    if env:
        root = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(base) / "math-tutor"
    root.mkdir(parents=True, exist_ok=True)
    return root


def sub_cache(name: str) -> Path:
    path = cache_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
