"""An engine that can be replaced while students are mid-reply, without losing or mixing up a reply.

:class:`EngineSwitcher` is itself an :class:`~engine.base.Engine`: the UI streams through it and never holds a
backend directly. ``switch(settings)`` builds the new engine first (in a thread, with progress) while the current
one keeps serving; if the build fails (out of memory, unsupported model) the error is raised as an ``AppError`` and
nothing changes. Once the new engine is ready, new requests go to it at once; replies already streaming on the old
engine finish there (up to ``drain_seconds``), and any still running then end with a clear notice. Only then is the
old engine closed.

Memory: both engines are loaded while the old one drains. On a GPU, lmdeploy sizes the new KV cache from the
memory free at that moment, so switch a large model when few students are mid-reply. Not covered: who may switch
(the UI's teacher gate).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

from engine.base import Chunk, Engine, EngineInfo, GenParams, Message, new_request_id
from engine.errors import AppError, EngineLoadError
from engine.settings import EngineSettings

Progress = Callable[[float, str], None]
EngineFactory = Callable[[EngineSettings, "Progress | None"], Engine]

SWITCH_NOTICE = "The teacher switched the model while this reply was being written; it was cut short. Ask again."


class EngineSwitcher(Engine):
    def __init__(self, engine: Engine, settings: EngineSettings, factory: EngineFactory,
                 *, drain_seconds: float = 120.0) -> None:
        self._current = engine
        self.settings = settings
        self._factory = factory
        self.drain_seconds = drain_seconds
        self._inflight: dict[int, dict[str, Engine]] = {}  # id(engine) -> {request id: engine}
        self._cut: set[str] = set()  # requests aborted because their engine was retired
        self._lock = asyncio.Lock()
        self.switching = False

    @property
    def info(self) -> EngineInfo:  # type: ignore[override]
        return self._current.info

    @property
    def current(self) -> Engine:
        return self._current

    @property
    def factory(self) -> EngineFactory:
        """What builds engines from settings (the quality gate builds its own with it)."""
        return self._factory

    async def stream(self, messages: Sequence[Message], params: GenParams, *, request_id: str | None = None
                     ) -> AsyncIterator[Chunk]:
        rid = request_id or new_request_id()
        engine = self._current  # bound once: a reply never moves between engines
        running = self._inflight.setdefault(id(engine), {})
        running[rid] = engine
        try:
            async for chunk in engine.stream(messages, params, request_id=rid):
                if chunk.finish_reason == "abort" and rid in self._cut:
                    yield Chunk(text=chunk.text, tokens=chunk.tokens, finish_reason="error", error=SWITCH_NOTICE)
                    return
                yield chunk
        finally:
            running.pop(rid, None)
            self._cut.discard(rid)

    async def abort(self, request_id: str) -> bool:
        for running in self._inflight.values():
            engine = running.get(request_id)
            if engine is not None:
                return await engine.abort(request_id)
        return False

    def active_requests(self) -> int:
        return sum(len(r) for r in self._inflight.values())

    async def switch(self, settings: EngineSettings, progress: Progress | None = None) -> EngineInfo:
        """Build an engine for ``settings`` and move to it. Raises ``AppError`` (old engine untouched) on failure."""
        async with self._lock:
            self.switching = True
            try:
                new = await asyncio.to_thread(self._factory, settings, progress)
            except AppError:
                raise
            except Exception as err:  # a backend that did not map its failure (e.g. torch's out-of-memory error)
                raise EngineLoadError(f"The new engine failed to start ({type(err).__name__}: {err}).") from err
            finally:
                self.switching = False
            old, self._current, self.settings = self._current, new, settings
            await self._retire(old)
            return new.info

    async def _retire(self, old: Engine) -> None:
        running = self._inflight.get(id(old), {})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_seconds
        while running and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for rid in list(running):
            self._cut.add(rid)
            await old.abort(rid)
        while running and loop.time() < deadline + 5:
            await asyncio.sleep(0.05)
        self._inflight.pop(id(old), None)
        await old.close()

    async def close(self) -> None:
        await self._current.close()
