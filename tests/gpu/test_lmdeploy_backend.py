"""The lmdeploy backend on a GPU, under TurboMind: replies stream, aborts stop the engine, 16 streams run at once.

Models: (a) a tiny random-weight Qwen2 built here (always), (b) the offline default model converted to fp16 and
quantized to AWQ W4A16, when ``TUTOR_GPU_MODEL_FP16`` / ``TUTOR_GPU_MODEL_AWQ`` name their folders (else those
cases skip). Each case loads one engine (one at a time on the GPU). Speeds are printed as JSON lines (and appended
to the file ``TUTOR_GPU_REPORT`` names) for the record; nothing here asserts a speed. Run with ``-s`` to see them.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.base import Chunk, GenParams, new_request_id
from engine.settings import EngineSettings
from tests.fixtures.tiny_model import build_tiny_qwen2

pytestmark = pytest.mark.gpu
MATH = [
    {"role": "system", "content": "You are a patient math tutor."},
    {"role": "user", "content": "Explain step by step how to solve x^2 - 5x + 6 = 0."},
]
BATCH = 16


@dataclass(frozen=True)
class Case:
    name: str
    env: str | None  # the variable naming the model folder; None: the tiny model built here
    weight_formats: tuple[str, ...]


@dataclass(frozen=True)
class Served:
    case: Case
    engine: object  # LmdeployEngine (imported lazily: the module must import on CPU machines for collection)
    session_len: int


CASES = [
    pytest.param(Case("tiny-qwen2", None, ("fp16",)), id="tiny-qwen2-fp16"),
    pytest.param(Case("default-fp16", "TUTOR_GPU_MODEL_FP16", ("fp16", "bf16")), id="default-fp16",
                 marks=pytest.mark.model),
    pytest.param(Case("default-awq", "TUTOR_GPU_MODEL_AWQ", ("AWQ W4A16",)), id="default-awq-w4a16",
                 marks=pytest.mark.model),
]


def record(**fields: object) -> None:
    line = json.dumps(fields)
    print(line, flush=True)
    target = os.environ.get("TUTOR_GPU_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def _tiny_fp16(dest: Path) -> Path:
    """The tiny model saved in fp16 (the fixture writes fp32, for which TurboMind picks bf16 on Hopper)."""
    import torch
    from transformers import Qwen2ForCausalLM

    build_tiny_qwen2(dest, hidden=256)  # head_dim 64, as in the offline default
    Qwen2ForCausalLM.from_pretrained(dest, dtype=torch.float16).save_pretrained(dest)
    return dest


@pytest.fixture(scope="module", params=CASES)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from engine.lmdeploy_backend import LmdeployEngine

    case: Case = request.param
    if case.env is None:
        model_dir, session_len = _tiny_fp16(tmp_path_factory.mktemp("tiny") / "qwen2"), 2048
    else:
        folder = os.environ.get(case.env)
        if not folder:
            pytest.skip(f"set {case.env} to the model folder (scripts/gpu/session.sh does)")
        model_dir, session_len = Path(folder), 4096
    settings = EngineSettings(backend="lmdeploy", model=str(model_dir), session_len=session_len,
                              max_batch_size=BATCH, cache_max_entry_count=0.2)
    started = time.perf_counter()
    engine = LmdeployEngine(model_dir, settings, ignore_eos=True, display_name=case.name)
    record(event="load", model=case.name, seconds=round(time.perf_counter() - started, 2),
           status=engine.info.status_line(), extra=dict(engine.info.extra))
    yield Served(case, engine, session_len)
    asyncio.run(engine.close())


@dataclass(frozen=True)
class Reply:
    chunks: list[Chunk]
    seconds: float
    first_token_s: float | None

    @property
    def tokens(self) -> int:
        return sum(c.tokens for c in self.chunks)

    @property
    def text(self) -> str:
        return "".join(c.text for c in self.chunks)


async def collect(engine: object, params: GenParams, *, rid: str | None = None, messages: list | None = None,
                  stop_after: int | None = None) -> Reply:
    """Read one stream; with ``stop_after`` close it after that many token chunks (what Gradio's Stop does)."""
    start, first, chunks = time.perf_counter(), None, []
    stream = engine.stream(messages or MATH, params, request_id=rid)  # type: ignore[attr-defined]
    async for chunk in stream:
        chunks.append(chunk)
        if chunk.tokens and first is None:
            first = time.perf_counter() - start
        if stop_after is not None and sum(1 for c in chunks if c.tokens) >= stop_after:
            await stream.aclose()
            break
    return Reply(chunks, time.perf_counter() - start, first)


async def wait_finished(engine: object, rid: str) -> tuple[str, int]:
    for _ in range(200):
        if rid in engine.finished:  # type: ignore[attr-defined]
            return engine.finished[rid]  # type: ignore[attr-defined]
        await asyncio.sleep(0.05)
    raise AssertionError(f"lmdeploy never finished request {rid}")


def test_runs_under_turbomind_with_the_expected_weights(served: Served) -> None:
    info = served.engine.info  # type: ignore[attr-defined]
    assert info.backend == "TurboMind"
    assert info.weight_format in served.case.weight_formats
    assert info.device.startswith("CUDA: ")
    assert info.max_concurrency == BATCH
    assert info.extra["kv_cache_ratio"] == "0.2"


def test_reply_streams_token_by_token(served: Served) -> None:
    reply = asyncio.run(collect(served.engine, GenParams(temperature=0.0, max_new_tokens=256)))
    assert reply.chunks[-1].finish_reason == "length"
    assert reply.tokens == 256  # ignore_eos: exactly max_new_tokens
    assert sum(1 for c in reply.chunks if c.tokens) > 2  # many steps, not one lump
    assert reply.text  # decoded text arrives (greedy random weights may repeat a newline: no strip())
    assert served.engine.active_requests() == 0  # type: ignore[attr-defined]
    record(event="stream", model=served.case.name, users=1, tokens=reply.tokens,
           tokens_per_s=round(reply.tokens / reply.seconds, 1),
           first_token_ms=round(1000 * (reply.first_token_s or 0), 1))


def test_abort_stops_the_generation_inside_lmdeploy(served: Served) -> None:
    limit = served.session_len - 200

    async def run() -> tuple[Reply, bool, tuple[str, int]]:
        rid = new_request_id()
        stream = served.engine.stream(MATH, GenParams(max_new_tokens=limit), request_id=rid)  # type: ignore
        chunks: list[Chunk] = []
        found: bool | None = None
        async for chunk in stream:
            chunks.append(chunk)
            if found is None and sum(1 for c in chunks if c.tokens) == 3:
                found = await served.engine.abort(rid)  # type: ignore[attr-defined]
        return Reply(chunks, 0.0, None), bool(found), await wait_finished(served.engine, rid)

    reply, found, (engine_reason, engine_tokens) = asyncio.run(run())
    assert found
    assert reply.chunks[-1].finish_reason == "abort"
    assert reply.tokens < limit
    assert engine_reason == "abort" and engine_tokens < limit  # lmdeploy itself stopped early
    assert asyncio.run(served.engine.abort("no-such-request")) is False  # type: ignore[attr-defined]


def test_closing_the_stream_aborts_inside_lmdeploy(served: Served) -> None:
    limit = served.session_len - 200
    rid = new_request_id()

    async def run() -> tuple[Reply, tuple[str, int]]:
        reply = await collect(served.engine, GenParams(max_new_tokens=limit), rid=rid, stop_after=3)
        return reply, await wait_finished(served.engine, rid)

    reply, (engine_reason, engine_tokens) = asyncio.run(run())
    assert all(c.finish_reason is None for c in reply.chunks)
    assert engine_tokens < limit and engine_reason == "abort"
    assert served.engine.active_requests() == 0  # type: ignore[attr-defined]


def test_sixteen_concurrent_streams_all_complete(served: Served) -> None:
    async def run() -> tuple[list[Reply], float]:
        start = time.perf_counter()
        replies = await asyncio.gather(*(
            collect(served.engine, GenParams(temperature=0.0, max_new_tokens=256)) for _ in range(BATCH)
        ))
        return list(replies), time.perf_counter() - start

    replies, seconds = asyncio.run(run())
    assert [r.chunks[-1].finish_reason for r in replies] == ["length"] * BATCH
    assert [r.tokens for r in replies] == [256] * BATCH
    total = sum(r.tokens for r in replies)
    record(event="stream", model=served.case.name, users=BATCH, tokens=total,
           tokens_per_s=round(total / seconds, 1),
           first_token_ms_max=round(1000 * max(r.first_token_s or 0 for r in replies), 1))


def test_too_long_a_prompt_ends_with_an_error_chunk(served: Served) -> None:
    long_chat = [{"role": "user", "content": "solve " * (served.session_len + 100)}]
    reply = asyncio.run(collect(served.engine, GenParams(max_new_tokens=16), messages=long_chat))
    last = reply.chunks[-1]
    assert last.finish_reason == "error"
    assert last.error and "new chat" in last.error


def test_the_real_model_answers_and_stops_by_itself(served: Served) -> None:
    if served.case.env is None:
        pytest.skip("random weights say nothing meaningful")
    engine = served.engine
    engine.ignore_eos = False  # type: ignore[attr-defined]
    try:
        chat = [{"role": "user", "content": "What is 12 * 7? Reply with just the number."}]
        reply = asyncio.run(collect(engine, GenParams(temperature=0.0, max_new_tokens=64), messages=chat))
    finally:
        engine.ignore_eos = True  # type: ignore[attr-defined]
    record(event="answer", model=served.case.name, text=reply.text)
    assert reply.chunks[-1].finish_reason == "stop"
    assert "84" in reply.text
