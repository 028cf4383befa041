"""Tensor parallelism under TurboMind (issue 8): the tiny model split over 2 GPUs streams, batches and reports per GPU.

Needs 2 visible GPUs (the nvidia-h200-x2 kind); skipped with fewer. Speeds for tp=1 vs tp=2 on real-sized models
come from scripts/gpu/tp_bench.py, not from here.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from engine.base import GenParams
from engine.settings import EngineSettings
from tests.gpu.test_lmdeploy_backend import MATH, _tiny_fp16, collect

pytestmark = pytest.mark.gpu


def _gpus() -> int:
    import torch

    return torch.cuda.device_count()


@pytest.fixture(scope="module")
def tp2_engine(tmp_path_factory: pytest.TempPathFactory):
    if _gpus() < 2:
        pytest.skip("needs 2 GPUs (nvidia-h200-x2)")
    from engine.lmdeploy_backend import LmdeployEngine

    model_dir = _tiny_fp16(tmp_path_factory.mktemp("tiny-tp") / "qwen2")
    settings = EngineSettings(backend="lmdeploy", model=str(model_dir), tp=2, session_len=2048,
                              max_batch_size=16, cache_max_entry_count=0.1)
    engine = LmdeployEngine(model_dir, settings, ignore_eos=True, display_name="tiny-qwen2")
    yield engine
    asyncio.run(engine.close())


def test_multicast_stays_off_in_this_process_and_its_children(tp2_engine) -> None:
    from engine.lmdeploy_api import MULTICAST_OFF

    for name, value in MULTICAST_OFF.items():
        assert os.environ[name] == value


def test_status_line_and_memory_name_both_gpus(tp2_engine) -> None:
    assert "tp=2" in tp2_engine.info.status_line()
    assert tp2_engine.info.extra["tp"] == "2"
    taken = tp2_engine.info.extra["gpu_memory_taken_at_load_mib"].split(" + ")
    assert len(taken) == 2 and all(int(t) > 0 for t in taken)
    used = asyncio.run(tp2_engine.memory_readout())["gpu_memory_used_mib"].split(" + ")
    assert len(used) == 2


def test_a_reply_streams_and_sixteen_run_at_once(tp2_engine) -> None:
    params = GenParams(temperature=0.0, top_p=1.0, max_new_tokens=48)
    one = asyncio.run(collect(tp2_engine, params))
    assert one.tokens == 48 and one.chunks[-1].finish_reason == "length"

    async def many():
        return await asyncio.gather(*(collect(tp2_engine, params, messages=MATH) for _ in range(16)))

    replies = asyncio.run(many())
    assert [r.tokens for r in replies] == [48] * 16


def test_more_gpus_than_visible_is_refused_before_loading(tmp_path: Path) -> None:
    from engine.errors import EngineLoadError
    from engine.factory import create_engine

    with pytest.raises(EngineLoadError, match=f"needs {_gpus() * 2} GPUs"):
        create_engine(EngineSettings(backend="lmdeploy", model=str(tmp_path), tp=_gpus() * 2))
