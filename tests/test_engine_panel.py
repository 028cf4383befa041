"""The teacher's engine panel handlers: locked without the password, swap with it, failures keep the old engine."""

from __future__ import annotations

import asyncio

from engine.catalog import load_catalog
from engine.errors import EngineLoadError
from engine.fake import FakeEngine
from engine.settings import EngineSettings
from engine.switcher import EngineSwitcher
from ui.engine_panel import LOCKED, EngineControls, memory_readout
from ui.teacher import TeacherGate


def _controls(password, factory=None):
    sw = EngineSwitcher(FakeEngine(model="old"), EngineSettings(backend="fake"),
                        factory or (lambda s, p=None: FakeEngine(model=f"new:{s.model}")))
    return sw, EngineControls(sw, TeacherGate(password, step=0), load_catalog())


def _apply(controls, unlocked, model="default", custom="", ratio=0.3):
    return asyncio.run(controls.apply(unlocked, model, custom, "auto", ratio, 4096, 32,
                                      progress=lambda *a, **k: None))


def test_locked_without_a_configured_password():
    sw, controls = _controls(None)
    message, status, _ = _apply(controls, True)  # even a page that claims to be unlocked
    assert message == LOCKED and sw.info.model == "old"


def test_wrong_password_does_not_unlock():
    _, controls = _controls("teach")
    ok, message, _ = asyncio.run(controls.unlock("guess"))
    assert not ok and "Wrong" in message


def test_unlocked_apply_switches_the_engine_and_updates_the_status():
    sw, controls = _controls("teach")
    ok, _, _ = asyncio.run(controls.unlock("teach"))
    assert ok
    message, status, readout = _apply(controls, ok, model="custom", custom="/models/mine", ratio=0.2)
    assert sw.info.model == "new:/models/mine" and "new:/models/mine" in status and "✅" in message
    assert sw.settings.cache_max_entry_count == 0.2


def test_failed_load_keeps_the_previous_engine_and_says_so():
    def boom(settings, progress=None):
        raise EngineLoadError("Out of GPU memory while loading the weights (needs 14 GiB, 6 GiB free).")

    sw, controls = _controls("teach", boom)
    message, status, _ = _apply(controls, True)
    assert "Out of GPU memory" in message and "previous model keeps serving" in message
    assert sw.info.model == "old" and "old" in status


def test_out_of_range_setting_is_refused_with_its_range():
    sw, controls = _controls("teach")
    message, _, _ = _apply(controls, True, ratio=0.99)
    assert "cache_max_entry_count" in message and "0.95" in message and sw.info.model == "old"


def test_memory_readout_for_the_default_model():
    text = memory_readout(EngineSettings(model="default", cache_max_entry_count=0.5), load_catalog())
    assert "Weights fp16 / W4A16" in text and "KV cache per token" in text and "full sessions" in text
