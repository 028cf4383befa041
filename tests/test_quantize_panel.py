"""The teacher's quantize section: gated on the server, a real AWQ quantization of the tiny random Qwen2 on the CPU
with progress, the quality gate stored with the build and shown in the model picker, serving the build, the
fp16-vs-W4A16 comparison, one job at a time, and a model AWQ cannot take refused before any work."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from engine.catalog import CATALOG_PATH, parse_catalog
from engine.fake import FakeEngine
from engine.quality import GateConfig, builtin_problems, read_result
from engine.quantize import list_quantized, read_metadata
from engine.settings import EngineSettings
from engine.switcher import EngineSwitcher
from tests.fixtures.answer_key import AnswerKey
from tests.fixtures.tiny_model import build_tiny_qwen2
from ui.engine_panel import LOCKED, EngineControls
from ui.quantize_panel import BUSY, QuantizeControls, bank_problems, picker_choices
from ui.teacher import TeacherGate

GATE = builtin_problems(3)
COMPARE = bank_problems(3)
HUB_ID = "tiny-org/tiny-qwen2"




def factory(settings: EngineSettings, progress=None) -> FakeEngine:
    """Stands in for engine.factory.create_engine: fp16 answers every gate problem right, W4A16 none."""
    right = settings.model_format != "awq"
    key = {p.question: f"\\boxed{{{p.reference if right else '-12345'}}}" for p in GATE + COMPARE}
    return AnswerKey(key, model=f"{Path(settings.model).name}:{settings.model_format}")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """The tiny model where a hub download of HUB_ID would put it, so the catalog entry below finds its build."""
    snapshot = tmp_path_factory.mktemp("hub") / f"models--{HUB_ID.replace('/', '--')}" / "snapshots" / "abc"
    return build_tiny_qwen2(snapshot)


@pytest.fixture()
def catalog():
    data = json.loads(CATALOG_PATH.read_text())
    entry = next(e for e in data["models"] if e["id"] == "qwen2.5-math-1.5b")
    data["models"].insert(1, {**entry, "id": "tiny", "name": "Tiny Qwen2", "huggingface_id": HUB_ID,
                              "modelscope_id": None})
    return parse_catalog(data)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TUTOR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _controls(catalog, password, model: str) -> tuple[EngineSwitcher, QuantizeControls]:
    settings = EngineSettings(backend="fake", model=model)
    switcher = EngineSwitcher(factory(settings), settings, factory)
    engine_controls = EngineControls(switcher, TeacherGate(password, step=0), catalog)
    controls = QuantizeControls(switcher, engine_controls.gate, catalog, factory, engine_controls.switch_to,
                                locked_message=LOCKED, gate_problems=GATE, compare_problems=COMPARE,
                                gate_config=GateConfig(max_new_tokens=32, speed_tokens=4, streams=(1, 16)))
    return switcher, controls


class Recorder:
    """Stands in for gr.Progress: records (fraction, text)."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    def __call__(self, fraction: float, desc: str | None = None) -> None:
        self.seen.append((fraction, desc or ""))


def _label(choices, entry_id: str) -> str:
    return next(label for label, value in choices if value == entry_id)


def test_locked_without_the_gate_or_the_unlock(catalog, tiny, cache):
    for password, unlocked in ((None, True), ("teach", False)):  # no password set; or this tab not unlocked
        switcher, controls = _controls(catalog, password, str(tiny))
        progress = Recorder()
        message, *_ = asyncio.run(controls.quantize(unlocked, "custom", str(tiny), 4, 64, True, progress=progress))
        assert message == LOCKED and progress.seen == []
        assert asyncio.run(controls.compare(unlocked, progress=progress))[0] == LOCKED
        assert asyncio.run(controls.serve(unlocked, str(tiny), progress=progress))[0] == LOCKED
        assert switcher.settings.model == str(tiny) and list_quantized() == []


def test_quantize_gate_picker_compare_and_serve(catalog, tiny, cache):
    switcher, controls = _controls(catalog, "teach", str(tiny))
    assert " — W4A16 cached" not in _label(picker_choices(catalog), "tiny")

    progress = Recorder()
    message, table, built, serve, picker = asyncio.run(
        controls.quantize(True, "custom", str(tiny), 4, 64, True, progress=progress))
    assert message.startswith("✅ Quantized abc to W4A16"), message
    [entry] = list_quantized()
    assert built == str(entry.path) and serve["interactive"] is True
    assert read_metadata(entry.path)["calibration"]["samples"] == 4
    # Progress ran from the shape check through AWQ's layers to both formats of the gate, never backwards.
    fractions, texts = [f for f, _ in progress.seen], " | ".join(t for _, t in progress.seen)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    for step in ("Checking abc", "calibration text", "fp16: 3 of 3 problems answered", "W4A16: speed at 16"):
        assert step in texts
    # The gate's table, stored with the build, and the picker's label for the catalog model it was built from.
    assert "| Accuracy | 100% (3/3) | 0% (0/3) |" in table and "Tokens/s, 16 streams" in table
    result = read_result(entry.path)
    assert (result.get("fp16").accuracy, result.get("W4A16").accuracy) == (1.0, 0.0)
    assert result.get("W4A16").weight_bytes < result.get("fp16").weight_bytes
    label = _label(picker["choices"], "tiny")
    assert label == "Tiny Qwen2 (1.544B) — W4A16 cached · gate 0% vs fp16 100%"
    assert _label(picker_choices(catalog), "tiny") == label
    update, _ = asyncio.run(EngineControls(switcher, controls.gate, catalog).refresh())  # pages loaded later
    assert _label(update["choices"], "tiny") == label

    # The same request again is served from the cache at once (no second build), gate skipped.
    message, table, again, _, _ = asyncio.run(
        controls.quantize(True, "custom", str(tiny), 4, 64, False, progress=Recorder()))
    assert again == built and table == "" and len(list_quantized()) == 1

    # Compare: the running fp16 model against its cached build, on practice-bank problems.
    message, table, found, _ = asyncio.run(controls.compare(True, progress=Recorder()))
    assert message.startswith("✅ Compared abc (fp16)") and found == built
    assert "practice bank (3 problems)" in table and "| Accuracy | 100% (3/3) | 0% (0/3) |" in table

    # One job at a time: a second click while one runs gets a clear message.
    async def twice():
        first = asyncio.create_task(controls.compare(True, progress=Recorder()))
        await asyncio.sleep(0)  # the comparison has started and holds the lock
        second = await controls.quantize(True, "custom", str(tiny), 4, 64, False, progress=Recorder())
        return await first, second

    first, second = asyncio.run(twice())
    assert first[0].startswith("✅") and second[0] == BUSY

    # Serve: the switcher moves to the build, as Apply would.
    message, status, readout = asyncio.run(controls.serve(True, built, progress=Recorder()))
    assert message.startswith("✅ Now serving") and f"{entry.path.name}:awq" in status
    assert switcher.settings.model == built and switcher.settings.model_format == "awq"
    assert "Weights fp16 / W4A16" in readout
    # Compare from the served build finds its fp16 source through the build's metadata.
    message, _, _, _ = asyncio.run(controls.compare(True, progress=Recorder()))
    assert message.startswith("✅ Compared abc (fp16)")


def test_unsupported_shape_is_refused_before_any_work(catalog, tmp_path, cache, monkeypatch):
    monkeypatch.setenv("TUTOR_MODEL_DIRS", str(tmp_path))
    odd = tmp_path / "odd"
    odd.mkdir()  # only a config: getting past the check would fail on the missing tokenizer and weights
    (odd / "config.json").write_text(json.dumps({
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 192, "intermediate_size": 512,
        "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 512}))
    built: list[EngineSettings] = []
    switcher, controls = _controls(catalog, "teach", "default")
    controls.factory = lambda settings, progress=None: built.append(settings) or factory(settings)
    progress = Recorder()
    message, table, path, serve, picker = asyncio.run(
        controls.quantize(True, "custom", str(odd), 4, 64, True, progress=progress))
    assert message.startswith("⚠️ Cannot quantize odd with group size 128") and "q_proj (input 192)" in message
    assert [t for _, t in progress.seen] == ["Checking odd"] and built == [] and list_quantized() == []
    assert asyncio.run(controls.compare(True, progress=progress))[0].startswith("⚠️ No W4A16 build")


def test_the_page_mounts_the_section_in_the_engine_panel(catalog, tiny, cache):
    from gradio.blocks import BlockContext

    from ui import build_ui

    switcher, _ = _controls(catalog, "teach", str(tiny))
    demo = build_ui(switcher, gate=TeacherGate("teach"))
    ids = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    for elem_id in ("quantize", "serve-quantized", "compare-formats", "quality-table", "model-picker"):
        assert elem_id in ids
    panel = ids["engine-panel"]
    assert isinstance(panel, BlockContext)
    inside = {getattr(b, "elem_id", None) for b in _descendants(panel)}
    assert {"quantize", "compare-formats", "quality-table"} <= inside
    assert ids["serve-quantized"].interactive is False  # nothing built yet


def _descendants(block):
    for child in getattr(block, "children", []):
        yield child
        yield from _descendants(child)


def test_a_folder_outside_the_allowed_ones_is_refused(catalog, tiny, tmp_path, cache, monkeypatch):
    monkeypatch.delenv("TUTOR_MODEL_DIRS", raising=False)
    _, controls = _controls(catalog, "teach", "default")  # the tiny model is not the start-up model here
    progress = Recorder()
    message, *_ = asyncio.run(controls.quantize(True, "custom", str(tiny), 4, 64, False, progress=progress))
    assert "outside the folders models may be loaded from" in message and "TUTOR_MODEL_DIRS" in message
    assert progress.seen == [] and list_quantized() == []
