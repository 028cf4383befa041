"""Live figures for the teacher: who is generating now, how fast, and how long the first token takes.

:class:`MeteredEngine` wraps any :class:`~engine.base.Engine` (in the app, the ``EngineSwitcher``) and passes every
call through; while a reply streams it records the request's start, first token, tokens so far, whether it waits in
the engine's queue (``Chunk.queue_position``) and how it ended. ``info`` is read from the inner engine on every
access, so the figures keep counting across a model switch.

Who asked: the chat handler calls :meth:`MeteredEngine.tag` with the request id, the browser session and the question
just before ``stream``. An explicit call keyed by request id was chosen over a context variable: it does not depend
on which task or thread iterates the stream, and the request id is already what ``abort`` uses.

Time to first token is measured from ``stream`` being called to the first chunk carrying text, so it includes any
wait in the engine's queue but not the tutor's planning before the call. The per-second history is filled lazily
(on each chunk and on each read), so no thread or timer runs when nobody streams or watches. Not covered: GPU memory
(``engine.memory`` / the backend), the page (``ui.teacher_view``).
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from engine.base import Chunk, Engine, EngineInfo, GenParams, Message, new_request_id

RATE_WINDOW = 10.0  # seconds, for tokens/s
TTFT_WINDOW = 300.0  # seconds, for the first-token percentiles
HISTORY_SECONDS = 600  # one sample per second
PREVIEW_CHARS = 60
_MAX_PENDING_TAGS = 1024  # tags whose stream never started are dropped oldest first


@dataclass(frozen=True)
class Snapshot:
    running: int  # generating now
    queued: int  # waiting in the engine's queue
    sessions: int  # distinct browser sessions with a running or queued request
    tokens_per_s: float  # over the last RATE_WINDOW seconds, all requests together
    ttft_p50: float | None  # seconds, over the last TTFT_WINDOW; None when no first token in that time
    ttft_p95: float | None
    total: int  # requests started since the app started
    errors: int  # ended with finish_reason "error" or an exception
    finished: dict[str, int]  # finish reason -> count

    @property
    def active(self) -> int:
        return self.running + self.queued


@dataclass(frozen=True)
class RequestRow:
    request_id: str
    session: str  # short label of the browser session
    started: float  # wall-clock time (time.time())
    tokens: int
    tokens_per_s: float  # since its first token
    preview: str  # the start of the question
    queue_position: int | None  # set while it waits in the engine's queue


@dataclass(frozen=True)
class Sample:
    time: float  # wall-clock start of the second
    tokens_per_s: float  # tokens produced in that second
    running: int  # at the end of that second
    queued: int


@dataclass
class _Request:
    session: str | None
    preview: str
    started: float  # clock time
    first_token: float | None = None
    tokens: int = 0
    queue_position: int | None = None


def short_session(session: str | None, request_id: str) -> str:
    return (session or f"req-{request_id}")[:6]


class MeteredEngine(Engine):
    def __init__(self, inner: Engine, *, clock: Callable[[], float] = time.monotonic,
                 history_seconds: int = HISTORY_SECONDS) -> None:
        self.inner = inner
        self._clock = clock
        self._wall_offset = time.time() - clock()
        self._created = clock()
        self._lock = threading.Lock()  # streams run on the event loop; the page may read from threads
        self._tags: dict[str, tuple[str | None, str]] = {}
        self._live: dict[str, _Request] = {}
        self._ttfts: deque[tuple[float, float]] = deque(maxlen=100_000)  # (when, seconds)
        self._samples: deque[Sample] = deque(maxlen=history_seconds)
        self._second = math.floor(self._created)  # the second being accumulated
        self._second_tokens = 0
        self._recent: deque[tuple[int, int]] = deque()  # (second, tokens) for the rate window
        self.total = 0
        self.finished: Counter[str] = Counter()

    @property
    def info(self) -> EngineInfo:  # type: ignore[override]
        return self.inner.info

    def tag(self, request_id: str, *, session: str | None = None, preview: str = "") -> None:
        """Say who is asking what, before ``stream(..., request_id=request_id)`` is called."""
        line = " ".join(preview.split())
        if len(line) > PREVIEW_CHARS:
            line = line[: PREVIEW_CHARS - 1] + "…"
        with self._lock:
            self._tags[request_id] = (session, line)
            while len(self._tags) > _MAX_PENDING_TAGS:
                self._tags.pop(next(iter(self._tags)))

    async def stream(self, messages: Sequence[Message], params: GenParams, *, request_id: str | None = None
                     ) -> AsyncIterator[Chunk]:
        rid = request_id or new_request_id()
        with self._lock:
            now = self._tick()
            session, preview = self._tags.pop(rid, (None, ""))
            request = self._live[rid] = _Request(session, preview, now)
            self.total += 1
        reason = "abort"  # what is recorded if the consumer closes the stream early
        try:
            async with aclosing(self.inner.stream(messages, params, request_id=rid)) as chunks:
                async for chunk in chunks:
                    with self._lock:
                        now = self._tick()
                        request.queue_position = chunk.queue_position
                        if chunk.text or chunk.tokens:
                            if request.first_token is None:
                                request.first_token = now
                                self._ttfts.append((now, now - request.started))
                            request.tokens += chunk.tokens
                            self._second_tokens += chunk.tokens
                    if chunk.finish_reason is not None:
                        reason = chunk.finish_reason
                    yield chunk
                    if chunk.finish_reason is not None:
                        return
            reason = "stop"  # the engine ended without a final chunk
        except Exception:
            reason = "error"
            raise
        finally:
            with self._lock:
                self._tick()
                self._live.pop(rid, None)
                self.finished[reason] += 1

    async def abort(self, request_id: str) -> bool:
        return await self.inner.abort(request_id)

    async def close(self) -> None:
        await self.inner.close()

    def active_requests(self) -> int:
        return self.inner.active_requests()

    # --- reading (any thread) ---

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self._tick()
            queued = sum(1 for r in self._live.values() if r.queue_position is not None)
            sessions = {r.session or rid for rid, r in self._live.items()}
            # Whole seconds since floor(now) - (window - 1), plus the current partial second.
            start = self._second - (int(RATE_WINDOW) - 1)
            tokens = self._second_tokens + sum(n for s, n in self._recent if s >= start)
            span = now - max(start, self._created)
            while self._ttfts and self._ttfts[0][0] < now - TTFT_WINDOW:
                self._ttfts.popleft()
            ttfts = [t for _, t in self._ttfts]
            return Snapshot(
                running=len(self._live) - queued, queued=queued, sessions=len(sessions),
                tokens_per_s=tokens / span if span > 0 else 0.0,
                ttft_p50=statistics.median(ttfts) if ttfts else None,
                ttft_p95=_p95(ttfts), total=self.total, errors=self.finished["error"],
                finished=dict(self.finished),
            )

    def running(self) -> list[RequestRow]:
        """Running and queued requests, oldest first."""
        with self._lock:
            now = self._tick()
            return [
                RequestRow(rid, short_session(r.session, rid), r.started + self._wall_offset, r.tokens,
                           r.tokens / (now - r.first_token) if r.first_token is not None and now > r.first_token
                           else 0.0, r.preview, r.queue_position)
                for rid, r in self._live.items()
            ]

    def history(self) -> list[Sample]:
        """One sample per completed second, oldest first, for the last ``history_seconds``."""
        with self._lock:
            self._tick()
            return list(self._samples)

    def _tick(self) -> float:
        """Close the seconds that have passed since the last event (caller holds the lock); return the time.

        Between events nothing changes, so the counts at the last event are exact for every second in a gap.
        """
        now = self._clock()
        second = math.floor(now)
        if second > self._second:
            queued = sum(1 for r in self._live.values() if r.queue_position is not None)
            running = len(self._live) - queued
            self._recent.append((self._second, self._second_tokens))
            gap = range(max(self._second, second - self._samples.maxlen), second)  # type: ignore[operator]
            for s in gap:
                tokens = self._second_tokens if s == self._second else 0
                self._samples.append(Sample(s + self._wall_offset, float(tokens), running, queued))
            self._second, self._second_tokens = second, 0
            while self._recent and self._recent[0][0] < second - RATE_WINDOW:
                self._recent.popleft()
        return now


def _p95(values: list[float]) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=20, method="inclusive")[18]
