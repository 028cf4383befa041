"""The one engine interface every backend implements, and the values that cross it.

A backend turns a chat (a list of ``{"role", "content"}`` messages) into a stream of :class:`Chunk` objects.
It applies the model's own chat template itself. It knows nothing about Gradio, Markdown or answer checking.

Stopping: closing the async iterator returned by :meth:`Engine.stream` (``aclose()``, or the task running it
being cancelled, which is what Gradio's Stop does) must end the generation *inside the engine* (lmdeploy session
abort, a stopping criterion on the CPU backend). :meth:`Engine.abort` does the same from outside, by request id.

Not covered here: which backend to build (``engine.factory``), model files (``engine.default_model``).
"""

from __future__ import annotations

import abc
import gc
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Mapping

Message = Mapping[str, str]  # {"role": "system" | "user" | "assistant", "content": str}
FinishReason = Literal["stop", "length", "abort", "error"]


@dataclass(frozen=True)
class GenParams:
    """Per-request sampling settings (per student). Validated by ``engine.settings.validate_gen_params``."""

    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 1024
    seed: int | None = None


@dataclass(frozen=True)
class Chunk:
    """One step of a streamed reply.

    ``text`` is the new text since the previous chunk (may be empty). ``tokens`` is how many new tokens this chunk
    covers (for tokens/s). ``queue_position`` is set (1 = next) while the request waits for a free slot and is
    ``None`` once it runs. The last chunk of a stream has ``finish_reason`` set; ``error`` carries a message
    for the user when ``finish_reason == "error"``.
    """

    text: str = ""
    tokens: int = 0
    finish_reason: FinishReason | None = None
    queue_position: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class EngineInfo:
    """What is actually running, for the status line."""

    backend: str  # e.g. "TurboMind", "lmdeploy PyTorch engine", "transformers (CPU)", "fake"
    model: str  # display name of the model
    weight_format: str  # e.g. "fp16", "AWQ W4A16", "fp32", "bf16"
    device: str  # e.g. "CUDA: NVIDIA H100 80GB HBM3", "CPU (2 cores)"
    max_concurrency: int = 1  # how many generations run at once (the UI sets Gradio's limit from it)
    extra: Mapping[str, str] = field(default_factory=dict)

    def status_line(self) -> str:
        return f"{self.backend} · {self.model} · {self.weight_format} · {self.device}"


def new_request_id() -> str:
    return uuid.uuid4().hex


class Engine(abc.ABC):
    """A streaming chat engine. Subclasses implement :meth:`stream`, :meth:`abort` and :meth:`close`."""

    info: EngineInfo

    @abc.abstractmethod
    def stream(
        self, messages: Sequence[Message], params: GenParams, *, request_id: str | None = None
    ) -> AsyncIterator[Chunk]:
        """Stream the assistant's reply to ``messages``. Implement as an ``async def`` generator.

        Never raises for a problem the user can act on (out of memory, prompt too long): it yields a final
        ``Chunk(finish_reason="error", error=...)`` instead. Closing the iterator aborts the generation.
        """

    @abc.abstractmethod
    async def abort(self, request_id: str) -> bool:
        """End the generation with this id if it is queued or running. Returns whether one was found."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Free the model and any worker threads/processes. The engine is unusable afterwards."""

    def active_requests(self) -> int:
        """How many requests are running or queued now (for the teacher's view). Backends may override."""
        return 0


def collect_garbage() -> None:
    """A full collection for an engine's ``close``, one that also reaches the objects frozen at start-up
    (``ui.runtime.tune_for_serving`` freezes what was loaded by then, the first engine included, and a frozen
    object is never collected): a closed engine's reference cycles, and the GPU memory they hold, would otherwise
    outlive it. What survives is frozen again when the process had frozen objects before."""
    frozen = gc.get_freeze_count() > 0
    gc.unfreeze()
    gc.collect()
    if frozen:
        gc.freeze()
