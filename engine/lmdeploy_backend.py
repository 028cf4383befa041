"""The GPU backend: lmdeploy (TurboMind where it supports the model, else lmdeploy's PyTorch engine).

``LmdeployEngine(model_dir, settings)`` loads an fp16/bf16 or AWQ W4A16 checkpoint and streams replies. lmdeploy
batches concurrent sessions itself (continuous batching, up to ``max_batch_size`` at once; more wait for a slot in
lmdeploy's own queue), so nothing here serialises requests. Closing a stream early or :meth:`abort` cancels the
request inside lmdeploy. Every lmdeploy call goes through ``engine.lmdeploy_api``.

Create it from code that runs under ``if __name__ == "__main__":`` (``app.py`` is such an entry point): with
tp > 1 lmdeploy starts worker processes, which re-import the main module.

Event loops: lmdeploy 0.18's ``Pipeline`` runs its own asyncio loop in a daemon thread and binds its AsyncEngine
to it (request-slot queue, PyTorch engine tasks, TurboMind's wake-up callbacks all live there). Our ``stream()`` is
called from whatever loop the caller has (Gradio's server loop, ``asyncio.run`` in a test or benchmark), so each
request runs as a task on lmdeploy's loop and hands its output to the caller's loop through
``call_soon_threadsafe`` into an ``asyncio.Queue``. Abort = cancel that task on lmdeploy's loop (plus lmdeploy's
session abort), which is the path lmdeploy's own API server takes when a client disconnects.

Not covered here: choosing the backend (``engine.factory``), model files (``engine.models``), quantization.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine import lmdeploy_api as api
from engine.base import Chunk, Engine, EngineInfo, GenParams, Message, collect_garbage, new_request_id
from engine.errors import EngineLoadError
from engine.settings import EngineSettings

Progress = Callable[[float, str], None]
_END = object()  # pushed by the request task when it has nothing more to say
_KEEP_FINISHED = 256


class _Inbox:
    """Hands lmdeploy's outputs (made on lmdeploy's loop) to the caller's loop: a deque, and one wake-up for
    whatever arrived since the caller last looked, not one per output. At 64 streams TurboMind makes about 16,000
    outputs a second; a ``call_soon_threadsafe`` each (a self-pipe write and a wake-up of the caller's loop, which is
    Gradio's) would cost that loop a wake-up per token. Hand-written: asyncio has no cross-loop batching queue."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[object] = deque()
        self._ready = asyncio.Event()  # only touched on the caller's loop
        self._wake_pending = False  # written by both sides; the order below makes any interleaving safe

    def put(self, item: object) -> None:
        """Any thread. Append first, then wake the caller unless a wake-up is already on its way."""
        self._items.append(item)
        if not self._wake_pending:
            self._wake_pending = True
            try:
                self._loop.call_soon_threadsafe(self._ready.set)
            except RuntimeError:  # the caller's loop is closed: nobody is listening any more
                pass

    async def take(self) -> list[object]:
        """The caller's loop: everything put since the last call (waits for at least one item)."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            self._wake_pending = False  # before draining: an item put after this line brings its own wake-up
            items = []
            while self._items:
                items.append(self._items.popleft())
            if items:
                return items


@dataclass
class _Request:
    """Book-keeping for one stream, shared by the caller's loop and lmdeploy's loop (each field has one writer)."""

    rid: str
    aborted: bool = False  # written by the caller's side
    session: Any = None  # written on lmdeploy's loop, like the two below
    task: asyncio.Task[None] | None = None
    streaming: bool = False  # lmdeploy has produced output, so the request is running inside the engine


def _weight_label(model_format: str, dtype: str) -> str:
    if model_format == "awq":
        return "AWQ W4A16"
    return {"bfloat16": "bf16", "float16": "fp16"}.get(dtype, dtype)


def _tp_problem(model_dir: Path, tp: int) -> str | None:
    """The model's heads must split evenly over ``tp`` GPUs (TurboMind asserts it deep inside; say it first)."""
    if tp == 1:
        return None
    from engine import memory

    try:
        shape = memory.ModelShape.from_hf_config(json.loads((model_dir / "config.json").read_text(encoding="utf-8")))
    except (OSError, KeyError, ValueError, TypeError):
        return None  # an unusual config: let lmdeploy decide
    return memory.tp_problem(shape, tp)


def _load_error(err: BaseException, model_dir: Path, settings: EngineSettings, backend: str) -> EngineLoadError:
    text = f"{type(err).__name__}: {err}"
    if "out of memory" in text.lower() or "outofmemory" in text.lower():
        return EngineLoadError(
            f"Not enough GPU memory to start {backend} for {model_dir.name} (session_len={settings.session_len}, "
            f"max_batch_size={settings.max_batch_size}, cache_max_entry_count={settings.cache_max_entry_count}). "
            "Lower --cache-max-entry-count, --session-len or --max-batch-size, use the AWQ W4A16 checkpoint "
            "(`python app.py quantize`), or free the GPU (nvidia-smi shows who uses it)."
        )
    hint = (
        "TurboMind does not support this model, and lmdeploy's PyTorch engine could not load it either"
        if backend != "TurboMind" else "TurboMind could not load this model"
    )
    return EngineLoadError(
        f"{hint} ({model_dir}): {text}. Check that the folder holds a complete Hugging Face checkpoint of a "
        "supported architecture (Qwen2, Llama, InternLM2, ...), or run it with --backend transformers."
    )


class LmdeployEngine(Engine):
    """lmdeploy serving one checkpoint on CUDA. See the module docstring for threads, loops and aborts.

    ``ignore_eos`` (benchmarks and tests; may be toggled) makes every reply exactly ``max_new_tokens`` long.
    ``finished`` maps the last request ids to what lmdeploy itself reported at their end: (finish reason, tokens
    generated). It shows that an abort stopped the engine early, not just the stream.
    """

    def __init__(
        self,
        model_dir: Path,
        settings: EngineSettings,
        progress: Progress | None = None,
        *,
        ignore_eos: bool = False,
        display_name: str | None = None,
    ) -> None:
        model_dir = Path(model_dir)
        report = progress or (lambda fraction, text: None)
        if not torch.cuda.is_available():
            raise EngineLoadError(
                "The lmdeploy backend needs an NVIDIA GPU with CUDA, and none is visible. "
                "Use --backend transformers (or auto) on this machine."
            )
        if settings.tp > torch.cuda.device_count():
            raise EngineLoadError(
                f"--tp {settings.tp} needs {settings.tp} GPUs, but {torch.cuda.device_count()} are visible."
            )
        problem = _tp_problem(model_dir, settings.tp)
        if problem:
            raise EngineLoadError(problem)
        model_format = api.resolve_model_format(model_dir, settings.model_format)
        turbomind = api.turbomind_available() and api.turbomind_supports_model(
            model_dir, trust_remote_code=settings.trust_remote_code
        )
        config = api.build_backend_config(settings, model_format, turbomind=turbomind)
        backend = "TurboMind" if turbomind else "lmdeploy PyTorch engine"
        report(0.05, f"Starting {backend} with {model_dir.name} ({model_format})")
        free_before = [torch.cuda.mem_get_info(i)[0] for i in range(settings.tp)]
        total = torch.cuda.mem_get_info(0)[1]
        try:
            self._pipe = api.create_pipeline(model_dir, config, trust_remote_code=settings.trust_remote_code)
        except Exception as err:  # lmdeploy raises plain RuntimeError/AssertionError/ValueError for all of these
            raise _load_error(err, model_dir, settings, backend) from err
        taken = [before - torch.cuda.mem_get_info(i)[0] for i, before in enumerate(free_before)]
        report(1.0, f"{backend} ready")

        self.ignore_eos = ignore_eos
        self.finished: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._requests: dict[str, _Request] = {}
        self._closed = False
        self.model_format = model_format
        kv = api.kv_cache_figures(self._pipe)
        extra = {
            "lmdeploy": api.lmdeploy_version(),
            "session_len": str(settings.session_len),
            "kv_cache_ratio": f"{kv.ratio:g}",
            "kv_block_tokens": str(kv.block_tokens),
            "gpu_memory_taken_at_load_mib": " + ".join(str(t // 2**20) for t in taken),  # per GPU with tp > 1
            "gpu_memory_total_mib": str(total // 2**20),
            "tp": str(settings.tp),
        }
        if kv.bytes_per_token:
            extra["kv_bytes_per_token"] = str(kv.bytes_per_token)
        if kv.capacity_tokens:
            extra["kv_capacity_tokens"] = str(kv.capacity_tokens)
        gpus = f" ×{settings.tp} (tensor parallel, tp={settings.tp})" if settings.tp > 1 else ""
        self.tp = settings.tp
        self.info = EngineInfo(
            backend=backend,
            model=display_name or model_dir.name,
            weight_format=_weight_label(model_format, api.resolved_dtype(self._pipe)),
            device=f"CUDA: {torch.cuda.get_device_name(0)}{gpus}",
            max_concurrency=settings.max_batch_size,
            extra=extra,
        )

    # ---- streaming ---------------------------------------------------------------------------------------------

    async def stream(
        self, messages: Sequence[Message], params: GenParams, *, request_id: str | None = None
    ) -> AsyncIterator[Chunk]:
        if self._closed:
            yield Chunk(finish_reason="error", error="The engine has been shut down; restart the app.")
            return
        req = _Request(request_id or new_request_id())
        self._requests[req.rid] = req
        inbox = _Inbox(asyncio.get_running_loop())
        finished = False
        try:
            waiting = len(self._requests) - self.info.max_concurrency
            if waiting > 0:  # lmdeploy queues it until a batch slot frees up
                yield Chunk(queue_position=waiting)
            gen_config = api.generation_config(params, ignore_eos=self.ignore_eos)
            api.submit(self._pipe, self._run(req, messages, gen_config, inbox.put))
            while True:
                # Everything lmdeploy produced since the last look, as one chunk: under load the caller's loop looks
                # less often and gets bigger chunks, so its cost per token falls as the load rises.
                items = await inbox.take()
                outs = [item for item in items if isinstance(item, api.StreamOut)]
                if outs:
                    last = outs[-1]
                    chunk = self._chunk(api.StreamOut("".join(o.text for o in outs), sum(o.tokens for o in outs),
                                                      last.finish_reason, last.error), req)
                    finished = chunk.finish_reason is not None
                    yield chunk
                    if finished:
                        return
                if _END in items:
                    finished = True
                    reason = "abort" if req.aborted else "error"
                    yield Chunk(finish_reason=reason, error=None if req.aborted else "The engine stopped answering.")
                    return
        finally:
            if not finished:  # closed early (Gradio's Stop cancels the task, or aclose()): abort inside lmdeploy
                self._abort(req)
            self._requests.pop(req.rid, None)

    async def _run(self, req: _Request, messages: Sequence[Message], gen_config: Any,
                   push: Callable[[object], None]) -> None:
        """The request's task on lmdeploy's loop: feeds lmdeploy's output to the caller's queue."""
        req.task = asyncio.current_task()
        reason, tokens = "abort", 0
        try:
            if req.aborted:
                return
            req.session = api.new_session(self._pipe)
            async for out in api.generate(self._pipe, req.session, messages, gen_config):
                req.streaming = True
                tokens += out.tokens
                reason = out.finish_reason or reason
                push(out)
        except asyncio.CancelledError:
            pass  # aborted before it ran (waiting for a batch slot, or in prefill); lmdeploy released what it held
        except Exception as err:  # an engine failure mid-generation becomes the stream's error chunk
            reason = "error"
            push(api.StreamOut("", 0, "error", f"The engine failed while answering ({type(err).__name__}: {err})."))
        finally:
            self.finished[req.rid] = (reason, tokens)
            while len(self.finished) > _KEEP_FINISHED:
                self.finished.popitem(last=False)
            push(_END)

    @staticmethod
    def _chunk(out: api.StreamOut, req: _Request) -> Chunk:
        reason = out.finish_reason
        if reason is not None and req.aborted and reason != "error":
            reason = "abort"  # a cancelled TurboMind request may still report "length"/"stop" for its last step
        if reason not in (None, "stop", "length", "abort", "error"):
            reason = "error"
        return Chunk(text=out.text, tokens=out.tokens, finish_reason=reason, error=out.error)  # type: ignore[arg-type]

    # ---- aborting and shutting down ----------------------------------------------------------------------------

    def _abort(self, req: _Request) -> concurrent.futures.Future[None] | None:
        req.aborted = True
        if self._closed:
            return None

        async def on_engine_loop() -> None:
            if req.streaming:  # running inside the engine: lmdeploy's session abort ends it with status "abort"
                await api.abort_session(req.session)
            elif req.task is not None and not req.task.done():
                # Queued for a batch slot, preprocessing or in prefill: cancelling the task is what lmdeploy
                # handles there (it cancels the engine request in async_stream_infer / safe_run).
                req.task.cancel()

        return api.submit(self._pipe, on_engine_loop())

    async def abort(self, request_id: str) -> bool:
        req = self._requests.get(request_id)
        if req is None or req.aborted:
            return False
        done = self._abort(req)
        if done is not None:
            await asyncio.wrap_future(done)
        return True

    async def close(self) -> None:
        if self._closed:
            return
        pending = [f for f in (self._abort(r) for r in list(self._requests.values())) if f is not None]
        if pending:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in pending), return_exceptions=True)
        self._closed = True
        await asyncio.to_thread(api.close_pipeline, self._pipe)
        del self._pipe
        collect_garbage()
        torch.cuda.empty_cache()

    def active_requests(self) -> int:
        return len(self._requests)

    async def memory_readout(self) -> dict[str, str]:
        """Live KV cache use and GPU memory, for the teacher's view (empty values where lmdeploy gives none)."""
        figures = dict(self.info.extra)
        used = [total - free for free, total in (torch.cuda.mem_get_info(i) for i in range(self.tp))]
        figures["gpu_memory_used_mib"] = " + ".join(str(u // 2**20) for u in used)  # per GPU with tp > 1
        if not self._closed:
            try:
                future = api.submit(self._pipe, api.schedule_metrics(self._pipe))
                live = await asyncio.wait_for(asyncio.wrap_future(future), timeout=5)
                figures.update({k: f"{v:g}" for k, v in live.items()})
            except Exception:  # best effort: a readout must never break the app
                pass
        return figures
