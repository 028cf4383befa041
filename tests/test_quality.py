"""The quality gate's core (engine.quality): scripted engines answer right or wrong, the real checker grades, and
the result is stored atomically with a quantized build and found again the way the model picker looks for it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import checker
from engine.errors import EngineLoadError
from engine.fake import FakeEngine
from engine.memory import ModelShape, weight_bytes
from engine.quality import (
    QUALITY_FILE,
    SPEED_PROMPTS,
    Candidate,
    GateConfig,
    builtin_problems,
    cached_builds,
    config_weight_bytes,
    final_answer_grader,
    read_result,
    run_gate,
    store_result,
)
from engine.quantize import FORMAT_VERSION, METADATA, list_quantized
from tests.fixtures.answer_key import AnswerKey

SMALL = GateConfig(max_new_tokens=64, speed_tokens=8, streams=(1, 4))
GRADE = final_answer_grader(checker.extract_final_answer, checker.check_answer)




def _key(problems, right: int | None = None) -> dict[str, str]:
    """Boxed reference answers for the first ``right`` problems (all if None), a wrong number for the rest."""
    right = len(problems) if right is None else right
    return {p.question: f"Working it out, the answer is \\boxed{{{p.reference if i < right else '-12345'}}}."
            for i, p in enumerate(problems)}


def test_gate_grades_each_format_and_measures_speed_one_engine_at_a_time():
    problems = builtin_problems(7)  # one of each kind: products, sums, percentages, equations, fractions, derivatives
    built: list[AnswerKey] = []

    def factory(key: dict[str, str], name: str):
        def build(progress):
            assert all(e.closed for e in built), "the previous format's engine must be closed first"
            built.append(AnswerKey(key, model=name))
            return built[-1]
        return build

    seen: list[tuple[float, str]] = []
    result = asyncio.run(run_gate(
        {"fp16": Candidate(factory(_key(problems), "m-fp16"), "/m", weight_bytes=2000),
         "W4A16": Candidate(factory(_key(problems, right=3), "m-awq"), "/m-awq", weight_bytes=600)},
        problems, GRADE, lambda f, text: seen.append((f, text)), config=SMALL, problem_set="built-in (7)"))

    fp16, w4 = result.get("fp16"), result.get("W4A16")
    assert (fp16.correct, fp16.problems, fp16.accuracy) == (7, 7, 1.0)
    assert (w4.correct, w4.accuracy) == (3, 3 / 7)
    for fmt in (fp16, w4):
        assert set(fmt.tokens_per_s) == {1, 4} and all(v > 0 for v in fmt.tokens_per_s.values())
        assert fmt.tokens > 0 and fmt.load_seconds is not None and fmt.error is None
        assert fmt.backend == "fake" and fmt.failed_replies == 0
    assert (fp16.weight_bytes, w4.weight_bytes, fp16.model) == (2000, 600, "/m")
    assert [e.info.model for e in built] == ["m-fp16", "m-awq"] and all(e.closed for e in built)
    # Each engine got every problem with the boxed-answer instruction, then 1 + 4 speed prompts.
    for engine in built:
        asked = [messages[-1]["content"] for messages, _ in engine.calls]
        assert sorted(asked[:7]) == sorted(p.question for p in problems)
        assert engine.calls[0][0][0]["role"] == "system" and "\\boxed{}" in engine.calls[0][0][0]["content"]
        assert asked[7:] == [SPEED_PROMPTS[0]] + [SPEED_PROMPTS[i % len(SPEED_PROMPTS)] for i in range(4)]
        assert {params.temperature for _, params in engine.calls} == {0.0}
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("W4A16: 7 of 7 problems answered" in text for _, text in seen)


def test_a_format_that_fails_is_recorded_and_the_other_still_runs():
    problems = builtin_problems(3)

    def no_memory(progress):
        raise EngineLoadError("Not enough GPU memory to start TurboMind for m-awq.")

    broken = FakeEngine([RuntimeError("CUDA out of memory")], token_delay=0.001)  # the first reply fails
    result = asyncio.run(run_gate({"fp16": lambda p: broken, "W4A16": no_memory}, problems,
                                  lambda reply, problem: True, config=SMALL))
    fp16, w4 = result.formats
    assert fp16.failed_replies == 1 and fp16.correct == 2  # an error reply counts as wrong, whatever grade says
    assert w4.error.startswith("Not enough GPU memory") and w4.accuracy is None and w4.tokens_per_s == {}
    assert broken.closed


def test_result_is_stored_atomically_and_read_back(tmp_path):
    problems = builtin_problems(2)
    result = asyncio.run(run_gate({"fp16": lambda p: AnswerKey(_key(problems)),
                                   "W4A16": lambda p: AnswerKey(_key(problems, right=0))},
                                  problems, GRADE, config=SMALL, problem_set="two"))
    path = store_result(tmp_path, result)
    assert path == tmp_path / QUALITY_FILE and [p.name for p in tmp_path.iterdir()] == [QUALITY_FILE]
    back = read_result(tmp_path)
    assert back == result and back.get("W4A16").accuracy == 0.0 and back.get("fp16").tokens_per_s[4] > 0
    assert json.loads(path.read_text())["formats"][0]["accuracy"] == 1.0  # readable by people too
    path.write_text('{"version": 1, "formats": [')  # a damaged file reads as "no result", not an error
    assert read_result(tmp_path) is None and read_result(tmp_path / "missing") is None


def _fake_build(cache: Path, name: str, model_dir: Path, created: str) -> Path:
    """A cache entry as engine.quantize leaves it (metadata only: finding builds reads nothing else)."""
    entry = cache / "quantized" / name
    entry.mkdir(parents=True)
    meta = {"format": FORMAT_VERSION, "model": name, "model_dir": str(model_dir), "w_bits": 4, "w_group_size": 128,
            "calibration": {"source": "built-in math corpus"}, "created": created}
    (entry / METADATA).write_text(json.dumps(meta))
    return entry


def test_cached_builds_are_found_by_folder_hub_id_and_default(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TUTOR_CACHE_DIR", str(cache))
    mine = tmp_path / "mine"
    mine.mkdir()
    hub = cache / "hub" / "huggingface" / "models--Qwen--Qwen2.5-Math-1.5B-Instruct" / "snapshots" / "abc"
    old = _fake_build(cache, "mine-old", mine, "2026-01-01T00:00:00")
    new = _fake_build(cache, "mine-new", mine, "2026-02-01T00:00:00")
    math = _fake_build(cache, "qwen-math", hub, "2026-01-05T00:00:00")
    default = _fake_build(cache, "default", cache / "models" / "qwen2.5-coder-0.5b-instruct", "2026-01-06T00:00:00")
    assert len(list_quantized()) == 4
    assert [b.path for b in cached_builds(str(mine))] == [new, old]  # newest first
    assert [b.path for b in cached_builds("qwen/qwen2.5-math-1.5b-instruct")] == [math]  # hub ids: any case
    assert [b.path for b in cached_builds("default")] == [default]
    assert cached_builds("Qwen/Qwen2.5-Math-7B-Instruct", str(tmp_path / "elsewhere")) == []


def test_weight_memory_comes_from_the_config(tiny_model_dir, tmp_path):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    shape = ModelShape.from_hf_config(config)
    assert config_weight_bytes(tiny_model_dir) == weight_bytes(shape, "fp16")  # served in 16 bits, stored in fp32
    awq = tmp_path / "awq"
    awq.mkdir()
    quant = {"quant_method": "awq", "bits": 4, "group_size": 64}
    (awq / "config.json").write_text(json.dumps({**config, "quantization_config": quant}))
    assert config_weight_bytes(awq) == weight_bytes(shape, "w4a16", group_size=64) < weight_bytes(shape, "fp16")
    assert config_weight_bytes(tmp_path / "nothing") is None


def test_bench_script_prints_json_with_both_speeds(tiny_model_dir, capsys):
    from bench import quality_gate

    code = quality_gate.main(["--model", str(tiny_model_dir), "--backend", "fake", "--limit", "3",
                              "--max-new-tokens", "16", "--speed-tokens", "8", "--streams", "1,2"])
    report = json.loads(capsys.readouterr().out)
    [row] = report["results"]
    assert code == 0 and report["benchmark"] == "quality_gate"
    assert (row["label"], row["problems"], row["correct"], row["accuracy"]) == ("fp16", 3, 0, 0.0)  # echoes
    assert row["tokens_per_s_1_stream"] > 0 and row["tokens_per_s_2_streams"] > 0
    assert row["weight_bytes"] == config_weight_bytes(tiny_model_dir)
    assert row["weight_bytes_on_disk"] > row["weight_bytes"]  # the tiny checkpoint is stored in fp32


def test_the_gate_needs_problems():
    with pytest.raises(ValueError, match="at least one problem"):
        asyncio.run(run_gate({"fp16": lambda p: FakeEngine()}, [], GRADE))
