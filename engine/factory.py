"""Builds the engine the settings ask for, choosing a backend when ``backend == "auto"``.

Auto: CUDA and lmdeploy present -> ``lmdeploy`` (TurboMind where it supports the model, else lmdeploy's PyTorch
engine); otherwise ``transformers`` on the CPU. Backend modules are imported lazily, so a CPU machine never
imports lmdeploy's CUDA code and the fake needs no torch at all.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from engine.base import Engine
from engine.errors import EngineLoadError
from engine.settings import EngineSettings

Progress = Callable[[float, str], None]  # (fraction 0..1, what is happening)


def cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def lmdeploy_installed() -> bool:
    return importlib.util.find_spec("lmdeploy") is not None


def choose_backend(settings: EngineSettings, *, cuda: bool | None = None, lmdeploy: bool | None = None) -> str:
    """The backend to build. Explicit choices are honoured; an impossible one raises :class:`EngineLoadError`."""
    cuda = cuda_available() if cuda is None else cuda
    lmdeploy = lmdeploy_installed() if lmdeploy is None else lmdeploy
    if settings.backend == "auto":
        if settings.device != "cpu" and cuda and lmdeploy:
            return "lmdeploy"
        return "transformers"
    if settings.backend == "lmdeploy":
        if not lmdeploy:
            raise EngineLoadError("The lmdeploy backend needs lmdeploy: run the README's setup command.")
        if not cuda:
            raise EngineLoadError(
                "The lmdeploy backend needs an NVIDIA GPU with CUDA, and none is visible. "
                "Use --backend transformers (or auto) on this machine."
            )
    return settings.backend


def create_engine(settings: EngineSettings, progress: Progress | None = None) -> Engine:
    """Resolve the model (the offline default is assembled on first use) and start the chosen backend."""
    backend = choose_backend(settings)
    if backend == "fake":
        from engine.fake import FakeEngine

        return FakeEngine()
    from engine.models import resolve_model

    model_dir = resolve_model(settings.model, progress=progress)
    if backend == "lmdeploy":
        from engine.lmdeploy_backend import LmdeployEngine

        return LmdeployEngine(model_dir, settings, progress=progress)
    from engine.hf_backend import TransformersEngine

    return TransformersEngine(model_dir, settings, progress=progress)
