"""MeteredEngine over real engines (FakeEngine, EngineSwitcher, a scripted engine on a hand-driven clock):
counts, queue detection, first-token time, tokens/s, finish reasons, abort by id, a model switch, bounded history."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from engine.base import Chunk, Engine, EngineInfo, GenParams, Message
from engine.fake import FakeEngine
from engine.metrics import MeteredEngine
from engine.settings import EngineSettings
from engine.switcher import EngineSwitcher

MSG = [{"role": "user", "content": "hi"}]


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Scripted(Engine):
    """Streams a script of (seconds to wait on the clock, chunk) per request; a scripted Exception is raised."""

    def __init__(self, clock: Clock, *scripts: list[tuple[float, Chunk | Exception]]) -> None:
        self.clock, self.scripts = clock, list(scripts)
        self.info = EngineInfo("scripted", "m", "none", "CPU")

    async def stream(self, messages: Sequence[Message], params: GenParams, *, request_id: str | None = None
                     ) -> AsyncIterator[Chunk]:
        for wait, item in self.scripts.pop(0):
            self.clock.t += wait
            if isinstance(item, Exception):
                raise item
            yield item

    async def abort(self, request_id: str) -> bool:
        return False

    async def close(self) -> None:
        pass


def tokens(n: int, every: float = 0.1) -> list[tuple[float, Chunk | Exception]]:
    return [(every, Chunk(text=f" w{i}", tokens=1)) for i in range(n)]


async def drain(stream: AsyncIterator[Chunk]) -> list[Chunk]:
    return [c async for c in stream]


def test_queued_then_running_then_done_with_first_token_time_and_rate():
    clock = Clock()
    script = [(0.0, Chunk(queue_position=2)), (1.0, Chunk(queue_position=1)), *tokens(40),
              (0.0, Chunk(finish_reason="stop"))]
    metered = MeteredEngine(Scripted(clock, script), clock=clock)
    metered.tag("r1", session="sessionhash-abc", preview="Solve   x^2 - 5x + 6 = 0\n" + "y" * 80)

    async def scenario():
        stream = metered.stream(MSG, GenParams(), request_id="r1")
        await anext(stream)  # queue position 2
        snap, [row] = metered.snapshot(), metered.running()
        assert (snap.running, snap.queued, snap.sessions, snap.total) == (0, 1, 1, 1)
        assert row.queue_position == 2 and row.request_id == "r1" and row.session == "sessio"
        assert row.preview.startswith("Solve x^2 - 5x + 6 = 0 yyy") and len(row.preview) == 60
        await anext(stream)
        assert metered.running()[0].queue_position == 1
        await anext(stream)  # first token, 1.1 s after the start (queue wait included)
        snap = metered.snapshot()
        assert (snap.running, snap.queued) == (1, 0)
        assert snap.ttft_p50 == pytest.approx(1.1) and snap.ttft_p95 == pytest.approx(1.1)
        rest = await drain(stream)
        assert rest[-1].finish_reason == "stop"

    asyncio.run(scenario())
    snap = metered.snapshot()
    # 40 tokens between t=1001.1 and t=1005.0, read at t=1005.0: 5 s since the engine was wrapped.
    assert clock.t == pytest.approx(1005.0)
    assert snap.tokens_per_s == pytest.approx(40 / 5.0)
    assert (snap.running, snap.queued, snap.sessions, snap.total, snap.errors) == (0, 0, 0, 1, 0)
    assert snap.finished == {"stop": 1} and metered.running() == []
    clock.t += 30  # the rate window has passed; the first-token window has not
    snap = metered.snapshot()
    assert snap.tokens_per_s == 0 and snap.ttft_p50 == pytest.approx(1.1)
    clock.t += 300
    assert metered.snapshot().ttft_p50 is None


def test_percentiles_over_several_requests():
    clock = Clock()
    scripts = [[(t, Chunk(text="a", tokens=1)), (0.0, Chunk(finish_reason="stop"))] for t in (0.1, 0.2, 0.3, 0.4, 2.0)]
    metered = MeteredEngine(Scripted(clock, *scripts), clock=clock)
    for _ in scripts:
        asyncio.run(drain(metered.stream(MSG, GenParams())))
    snap = metered.snapshot()
    assert snap.ttft_p50 == pytest.approx(0.3)
    assert 0.4 < snap.ttft_p95 <= 2.0  # the slow one pulls p95 up
    assert snap.total == 5


def test_finish_reasons_and_errors_are_counted():
    clock = Clock()
    metered = MeteredEngine(Scripted(
        clock,
        [*tokens(2), (0, Chunk(finish_reason="length"))],
        [(0, Chunk(finish_reason="error", error="Out of memory"))],
        [*tokens(1), (0, RuntimeError("engine crashed"))],
        tokens(50),  # closed by the consumer after 3 chunks
        tokens(2),  # ends without a final chunk
    ), clock=clock)

    async def scenario():
        await drain(metered.stream(MSG, GenParams()))
        await drain(metered.stream(MSG, GenParams()))
        with pytest.raises(RuntimeError):
            await drain(metered.stream(MSG, GenParams()))
        stream = metered.stream(MSG, GenParams())
        for _ in range(3):
            await anext(stream)
        assert metered.snapshot().running == 1
        await stream.aclose()
        await drain(metered.stream(MSG, GenParams()))

    asyncio.run(scenario())
    snap = metered.snapshot()
    assert snap.finished == {"length": 1, "error": 2, "abort": 1, "stop": 1}
    assert snap.errors == 2 and snap.total == 5 and snap.running == 0


def test_sessions_count_distinct_students():
    fake = FakeEngine(token_delay=0.01)
    metered = MeteredEngine(fake)

    async def scenario():
        for rid, session in (("a", "s1"), ("b", "s1"), ("c", "s2")):
            metered.tag(rid, session=session, preview=rid)
        streams = [metered.stream(MSG, GenParams(), request_id=rid) for rid in ("a", "b", "c", "d")]
        for s in streams:
            await anext(s)
        snap = metered.snapshot()
        assert (snap.running, snap.sessions) == (4, 3)  # s1, s2 and the untagged request
        assert metered.active_requests() == 4 == fake.active_requests()
        assert {r.request_id for r in metered.running()} == {"a", "b", "c", "d"}
        for s in streams:
            await drain(s)

    asyncio.run(scenario())
    assert metered.snapshot().finished == {"stop": 4}


def test_abort_by_id_stops_that_generation_in_the_engine():
    fake = FakeEngine(token_delay=0.01)
    metered = MeteredEngine(fake)
    fake.enqueue(" ".join(f"w{i}" for i in range(500)), "short reply")

    async def scenario():
        long = metered.stream(MSG, GenParams(), request_id="long")
        short = metered.stream(MSG, GenParams(), request_id="short")
        await anext(long)
        await anext(short)
        assert await metered.abort("long") is True
        assert await metered.abort("nobody") is False
        long_chunks, short_chunks = await asyncio.gather(drain(long), drain(short))
        return long_chunks, short_chunks

    long_chunks, short_chunks = asyncio.run(scenario())
    assert long_chunks[-1].finish_reason == "abort" and len(long_chunks) < 50
    assert short_chunks[-1].finish_reason == "stop"
    assert fake.aborted == ["long"] and fake.finished == {"long": "abort", "short": "stop"}
    assert metered.snapshot().finished == {"abort": 1, "stop": 1}


def test_keeps_counting_across_a_model_switch():
    switcher = EngineSwitcher(FakeEngine(model="first", token_delay=0.001), EngineSettings(backend="fake"),
                              lambda settings, progress=None: FakeEngine(model="second", token_delay=0.001),
                              drain_seconds=5)
    metered = MeteredEngine(switcher)
    assert metered.inner is switcher and metered.info.model == "first"

    async def scenario():
        await drain(metered.stream(MSG, GenParams()))
        await switcher.switch(EngineSettings(backend="fake", model="other"))
        assert metered.info.model == "second"  # read through, not copied
        stream = metered.stream([{"role": "user", "content": "one two three four"}], GenParams(), request_id="x")
        await anext(stream)
        assert metered.snapshot().running == 1
        assert await metered.abort("x") is True
        return await drain(stream)

    rest = asyncio.run(scenario())
    assert rest[-1].finish_reason == "abort"
    assert switcher.current.aborted == ["x"]
    snap = metered.snapshot()
    assert snap.total == 2 and snap.finished == {"stop": 1, "abort": 1} and snap.running == 0


def test_history_has_one_sample_per_second_and_is_bounded():
    clock = Clock(1000.0)
    metered = MeteredEngine(Scripted(clock, tokens(100, every=1.0)), clock=clock, history_seconds=30)

    async def scenario():
        stream = metered.stream(MSG, GenParams())
        await anext(stream)
        clock.t += 0.5  # a second with no chunk is still sampled
        for _ in range(99):
            await anext(stream)
        return stream

    stream = asyncio.run(scenario())
    history = metered.history()
    assert len(history) == 30
    assert all(b.time - a.time == pytest.approx(1.0) for a, b in zip(history, history[1:]))
    assert all(s.tokens_per_s == 1 and s.running == 1 and s.queued == 0 for s in history)
    asyncio.run(stream.aclose())
    clock.t += 5  # idle seconds are filled in when next read
    history = metered.history()
    assert len(history) == 30 and [s.running for s in history[-4:]] == [0, 0, 0, 0]
    assert [s.tokens_per_s for s in history[-4:]] == [0, 0, 0, 0]
    clock.t += 3600  # a long idle stretch costs at most the buffer
    assert len(metered.history()) == 30
