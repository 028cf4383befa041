"""Swapping the engine while replies stream: nothing lost, nothing mixed up, failures leave the old engine."""

from __future__ import annotations

import asyncio

import pytest

from engine.base import GenParams
from engine.errors import EngineLoadError
from engine.fake import FakeEngine
from engine.settings import EngineSettings
from engine.switcher import SWITCH_NOTICE, EngineSwitcher

PARAMS = GenParams(max_new_tokens=1000)


async def _collect(engine, text: str) -> tuple[str, str | None, str | None]:
    out, reason, error = "", None, None
    async for chunk in engine.stream([{"role": "user", "content": text}], PARAMS):
        out += chunk.text
        if chunk.finish_reason:
            reason, error = chunk.finish_reason, chunk.error
    return out, reason, error


def _factory(model_name: str, fail: Exception | None = None):
    def build(settings, progress=None):
        if fail:
            raise fail
        return FakeEngine(token_delay=0.002, model=model_name)
    return build


def test_replies_in_flight_finish_on_the_old_engine_and_new_ones_use_the_new():
    async def run():
        old = FakeEngine(token_delay=0.01, model="old")
        sw = EngineSwitcher(old, EngineSettings(backend="fake"), _factory("new"))
        inflight = [asyncio.create_task(_collect(sw, f"student {i}")) for i in range(8)]
        await asyncio.sleep(0.02)
        info = await sw.switch(EngineSettings(backend="fake", model="other"))
        after = await _collect(sw, "after the switch")
        results = await asyncio.gather(*inflight)
        return sw, old, info, results, after

    sw, old, info, results, after = asyncio.run(run())
    assert info.model == "new" and sw.info.model == "new"
    for i, (text, reason, _) in enumerate(results):
        assert (text, reason) == (f"You said: student {i}", "stop")  # each got its own full reply
    assert after == ("You said: after the switch", "stop", None)
    assert old.closed and sw.active_requests() == 0


def test_a_reply_that_outlasts_the_drain_ends_with_a_notice():
    async def run():
        old = FakeEngine(token_delay=0.02, model="old")
        old.enqueue(" ".join(["slow"] * 500))
        sw = EngineSwitcher(old, EngineSettings(backend="fake"), _factory("new"), drain_seconds=0.2)
        task = asyncio.create_task(_collect(sw, "long"))
        await asyncio.sleep(0.05)
        await sw.switch(EngineSettings(backend="fake"))
        return await task, old

    (text, reason, error), old = asyncio.run(run())
    assert reason == "error" and error == SWITCH_NOTICE
    assert text.startswith("slow") and len(text.split()) < 500
    assert old.closed


def test_failed_build_keeps_the_old_engine_serving():
    async def run():
        old = FakeEngine(token_delay=0.001, model="old")
        sw = EngineSwitcher(old, EngineSettings(backend="fake"),
                            _factory("new", EngineLoadError("Out of GPU memory loading the 7B model.")))
        with pytest.raises(EngineLoadError, match="Out of GPU memory"):
            await sw.switch(EngineSettings(backend="fake", model="big"))
        return sw, old, await _collect(sw, "still there?")

    sw, old, reply = asyncio.run(run())
    assert sw.info.model == "old" and not old.closed and sw.settings.model == "default"
    assert reply == ("You said: still there?", "stop", None)
