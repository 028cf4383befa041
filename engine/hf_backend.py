"""The CPU fallback: a Hugging Face checkpoint run with plain transformers, one generation at a time.

Requests wait in a FIFO queue (their streams report ``Chunk(queue_position=n)``, 1 = next) and one worker thread
runs ``model.generate`` for each in turn. Tokens reach the request's asyncio loop through a small streamer, and a
stopping criterion checks the request's stop flag after every token, so closing the stream, cancelling its task
or :meth:`TransformersEngine.abort` ends the generation inside ``generate``. The prompt is built with the
tokenizer's own chat template.

Not covered: choosing this backend (``engine.factory``), finding or converting the model (``engine.models``).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.base import Chunk, Engine, EngineInfo, FinishReason, GenParams, Message, collect_garbage, new_request_id
from engine.errors import EngineLoadError
from engine.settings import EngineSettings

Progress = Callable[[float, str], None]
_DTYPE_NAMES = {"torch.float32": "fp32", "torch.bfloat16": "bf16", "torch.float16": "fp16"}
_HISTORY = 256  # finished requests remembered in ``finished`` / ``tokens_generated`` (for tests and the teacher)


def cpu_cores() -> int:
    """Cores this process may run on (the container's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


@dataclass(eq=False)
class _Request:
    """One stream's state, shared between its coroutine and the worker thread."""

    rid: str
    prompt_ids: list[int]
    params: GenParams
    max_new_tokens: int
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue[Chunk] = field(default_factory=asyncio.Queue)
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)  # set by the worker once generate returned
    position: int | None = None

    def post(self, chunk: Chunk) -> None:
        """Hand a chunk to the request's event loop (callable from any thread)."""
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, chunk)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.stop.set()


class _ChunkStreamer:
    """Receives token ids from ``generate`` (worker thread) and posts text chunks to the request.

    Hand-written rather than ``TextIteratorStreamer``: that one needs a consumer thread per request, this one puts
    chunks straight onto the request's asyncio queue and counts tokens. Decoding follows the usual incremental
    scheme (decode a short window, hold back text that ends in half a UTF-8 character).
    """

    def __init__(self, tokenizer: Any, request: _Request) -> None:
        self.tokenizer, self.request = tokenizer, request
        self.ids: list[int] = []
        self.generated = 0
        self._prompt_seen = False
        self._prefix = self._read = 0
        self._pending = 0  # tokens not yet reported in a chunk

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # generate() first hands over the prompt
            self._prompt_seen = True
            return
        new = [int(t) for t in value.reshape(-1).tolist()]
        self.ids.extend(new)
        self.generated += len(new)
        self._pending += len(new)
        text = self._decode()
        if text:
            self.request.post(Chunk(text=text, tokens=self._pending))
            self._pending = 0

    def end(self) -> None:
        pass  # the worker sends the final chunk itself, with the finish reason

    def flush(self) -> Chunk | None:
        """What is left after generation (held-back text, uncounted tokens), as one chunk."""
        tail = self.tokenizer.decode(self.ids[self._prefix :], skip_special_tokens=True)
        head = self.tokenizer.decode(self.ids[self._prefix : self._read], skip_special_tokens=True)
        text = tail[len(head) :] if len(tail) > len(head) else ""
        if not text and not self._pending:
            return None
        return Chunk(text=text, tokens=self._pending)

    def _decode(self) -> str:
        head = self.tokenizer.decode(self.ids[self._prefix : self._read], skip_special_tokens=True)
        full = self.tokenizer.decode(self.ids[self._prefix :], skip_special_tokens=True)
        if len(full) > len(head) and not full.endswith("\ufffd"):
            self._prefix, self._read = self._read, len(self.ids)
            return full[len(head) :]
        return ""


class TransformersEngine(Engine):
    """Runs ``model_dir`` on the CPU with transformers. ``dtype`` defaults to float32 (fast and exact on CPUs)."""

    def __init__(
        self,
        model_dir: Path | str,
        settings: EngineSettings,
        progress: Progress | None = None,
        *,
        dtype: str = "float32",
        threads: int | None = None,
    ) -> None:
        import torch

        self.settings = settings
        self.model_dir = Path(model_dir)
        cores = threads or cpu_cores()
        torch.set_num_threads(cores)
        self._torch = torch
        self.tokenizer, self.model = _load(self.model_dir, settings, getattr(torch, dtype), progress)
        self._eos = _eos_ids(self.model, self.tokenizer)
        self.info = EngineInfo(
            backend="transformers (CPU)",
            model=_display_name(self.model_dir, self.model.config),
            weight_format=_DTYPE_NAMES.get(str(self.model.dtype), str(self.model.dtype)),
            device=f"CPU ({cores} cores)",
            max_concurrency=1,
            extra={"queue": "FIFO, one generation at a time", "session_len": str(settings.session_len)},
        )
        self.finished: OrderedDict[str, FinishReason] = OrderedDict()  # request id -> finish reason
        self.tokens_generated: OrderedDict[str, int] = OrderedDict()  # request id -> tokens made inside generate
        self._cond = threading.Condition()
        self._waiting: deque[_Request] = deque()
        self._running: _Request | None = None
        self._closed = False
        self._worker = threading.Thread(target=self._work, name="transformers-engine", daemon=True)
        self._worker.start()

    # ---- the Engine interface ------------------------------------------------------------------------------

    async def stream(
        self, messages: Sequence[Message], params: GenParams, *, request_id: str | None = None
    ) -> AsyncIterator[Chunk]:
        rid = request_id or new_request_id()
        prompt_ids, problem = self._prompt(messages)
        room = self.settings.session_len - len(prompt_ids)
        if problem is None and room < 1:
            problem = (
                f"This conversation is {len(prompt_ids)} tokens long, more than this session's limit of "
                f"{self.settings.session_len} tokens: start a new chat (or raise --session-len)."
            )
        if problem is not None:
            self._record(rid, "error", 0)
            yield Chunk(finish_reason="error", error=problem)
            return
        request = _Request(rid, prompt_ids, params, min(params.max_new_tokens, room), asyncio.get_running_loop())
        if not self._submit(request):
            yield Chunk(finish_reason="error", error="The engine has been shut down: restart the app.")
            return
        try:
            while True:
                chunk = await request.events.get()
                yield chunk
                if chunk.finish_reason is not None:
                    return
        finally:  # closed early (aclose, cancellation) or finished: make sure generate has stopped
            request.stop.set()
            if not self._withdraw(request):
                await asyncio.to_thread(request.done.wait)

    async def abort(self, request_id: str) -> bool:
        with self._cond:
            request = next((r for r in self._waiting if r.rid == request_id), None)
            if request is None and self._running is not None and self._running.rid == request_id:
                request = self._running
        if request is None:
            return False
        request.stop.set()
        if self._withdraw(request):
            request.post(Chunk(finish_reason="abort"))
        return True

    async def close(self) -> None:
        with self._cond:
            self._closed = True
            waiting, self._waiting = list(self._waiting), deque()
            running = self._running
            self._cond.notify_all()
        for request in waiting:
            request.stop.set()
            self._record(request.rid, "abort", 0)
            request.done.set()
            request.post(Chunk(finish_reason="abort"))
        if running is not None:
            running.stop.set()
        await asyncio.to_thread(self._worker.join)
        self.model = None  # drop the weights (close() may be called again: nothing left to do then)
        collect_garbage()

    def active_requests(self) -> int:
        with self._cond:
            return len(self._waiting) + (self._running is not None)

    # ---- queue -------------------------------------------------------------------------------------------------

    def _submit(self, request: _Request) -> bool:
        """Queue a request; False if the engine is closed."""
        with self._cond:
            if self._closed:
                return False
            self._waiting.append(request)
            self._post_positions()
            self._cond.notify_all()
        return True

    def _withdraw(self, request: _Request) -> bool:
        """Take a request out of the queue if it has not started. False if it is running or already done."""
        with self._cond:
            if request not in self._waiting:
                return False
            self._waiting.remove(request)
            self._post_positions()
        self._record(request.rid, "abort", 0)
        request.done.set()
        return True

    def _post_positions(self) -> None:  # called with the lock held
        # 1 = next. With nothing running, the head of the queue is about to start and has no position.
        first = 1 if self._running is not None else 0
        for n, request in enumerate(self._waiting, start=first):
            if n > 0 and request.position != n:
                request.position = n
                request.post(Chunk(queue_position=n))

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                request = self._running = self._waiting.popleft()
                self._post_positions()
            reason: FinishReason = "error"
            tokens = 0
            try:
                reason, tokens = self._generate(request)
            finally:  # record first: a stream that sees ``done`` must also see its outcome
                self._record(request.rid, reason, tokens)
                with self._cond:
                    self._running = None
                request.done.set()

    def _record(self, rid: str, reason: FinishReason, tokens: int) -> None:
        with self._cond:
            self.finished[rid], self.tokens_generated[rid] = reason, tokens
            while len(self.finished) > _HISTORY:
                self.finished.popitem(last=False)
                self.tokens_generated.popitem(last=False)

    # ---- one generation (worker thread) -----------------------------------------------------------------------

    def _prompt(self, messages: Sequence[Message]) -> tuple[list[int], str | None]:
        try:
            text = self.tokenizer.apply_chat_template(
                [dict(m) for m in messages], add_generation_prompt=True, tokenize=False
            )
            return list(self.tokenizer(text, add_special_tokens=False)["input_ids"]), None
        except Exception as err:  # a template that rejects this chat (e.g. roles out of order)
            return [], f"The model's chat template rejected this conversation ({err}): start a new chat."

    def _generate(self, request: _Request) -> tuple[FinishReason, int]:
        torch = self._torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        stop = request.stop

        class StopFlag(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool)

        streamer = _ChunkStreamer(self.tokenizer, request)
        params = request.params
        sampling: dict[str, Any] = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        if params.temperature > 0:
            sampling = {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p}
        try:
            if stop.is_set():
                raise _Stopped
            if params.seed is not None:  # the global generator: safe, as this thread is the only one sampling
                torch.manual_seed(params.seed)
            input_ids = torch.tensor([request.prompt_ids], dtype=torch.long)
            with torch.inference_mode():
                self.model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    max_new_tokens=request.max_new_tokens,
                    eos_token_id=self._eos,
                    pad_token_id=self._eos[0],
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([StopFlag()]),
                    **sampling,
                )
        except _Stopped:
            pass
        except Exception as err:  # out of memory, a broken checkpoint: report it as data, keep the worker alive
            request.post(Chunk(finish_reason="error", error=f"The CPU engine failed while generating: {err}"))
            return "error", streamer.generated
        tail = streamer.flush()
        if tail is not None:
            request.post(tail)
        reason: FinishReason
        if stop.is_set():
            reason = "abort"
        elif streamer.ids and streamer.ids[-1] in self._eos:
            reason = "stop"
        elif streamer.generated >= request.max_new_tokens:
            reason = "length"
        else:
            reason = "stop"
        request.post(Chunk(finish_reason=reason))
        return reason, streamer.generated


class _Stopped(Exception):
    """The request was stopped before generate started."""


def _load(model_dir: Path, settings: EngineSettings, dtype: Any, progress: Progress | None) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if progress is not None:
        progress(0.0, f"loading {model_dir.name} on the CPU")
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            model_dir, local_files_only=True, trust_remote_code=settings.trust_remote_code
        )
        model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=dtype, local_files_only=True, trust_remote_code=settings.trust_remote_code
        )
    except MemoryError as err:
        raise EngineLoadError(f"Not enough memory to load {model_dir} on the CPU: pick a smaller model.") from err
    except Exception as err:
        raise EngineLoadError(
            f"transformers could not load {model_dir} ({type(err).__name__}: {err}). Check that the folder holds a "
            "complete Hugging Face causal-LM checkpoint (config.json, weights, tokenizer files); for the offline "
            "default, delete it from the cache and start the app again to rebuild it."
        ) from err
    if not getattr(tokenizer, "chat_template", None):
        raise EngineLoadError(
            f"{model_dir} has no chat template: use an instruction-tuned (chat) model, whose tokenizer has one."
        )
    model.eval()
    if progress is not None:
        progress(1.0, f"{model_dir.name} loaded")
    return tokenizer, model


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every token that ends a reply: the generation config's eos ids, then the tokenizer's."""
    ids: list[int] = []
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        for token in value if isinstance(value, list) else [value]:
            if token is not None and int(token) not in ids:
                ids.append(int(token))
    if not ids:
        raise EngineLoadError("The model defines no end-of-sequence token, so replies could never end.")
    return ids


def _display_name(model_dir: Path, config: Any) -> str:
    """The folder's name, or the config's for a hub cache snapshot (a folder named by its 40-digit commit)."""
    name = model_dir.name
    if len(name) == 40 and all(c in "0123456789abcdef" for c in name):
        name = str(getattr(config, "_name_or_path", "") or name)
    return name
