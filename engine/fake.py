"""A scripted engine with the real interface, for UI tests and for working on the UI without a model.

Replies come from a script (``enqueue`` or the constructor); each is streamed word by word, a word every
``token_delay`` seconds on the engine's own clock (a consumer that looks late gets the words due by then in one chunk,
as from a GPU engine), so streaming, Stop and concurrency can be observed. A scripted ``Exception`` ends that reply
with an error chunk, the way a real backend reports an out-of-memory or a crash. With no script left it echoes the
last user message.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence

from engine.base import Chunk, Engine, EngineInfo, GenParams, Message, new_request_id

_PIECE = re.compile(r"\s*\S+|\s+")


class FakeEngine(Engine):
    def __init__(
        self,
        replies: Iterable[str | Exception] = (),
        *,
        token_delay: float = 0.01,
        max_concurrency: int = 64,
        model: str = "fake-model",
        echo_tokens: int = 0,
    ) -> None:
        self._script: deque[str | Exception] = deque(replies)
        self.token_delay = token_delay
        self.echo_tokens = echo_tokens  # the echo is padded to this many words (benchmarks: a real reply's length)
        self.calls: list[tuple[list[dict[str, str]], GenParams]] = []
        self.aborted: list[str] = []
        self.finished: dict[str, str] = {}  # request id -> finish reason, for tests
        self._stops: dict[str, asyncio.Event] = {}
        self.peak_active = 0  # most requests in flight at once, for concurrency tests
        self.closed = False
        self.info = EngineInfo("fake", model, "none", "CPU", max_concurrency=max_concurrency)

    def enqueue(self, *replies: str | Exception) -> None:
        self._script.extend(replies)

    def _next_reply(self, messages: Sequence[Message]) -> str | Exception:
        if self._script:
            return self._script.popleft()
        last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        echo = f"You said: {last_user}"
        pad = self.echo_tokens - len(_PIECE.findall(echo))
        return echo + "".join(f" step{i % 10}" for i in range(pad)) if pad > 0 else echo

    async def stream(
        self, messages: Sequence[Message], params: GenParams, *, request_id: str | None = None
    ) -> AsyncIterator[Chunk]:
        rid = request_id or new_request_id()
        stop = self._stops[rid] = asyncio.Event()
        self.peak_active = max(self.peak_active, len(self._stops))
        self.calls.append(([dict(m) for m in messages], params))
        reply = self._next_reply(messages)
        reason = "abort"  # what is recorded if the consumer closes the stream early (Gradio's Stop)
        try:
            if isinstance(reply, Exception):
                reason = "error"
                yield Chunk(finish_reason="error", error=str(reply))
                return
            final = "stop"
            pieces = _PIECE.findall(reply)
            loop = asyncio.get_running_loop()
            start, sent = loop.time(), 0
            while sent < len(pieces):
                if stop.is_set():
                    final = "abort"
                    break
                if sent >= params.max_new_tokens:
                    final = "length"
                    break
                # Words come on the engine's clock, like a GPU's: a consumer that looks late gets every word due by
                # then in one chunk (at least one word per chunk; one exactly when token_delay is 0).
                await asyncio.sleep(max(0.0, start + (sent + 1) * self.token_delay - loop.time()))
                due = int((loop.time() - start) / self.token_delay) if self.token_delay > 0 else sent + 1
                take = min(max(due, sent + 1), len(pieces), params.max_new_tokens) - sent
                yield Chunk(text="".join(pieces[sent:sent + take]), tokens=take)
                sent += take
            reason = final
            yield Chunk(finish_reason=final)  # type: ignore[arg-type]
        finally:
            self.finished[rid] = reason
            self._stops.pop(rid, None)

    async def abort(self, request_id: str) -> bool:
        stop = self._stops.get(request_id)
        if stop is None:
            return False
        stop.set()
        self.aborted.append(request_id)
        return True

    async def close(self) -> None:
        for stop in self._stops.values():
            stop.set()
        self.closed = True

    def active_requests(self) -> int:
        return len(self._stops)
