"""Shared pytest fixtures: small, generic, session-scoped where building them is costly.

- ``tiny_model_dir``: a tiny random-weight Qwen2 checkpoint with a ChatML tokenizer (built once per session, ~1 s).
- ``python_runtime``: restores the garbage collector and the GIL's switch interval after a test that tuned them.
- ``default_model_dir``: the real offline default model, assembled and converted by ``ensure_default_model`` into
  the real user cache (or ``TUTOR_CACHE_DIR`` when it is set), so the conversion happens once per machine.
  Tests that use it are marked ``model``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for `engine`, `ui`, `tests.fixtures`


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.fixtures.tiny_model import build_tiny_qwen2

    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2"))


@pytest.fixture()
def python_runtime():
    """For a test that tunes pytest's own process as the app serves (``ui.runtime``: the bench launching an app in
    process, a GPU test): puts CPython's collector threshold and switch interval back afterwards, and unfreezes."""
    import gc

    threshold, switch = gc.get_threshold(), sys.getswitchinterval()
    yield
    gc.set_threshold(*threshold)
    sys.setswitchinterval(switch)
    gc.unfreeze()


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    from engine.default_model import ensure_default_model

    return ensure_default_model()
