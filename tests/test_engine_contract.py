"""One contract for every engine backend that runs on a CPU, and the CPU queue's own behaviour.

The contract (streaming, one final chunk, max_new_tokens, stopping by aclose / cancellation / abort, concurrent
streams, close) runs against each entry of ``BACKENDS``. To add a backend, add one line there: a builder taking
the pytest request (for fixtures) and returning a fresh engine. Engines must also expose ``finished``, a mapping
of recent request ids to their finish reason, so a test can see that a stop reached the engine itself.

Below the contract: the transformers backend's FIFO queue (positions, aborting while queued), its stopping
criterion (generation ends inside ``generate``), errors as chunks, and load errors. No timing assertions: hang
guards only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from engine.base import Chunk, Engine, GenParams
from engine.errors import EngineLoadError
from engine.fake import FakeEngine
from engine.settings import EngineSettings

T = TypeVar("T")
CPU = EngineSettings(backend="transformers", device="cpu", session_len=2048)
LONG_PROMPT = "Count from 1 to 100 in words, one number per line, and explain each step of the counting."
HANG_GUARD_S = 300  # not a speed requirement: it only turns a hang into a failure


def _transformers(fixture: str) -> Callable[[pytest.FixtureRequest], Engine]:
    def build(request: pytest.FixtureRequest) -> Engine:
        from engine.hf_backend import TransformersEngine

        return TransformersEngine(request.getfixturevalue(fixture), CPU)

    return build


BACKENDS = [
    pytest.param(lambda request: FakeEngine(token_delay=0.005), id="fake"),
    pytest.param(_transformers("tiny_model_dir"), id="transformers-tiny"),
    pytest.param(_transformers("default_model_dir"), id="transformers-default", marks=pytest.mark.model),
]


def run(coro: Awaitable[T]) -> T:
    async def guarded() -> T:
        return await asyncio.wait_for(coro, HANG_GUARD_S)

    return asyncio.run(guarded())


@pytest.fixture(params=BACKENDS)
def make_engine(request: pytest.FixtureRequest):
    """A builder of fresh engines of one backend; whatever it built is closed after the test."""
    built: list[Engine] = []

    def make() -> Engine:
        built.append(request.param(request))
        return built[-1]

    yield make
    for engine in built:
        run(engine.close())


@pytest.fixture()
def engine(make_engine) -> Engine:
    return make_engine()


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def collect(stream: AsyncIterator[Chunk]) -> list[Chunk]:
    return [chunk async for chunk in stream]


def text_of(chunks: list[Chunk]) -> str:
    return "".join(c.text for c in chunks)


def assert_one_final_chunk(chunks: list[Chunk]) -> Chunk:
    finals = [i for i, c in enumerate(chunks) if c.finish_reason is not None]
    assert finals == [len(chunks) - 1], f"expected exactly one final chunk, last; got {chunks}"
    return chunks[-1]


# ---- the contract ---------------------------------------------------------------------------------------------


def test_streams_several_chunks_then_one_final_chunk(engine: Engine):
    chunks = run(collect(engine.stream(ask(LONG_PROMPT), GenParams(temperature=0, max_new_tokens=12))))
    final = assert_one_final_chunk(chunks)
    assert final.finish_reason in ("stop", "length") and final.error is None
    assert len([c for c in chunks if c.text]) >= 2
    assert 0 < sum(c.tokens for c in chunks) <= 12
    assert engine.active_requests() == 0


def test_max_new_tokens_ends_with_length(engine: Engine):
    chunks = run(collect(engine.stream(ask(LONG_PROMPT), GenParams(temperature=0, max_new_tokens=5))))
    assert assert_one_final_chunk(chunks).finish_reason == "length"
    assert sum(c.tokens for c in chunks) == 5


def test_aclose_mid_stream_aborts_inside_the_engine(engine: Engine):
    async def scenario() -> str:
        stream = engine.stream(ask(LONG_PROMPT), GenParams(temperature=0, max_new_tokens=400), request_id="r-close")
        async for chunk in stream:
            if chunk.text:
                break
        await stream.aclose()
        return engine.finished["r-close"]

    assert run(scenario()) == "abort"
    assert engine.active_requests() == 0


def test_cancelling_the_consuming_task_aborts_inside_the_engine(engine: Engine):
    async def scenario() -> str:
        started = asyncio.Event()

        async def consume() -> None:
            params = GenParams(temperature=0, max_new_tokens=400)
            async for chunk in engine.stream(ask(LONG_PROMPT), params, request_id="r-cancel"):
                if chunk.text:
                    started.set()

        task = asyncio.create_task(consume())
        await started.wait()
        task.cancel()  # what Gradio's Stop does to the handler
        with pytest.raises(asyncio.CancelledError):
            await task
        return engine.finished["r-cancel"]

    assert run(scenario()) == "abort"
    assert engine.active_requests() == 0


def test_abort_by_request_id(engine: Engine):
    async def scenario() -> tuple[list[Chunk], bool, bool]:
        chunks: list[Chunk] = []
        found = False
        params = GenParams(temperature=0, max_new_tokens=400)
        async for chunk in engine.stream(ask(LONG_PROMPT), params, request_id="r-abort"):
            chunks.append(chunk)
            if chunk.text and not found:
                found = await engine.abort("r-abort")
        return chunks, found, await engine.abort("no-such-request")

    chunks, found, unknown = run(scenario())
    assert found and not unknown
    assert assert_one_final_chunk(chunks).finish_reason == "abort"
    assert sum(c.tokens for c in chunks) < 400
    assert engine.finished["r-abort"] == "abort" and engine.active_requests() == 0


def test_two_concurrent_streams_each_get_their_own_text(engine: Engine):
    requests = [
        (ask("What is 2+3? Answer briefly."), GenParams(temperature=1.0, top_p=0.9, max_new_tokens=8, seed=1)),
        (ask("Name a prime number bigger than 10."), GenParams(temperature=1.0, top_p=0.9, max_new_tokens=8, seed=2)),
    ]

    async def alone() -> list[list[Chunk]]:
        return [await collect(engine.stream(m, p)) for m, p in requests]

    async def together() -> list[list[Chunk]]:
        return list(await asyncio.gather(*(collect(engine.stream(m, p)) for m, p in requests)))

    solo, both = run(alone()), run(together())
    for chunks in both:
        assert assert_one_final_chunk(chunks).finish_reason in ("stop", "length")
    assert [text_of(c) for c in both] == [text_of(c) for c in solo]  # nothing mixed between the two
    assert text_of(both[0]) != text_of(both[1])


def test_close_ends_a_running_stream(make_engine):
    engine = make_engine()

    async def scenario() -> list[Chunk]:
        chunks: list[Chunk] = []
        async for chunk in engine.stream(ask(LONG_PROMPT), GenParams(temperature=0, max_new_tokens=400)):
            chunks.append(chunk)
            if len(chunks) == 2:
                await engine.close()
        return chunks

    chunks = run(scenario())
    assert assert_one_final_chunk(chunks).finish_reason == "abort"
    assert sum(c.tokens for c in chunks) < 400 and engine.active_requests() == 0


@pytest.mark.model
def test_default_model_answers_a_sum(default_model_dir: Path):
    from engine.hf_backend import TransformersEngine

    engine = TransformersEngine(default_model_dir, CPU)
    try:
        chunks = run(collect(engine.stream(ask("What is 2+3?"), GenParams(temperature=0, max_new_tokens=32))))
    finally:
        run(engine.close())
    assert assert_one_final_chunk(chunks).finish_reason == "stop"
    assert "5" in text_of(chunks)
    assert engine.info.model == "qwen2.5-coder-0.5b-instruct" and engine.info.weight_format == "fp32"


# ---- the transformers backend's queue, stopping and errors (tiny model) -----------------------------------------


@pytest.fixture()
def tiny(tiny_model_dir: Path):
    from engine.hf_backend import TransformersEngine

    engine = TransformersEngine(tiny_model_dir, CPU)
    yield engine
    run(engine.close())


def test_info_describes_the_cpu_engine(tiny: Any, tiny_model_dir: Path):
    from engine.hf_backend import cpu_cores

    assert tiny.info.backend == "transformers (CPU)"
    assert tiny.info.model == tiny_model_dir.name and tiny.info.weight_format == "fp32"
    assert tiny.info.device == f"CPU ({cpu_cores()} cores)" and tiny.info.max_concurrency == 1


def test_aclose_stops_generate_itself_early(tiny: Any):
    async def scenario() -> None:
        stream = tiny.stream(ask(LONG_PROMPT), GenParams(temperature=0, max_new_tokens=1500), request_id="early")
        async for chunk in stream:
            if chunk.tokens:
                break
        await stream.aclose()
        # aclose returned only after the worker thread left generate(): nothing is running, few tokens were made
        assert tiny.active_requests() == 0
        assert tiny.finished["early"] == "abort"
        assert tiny.tokens_generated["early"] < 1500

    run(scenario())


def test_queue_is_fifo_with_positions(tiny: Any):
    order: list[str] = []

    async def one(name: str) -> list[Chunk]:
        chunks = []
        async for chunk in tiny.stream(ask(name), GenParams(temperature=0, max_new_tokens=8)):
            if chunk.text and name not in order:
                order.append(name)
            chunks.append(chunk)
        return chunks

    async def scenario() -> list[list[Chunk]]:
        return list(await asyncio.gather(one("a"), one("b"), one("c")))

    a, b, c = run(scenario())
    positions = [[ch.queue_position for ch in chunks if ch.queue_position is not None] for chunks in (a, b, c)]
    assert positions == [[], [1], [2, 1]]
    assert order == ["a", "b", "c"]
    assert all(assert_one_final_chunk(ch).finish_reason == "length" for ch in (a, b, c))


def test_abort_while_queued_leaves_the_queue(tiny: Any):
    async def scenario() -> None:
        first = tiny.stream(ask(LONG_PROMPT), GenParams(temperature=0, max_new_tokens=1500), request_id="first")
        await first.__anext__()  # running now
        second = asyncio.create_task(collect(tiny.stream(ask("b"), GenParams(max_new_tokens=8), request_id="2nd")))
        third = asyncio.create_task(collect(tiny.stream(ask("c"), GenParams(max_new_tokens=8), request_id="3rd")))
        while tiny.active_requests() < 3:
            await asyncio.sleep(0.01)
        assert await tiny.abort("2nd")
        second_chunks = await second
        assert [c.finish_reason for c in second_chunks] == [None, "abort"]  # its position, then the abort
        assert text_of(second_chunks) == "" and tiny.active_requests() == 2
        await first.aclose()
        third_chunks = await third
        assert [c.queue_position for c in third_chunks if c.queue_position] == [2, 1]
        assert assert_one_final_chunk(third_chunks).finish_reason == "length"

    run(scenario())


def test_greedy_is_repeatable_and_the_seed_is_honoured(tiny: Any):
    def reply(params: GenParams) -> str:
        return text_of(run(collect(tiny.stream(ask("hello"), params))))

    greedy = GenParams(temperature=0, max_new_tokens=10)
    assert reply(greedy) == reply(greedy)
    sampled = GenParams(temperature=1.0, top_p=1.0, max_new_tokens=10, seed=7)
    assert reply(sampled) == reply(sampled)
    assert reply(sampled) != reply(GenParams(temperature=1.0, top_p=1.0, max_new_tokens=10, seed=8))


def test_prompt_longer_than_the_session_is_an_error_chunk(tiny_model_dir: Path):
    from engine.hf_backend import TransformersEngine

    engine = TransformersEngine(tiny_model_dir, EngineSettings(backend="transformers", session_len=512))
    try:
        chunks = run(collect(engine.stream(ask("x " * 2000), GenParams(max_new_tokens=16))))
        assert [c.finish_reason for c in chunks] == ["error"]
        assert "start a new chat" in (chunks[0].error or "")
        ok = run(collect(engine.stream(ask("hi"), GenParams(max_new_tokens=4))))  # still serving
        assert assert_one_final_chunk(ok).finish_reason == "length"
    finally:
        run(engine.close())


def test_loading_a_folder_without_a_model_is_a_helpful_error(tmp_path: Path):
    from engine.hf_backend import TransformersEngine

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(EngineLoadError, match="could not load"):
        TransformersEngine(tmp_path, CPU)


def test_stream_after_close_is_an_error_chunk(tiny_model_dir: Path):
    from engine.hf_backend import TransformersEngine

    engine = TransformersEngine(tiny_model_dir, CPU)
    run(engine.close())
    chunks = run(collect(engine.stream(ask("hi"), GenParams(max_new_tokens=4))))
    assert [c.finish_reason for c in chunks] == ["error"] and "restart" in (chunks[0].error or "")
    run(engine.close())  # a second close is harmless
