"""A model switch under TurboMind, in a process tuned as app.py serves (``ui.runtime``: the garbage collector
frozen): a reply in flight on the old engine finishes there, and each retired engine gives its GPU memory back.

Four switches between two KV-cache ratios of the tiny random model (which never stops early: ``ignore_eos``); torch's
view of the whole GPU after each (JSON lines, as in test_lmdeploy_backend). Without ``engine.base.collect_garbage`` in
the backend's ``close``, the frozen engine's reference cycles would keep its weights and KV cache allocated after the
switch: the GPU would hold one more engine after every switch.
"""

from __future__ import annotations

import asyncio
import gc

import pytest

from engine.base import GenParams
from engine.settings import EngineSettings
from tests.gpu.test_lmdeploy_backend import MATH, _tiny_fp16, record

pytestmark = pytest.mark.gpu
MIB = 1 << 20


def test_switching_frees_each_old_engine_and_finishes_its_reply(python_runtime, tmp_path) -> None:
    import torch

    from engine.lmdeploy_backend import LmdeployEngine
    from engine.switcher import EngineSwitcher
    from ui.runtime import tune_for_serving

    model = _tiny_fp16(tmp_path / "qwen2")

    def settings(ratio: float) -> EngineSettings:
        return EngineSettings(backend="lmdeploy", model=str(model), session_len=2048, max_batch_size=16,
                              cache_max_entry_count=ratio)

    def build(s: EngineSettings, progress: object = None) -> LmdeployEngine:
        return LmdeployEngine(model, s, ignore_eos=True)

    def used_mib() -> int:
        torch.cuda.synchronize()
        free, total = torch.cuda.mem_get_info()
        return (total - free) // MIB

    async def main() -> tuple[list[int], int, str | None]:
        idle = used_mib()
        first = settings(0.10)
        switcher = EngineSwitcher(build(first), first, build, drain_seconds=60)
        tune_for_serving()  # as app.py does once the first engine and the page are built: that engine is frozen
        used = [used_mib() - idle]
        # A reply streaming on the first engine while the teacher switches: it finishes there.
        stream = switcher.stream(MATH, GenParams(0.0, 1.0, 400))
        tokens, finish = 0, None
        first_chunk = await anext(stream)
        tokens += first_chunk.tokens

        async def read_rest() -> None:
            nonlocal tokens, finish
            async for chunk in stream:
                tokens += chunk.tokens
                finish = chunk.finish_reason or finish

        reader = asyncio.create_task(read_rest())
        for ratio in (0.12, 0.10, 0.12, 0.10):
            await switcher.switch(settings(ratio))
            used.append(used_mib() - idle)
        await reader
        await switcher.close()
        return used, tokens, finish

    used, tokens, finish = asyncio.run(main())
    record(event="switch_memory", gpu_used_mib_after_each=used, reply_tokens=tokens, reply_finish=finish,
           frozen=gc.get_freeze_count())
    assert finish == "length" and tokens == 400  # the reply in flight was not cut by the switches
    # One engine on the GPU after each switch. A KV cache is a share of the memory free when its engine starts (the
    # old one is still loaded then), so later engines are a little smaller or larger than the first; one retired
    # engine kept would add a whole engine (its weights and a tenth of the GPU).
    assert used[0] > 0 and all(u <= 1.4 * used[0] for u in used), used
