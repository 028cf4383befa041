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


class ReportingEngine(FakeEngine):
    """Reports live figures the way engine.lmdeploy_backend.LmdeployEngine.memory_readout does (strings)."""

    def __init__(self, figures=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.figures = figures

    async def memory_readout(self) -> dict[str, str]:
        if self.figures is None:
            raise RuntimeError("lmdeploy's scheduler is gone")
        return self.figures


def test_readout_adds_the_running_engines_own_figures():
    figures = {"lmdeploy": "0.18.0", "gpu_memory_taken_at_load_mib": "41200", "kv_capacity_tokens": "1234567",
               "cache_usage": "0.25", "active_seqs": "3", "waiting_seqs": "0", "gpu_memory_used_mib": "43000"}
    settings = EngineSettings(backend="fake", model="default")
    sw = EngineSwitcher(ReportingEngine(figures), settings, lambda s, p=None: ReportingEngine(None))
    controls = EngineControls(sw, TeacherGate("teach", step=0), load_catalog())
    text = asyncio.run(controls.live_readout())
    assert "| lmdeploy: GPU memory taken at load (weights + KV cache) | 41,200 MiB |" in text
    assert "| lmdeploy: KV cache capacity | 1,234,567 tokens |" in text
    assert "| lmdeploy: KV cache in use now | 25% |" in text and "| lmdeploy: replies running now | 3 |" in text
    assert "KV cache per token" in text  # the computed rows stay
    # The preview of the running settings shows them too; a different ratio is a plan, without live figures.
    assert "41,200 MiB" in asyncio.run(controls.preview("default", "", "auto", settings.cache_max_entry_count, 4096))
    assert "lmdeploy" not in asyncio.run(controls.preview("default", "", "auto", 0.3, 4096))
    # A backend whose readout fails, or that has none, gets the computed table only.
    asyncio.run(sw.switch(settings))
    assert "lmdeploy" not in asyncio.run(controls.live_readout())
    assert asyncio.run(_controls("teach")[1].live_readout()).count("|---|---|") == 1
