"""Builds the engine the settings ask for, choosing a backend when ``backend == "auto"``.

Auto: CUDA and lmdeploy present -> ``lmdeploy`` (TurboMind where it supports the model, else lmdeploy's PyTorch
engine); otherwise a CPU backend: ``llamacpp`` for the offline default (it runs the GGUF directly, several times
faster than transformers on a CPU) when llama-cpp-python is installed, else ``transformers``. Backend modules are imported lazily, so a CPU machine never
imports lmdeploy's CUDA code and the fake needs no torch at all.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.base import Engine
from engine.errors import EngineLoadError
from engine.memory import tp_count_problem
from engine.models import DEFAULT_MODEL, resolve_model
from engine.settings import EngineSettings

Progress = Callable[[float, str], None]  # (fraction 0..1, what is happening)


def cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def visible_gpus() -> int:
    """CUDA devices this process may use (after ``CUDA_VISIBLE_DEVICES``); 0 without CUDA."""
    if not cuda_available():
        return 0
    import torch

    return int(torch.cuda.device_count())


def check_tp(settings: EngineSettings, backend: str, gpus: int) -> None:
    """Raise :class:`EngineLoadError` when ``settings.tp`` cannot run here; the model's own rules are checked at load."""
    tp = settings.tp
    if tp == 1:
        return
    if problem := tp_count_problem(tp):
        raise EngineLoadError(problem)
    if backend != "lmdeploy":
        raise EngineLoadError(f"--tp {tp} splits the model over {tp} GPUs, which only the lmdeploy backend does; "
                              f"the {backend} backend runs on one device. Use --tp 1 here.")
    if tp > gpus:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        where = f" (CUDA_VISIBLE_DEVICES={visible})" if visible is not None else ""
        raise EngineLoadError(f"--tp {tp} needs {tp} GPUs, but {gpus} {'is' if gpus == 1 else 'are'} visible{where}. "
                              f"Use --tp {max(1, 1 << (gpus.bit_length() - 1)) if gpus else 1} or make more GPUs visible.")


def lmdeploy_installed() -> bool:
    return importlib.util.find_spec("lmdeploy") is not None


def llamacpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def choose_backend(settings: EngineSettings, *, cuda: bool | None = None, lmdeploy: bool | None = None,
                   llamacpp: bool | None = None, gpus: int | None = None) -> str:
    """The backend to build. Explicit choices are honoured; an impossible one raises :class:`EngineLoadError`."""
    backend = _choose_backend(settings, cuda=cuda, lmdeploy=lmdeploy, llamacpp=llamacpp)
    check_tp(settings, backend, visible_gpus() if gpus is None else gpus)
    return backend


def _choose_backend(settings: EngineSettings, *, cuda: bool | None, lmdeploy: bool | None,
                    llamacpp: bool | None) -> str:
    cuda = cuda_available() if cuda is None else cuda
    lmdeploy = lmdeploy_installed() if lmdeploy is None else lmdeploy
    llamacpp = llamacpp_installed() if llamacpp is None else llamacpp
    if settings.backend == "auto":
        if settings.device != "cpu" and cuda and lmdeploy:
            return "lmdeploy"
        if llamacpp and settings.model == DEFAULT_MODEL:
            return "llamacpp"
        return "transformers"
    if settings.backend == "llamacpp":
        if not llamacpp:
            raise EngineLoadError("The llama.cpp backend needs llama-cpp-python: run the README's setup command.")
        if settings.model != DEFAULT_MODEL:
            raise EngineLoadError("The llama.cpp backend runs the offline default model's GGUF only; use "
                                  "--backend transformers (CPU) or lmdeploy (GPU) for other models.")
    if settings.backend == "lmdeploy":
        if not lmdeploy:
            raise EngineLoadError("The lmdeploy backend needs lmdeploy: run the README's setup command.")
        if not cuda:
            raise EngineLoadError(
                "The lmdeploy backend needs an NVIDIA GPU with CUDA, and none is visible. "
                "Use --backend transformers (or auto) on this machine."
            )
    return settings.backend


def create_engine(settings: EngineSettings, progress: Progress | None = None, *,
                  allowed_dirs: Sequence[Path] | None = None) -> Engine:
    """Resolve the model (the offline default is assembled on first use) and start the chosen backend.

    ``allowed_dirs``: where a local model folder may lie (the teacher panel's factory passes them); None: anywhere
    (the command line: the operator is trusted)."""
    backend = choose_backend(settings)
    if backend == "fake":
        from engine.fake import FakeEngine

        return FakeEngine()
    if backend == "llamacpp":
        from engine.default_model import default_gguf_path
        from engine.llamacpp_backend import LlamaCppEngine

        return LlamaCppEngine(default_gguf_path(progress=progress), settings, progress=progress)
    model_dir = resolve_model(settings.model, progress=progress, allowed_dirs=allowed_dirs)
    if backend == "lmdeploy":
        from engine.lmdeploy_backend import LmdeployEngine

        return LmdeployEngine(model_dir, settings, progress=progress)
    from engine.hf_backend import TransformersEngine

    return TransformersEngine(model_dir, settings, progress=progress)
