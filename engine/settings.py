"""Typed, validated settings for the engine (per deployment) and for generation (per student).

Each numeric setting has one :class:`Range`; validation and the UI sliders both read it, so they cannot drift.
Settings are built once (in ``app.py`` from flags and environment), validated in ``__post_init__`` and passed down.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from engine.base import GenParams
from engine.errors import SettingsError


@dataclass(frozen=True)
class Range:
    lo: float
    hi: float
    default: float
    step: float = 1

    def check(self, name: str, value: float) -> None:
        if not (self.lo <= value <= self.hi):
            raise SettingsError(f"{name} must be between {self.lo:g} and {self.hi:g} (got {value!r}).")


BACKENDS = ("auto", "lmdeploy", "llamacpp", "transformers", "fake")
MODEL_FORMATS = ("auto", "hf", "awq")  # "hf": the checkpoint's own dtype (fp16/bf16); "awq": 4-bit AWQ W4A16
DEVICES = ("auto", "cpu", "cuda")

CACHE_MAX_ENTRY_COUNT = Range(0.05, 0.95, 0.5, 0.05)  # lmdeploy: fraction of free GPU memory for the KV cache
SESSION_LEN = Range(512, 131072, 4096, 256)  # tokens of context per session
MAX_BATCH_SIZE = Range(1, 512, 64, 1)  # concurrent sequences in the engine
TP = Range(1, 8, 1, 1)  # tensor-parallel GPUs
TEMPERATURE = Range(0.0, 2.0, 0.7, 0.05)
TOP_P = Range(0.05, 1.0, 0.9, 0.05)
MAX_NEW_TOKENS = Range(16, 8192, 1024, 16)
MAX_MESSAGE_CHARS = 8000  # a longer chat message is refused with a message (nothing is sent to the model)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)} (got {value!r}).")


@dataclass(frozen=True)
class EngineSettings:
    """What the engine is built from. ``model`` is ``"default"`` (the offline default), a local path or a hub id."""

    backend: str = "auto"
    model: str = "default"
    model_format: str = "auto"
    device: str = "auto"
    cache_max_entry_count: float = CACHE_MAX_ENTRY_COUNT.default
    session_len: int = int(SESSION_LEN.default)
    max_batch_size: int = int(MAX_BATCH_SIZE.default)
    tp: int = int(TP.default)
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        _choice("backend", self.backend, BACKENDS)
        _choice("model_format", self.model_format, MODEL_FORMATS)
        _choice("device", self.device, DEVICES)
        if not self.model.strip():
            raise SettingsError("model must name the offline default ('default'), a local folder or a hub id.")
        CACHE_MAX_ENTRY_COUNT.check("cache_max_entry_count", self.cache_max_entry_count)
        SESSION_LEN.check("session_len", self.session_len)
        MAX_BATCH_SIZE.check("max_batch_size", self.max_batch_size)
        TP.check("tp", self.tp)


def validate_gen_params(params: GenParams) -> GenParams:
    """Raise :class:`SettingsError` if a sampling setting is out of range; return ``params`` unchanged."""
    TEMPERATURE.check("temperature", params.temperature)
    TOP_P.check("top_p", params.top_p)
    MAX_NEW_TOKENS.check("max_new_tokens", params.max_new_tokens)
    return params


def describe(settings: object) -> dict[str, object]:
    """The settings as a plain dict (for the status panel and logs)."""
    return {f.name: getattr(settings, f.name) for f in fields(settings)}  # type: ignore[arg-type]
