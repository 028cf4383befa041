"""The llama.cpp CPU backend against the real offline default GGUF: answers, streaming, limits, Stop, queueing.

Skipped when llama-cpp-python is not installed. The tests that generate are marked ``model``; they share one
engine (loading takes about a second) and keep replies short, so the file runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import pytest

from engine.base import Chunk, GenParams, new_request_id
from engine.errors import ModelUnavailableError
from engine.settings import EngineSettings

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python is not installed (bash scripts/setup.sh installs it)",
)

GREEDY = GenParams(temperature=0.0, max_new_tokens=64)
LONG_TASK = [{"role": "user", "content": "Write a very long story about a dragon who learns algebra."}]


def _ask(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "You are a helpful math tutor."}, {"role": "user", "content": text}]


async def _collect(engine, messages: Sequence[dict[str, str]], params: GenParams, **kw) -> list[Chunk]:
    return [chunk async for chunk in engine.stream(messages, params, **kw)]


def _text(chunks: list[Chunk]) -> str:
    return "".join(c.text for c in chunks)


def _record(engine, request_id: str):
    return next(r for r in engine.recent if r.request_id == request_id)


@pytest.fixture(scope="module")
def engine():
    from engine.default_model import default_gguf_path
    from engine.llamacpp_backend import LlamaCppEngine

    eng = LlamaCppEngine(default_gguf_path(), EngineSettings(backend="llamacpp", session_len=2048))
    yield eng
    asyncio.run(eng.close())


def test_missing_gguf_names_the_file(tmp_path: Path):
    from engine.llamacpp_backend import LlamaCppEngine

    with pytest.raises(ModelUnavailableError, match="nothere.gguf"):
        LlamaCppEngine(tmp_path / "nothere.gguf", EngineSettings(backend="llamacpp"))


@pytest.mark.parametrize(
    ("file_type", "expected"),
    [("15", "GGUF Q4_K_M"), ("7", "GGUF Q8_0"), ("1", "GGUF F16"), ("0", "GGUF F32"), ("999", "GGUF"), (None, "GGUF")],
)
def test_weight_format_from_gguf_file_type(file_type, expected):
    from engine.llamacpp_backend import gguf_weight_format

    meta = {} if file_type is None else {"general.file_type": file_type}
    assert gguf_weight_format(meta) == expected


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (4, 3), (16, 15)])
def test_threads_leave_one_core_to_the_app(cores, threads):
    from engine.llamacpp_backend import default_threads

    assert default_threads(cores) == threads


@pytest.mark.model
def test_info_describes_what_runs(engine):
    from engine.llamacpp_backend import cpu_cores, default_threads

    assert engine.info.backend == "llama.cpp (CPU)"
    assert engine.info.weight_format == "GGUF Q4_K_M"
    assert engine.info.device == f"CPU ({cpu_cores()} cores)"
    assert engine.info.extra["threads"] == str(default_threads(cpu_cores()))
    assert engine.info.max_concurrency == 1


@pytest.mark.model
def test_greedy_answer_streams_in_several_chunks(engine):
    rid = new_request_id()
    chunks = asyncio.run(_collect(engine, _ask("What is 2+3?"), GREEDY, request_id=rid))
    assert "5" in _text(chunks)
    assert len([c for c in chunks if c.text]) >= 3
    assert chunks[-1].finish_reason == "stop"
    assert all(c.finish_reason is None for c in chunks[:-1])
    assert all(c.queue_position is None for c in chunks)
    # Token counts add up to what llama.cpp sampled (the end-of-turn token included).
    assert sum(c.tokens for c in chunks) == _record(engine, rid).generated_tokens > 3


@pytest.mark.model
def test_max_new_tokens_ends_with_length(engine):
    rid = new_request_id()
    params = GenParams(temperature=0.0, max_new_tokens=16)
    chunks = asyncio.run(_collect(engine, _ask("Count from 1 to 100, separated by commas."), params, request_id=rid))
    assert chunks[-1].finish_reason == "length"
    assert sum(c.tokens for c in chunks) == 16 == _record(engine, rid).generated_tokens
    assert len(_text(chunks).split()) >= 8  # 16 tokens of real text, cut off mid-answer


@pytest.mark.model
def test_aclose_mid_stream_stops_generation_in_llama(engine):
    rid = new_request_id()
    params = GenParams(temperature=0.0, max_new_tokens=1024)

    async def read_three_then_close() -> None:
        stream = engine.stream(LONG_TASK, params, request_id=rid)
        seen = 0
        async for chunk in stream:
            seen += bool(chunk.text)
            if seen == 3:
                break
        await stream.aclose()

    asyncio.run(read_three_then_close())
    record = _record(engine, rid)  # written by the worker thread, so it has finished
    assert record.finish_reason == "abort"
    assert record.generated_tokens <= 5  # stopped at the next token, not after 1024
    assert engine.active_requests() == 0


@pytest.mark.model
def test_cancelled_task_stops_generation_in_llama(engine):
    rid = new_request_id()
    params = GenParams(temperature=0.0, max_new_tokens=1024)

    async def cancel_after_first_text() -> None:
        first = asyncio.Event()

        async def consume() -> None:
            async for chunk in engine.stream(LONG_TASK, params, request_id=rid):
                if chunk.text:
                    first.set()

        task = asyncio.create_task(consume())
        await first.wait()
        task.cancel()  # what Gradio's Stop does to the handler's task
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_after_first_text())
    record = _record(engine, rid)
    assert record.finish_reason == "abort"
    assert record.generated_tokens <= 5


@pytest.mark.model
def test_concurrent_requests_queue_and_both_complete(engine):
    params = GenParams(temperature=0.0, max_new_tokens=24)

    async def two_at_once() -> tuple[list[Chunk], list[Chunk]]:
        first = engine.stream(_ask("What is 7*6?"), params)
        head = await anext(first)  # the first request is running now
        second = asyncio.create_task(_collect(engine, _ask("What is 9-4?"), params))
        rest = [chunk async for chunk in first]
        return [head, *rest], await second

    a, b = asyncio.run(two_at_once())
    assert a[0].queue_position is None and "42" in _text(a)
    assert b[0] == Chunk(queue_position=1)  # waited behind the first request
    assert "5" in _text(b)
    assert a[-1].finish_reason in ("stop", "length") and b[-1].finish_reason in ("stop", "length")
    assert engine.active_requests() == 0


@pytest.mark.model
def test_abort_by_id_while_queued_and_while_running(engine):
    params = GenParams(temperature=0.0, max_new_tokens=1024)
    short = GenParams(temperature=0.0, max_new_tokens=16)
    ids = {name: new_request_id() for name in ("running", "queued", "last")}

    async def scenario() -> dict[str, list[Chunk]]:
        running = engine.stream(LONG_TASK, params, request_id=ids["running"])
        head = await anext(running)
        rest = asyncio.create_task(_drain(running))
        queued = asyncio.create_task(_collect(engine, LONG_TASK, params, request_id=ids["queued"]))
        last = asyncio.create_task(_collect(engine, _ask("What is 1+1?"), short, request_id=ids["last"]))
        while engine.active_requests() < 3:  # let both tasks take their places in the queue
            await asyncio.sleep(0.01)
        assert await engine.abort(ids["queued"])
        queued_chunks = await queued  # left the queue without generating
        assert engine.active_requests() == 2
        assert await engine.abort(ids["running"])
        running_chunks = [head, *await rest]
        return {"running": running_chunks, "queued": queued_chunks, "last": await last}

    out = asyncio.run(scenario())
    assert out["queued"] == [Chunk(queue_position=1), Chunk(finish_reason="abort")]
    assert out["running"][-1].finish_reason == "abort"
    assert _record(engine, ids["running"]).generated_tokens < 100
    assert out["last"][:2] == [Chunk(queue_position=2), Chunk(queue_position=1)]  # moved up when "queued" left
    assert out["last"][-1].finish_reason in ("stop", "length") and _text(out["last"])
    assert not any(r.request_id == ids["queued"] for r in engine.recent)  # never reached llama.cpp
    assert asyncio.run(engine.abort("no-such-request")) is False


async def _drain(stream) -> list[Chunk]:
    return [chunk async for chunk in stream]


@pytest.mark.model
def test_too_long_chat_is_an_error_chunk_not_an_exception(engine):
    chunks = asyncio.run(_collect(engine, _ask("add " * 3000), GREEDY))
    assert chunks[-1].finish_reason == "error"
    assert "--session-len" in chunks[-1].error
