"""Tensor parallelism (--tp) on the CPU side: validation against the backend, the visible GPUs and the model's heads,
the per-GPU memory arithmetic, and NVLink multicast kept off. The GPU runs are tests/gpu/test_lmdeploy_tensor_parallel.py."""

from __future__ import annotations

import json
import os

import pytest

from app import serve_parser, settings_from_args
from engine import memory
from engine.errors import EngineLoadError, SettingsError
from engine.factory import check_tp, choose_backend, create_engine
from engine.settings import EngineSettings

QWEN_05B = memory.ModelShape(layers=24, hidden=896, attention_heads=14, kv_heads=2, head_dim=64,
                             intermediate=4864, vocab=151936, tie_embeddings=True, qkv_bias=True)
QWEN2_7B = memory.ModelShape(layers=28, hidden=3584, attention_heads=28, kv_heads=4, head_dim=128,
                             intermediate=18944, vocab=152064, qkv_bias=True)
FEW_KV = memory.ModelShape(layers=32, hidden=4096, attention_heads=32, kv_heads=4, head_dim=128,
                           intermediate=11008, vocab=92544)  # 4 KV heads: fewer than 8 GPUs


def test_tp_flag_reaches_the_settings() -> None:
    import argparse

    args = serve_parser(argparse.ArgumentParser()).parse_args(["--tp", "2", "--backend", "lmdeploy"])
    assert settings_from_args(args).tp == 2


@pytest.mark.parametrize("tp", [0, 9])
def test_out_of_range_tp_is_a_settings_error(tp: int) -> None:
    with pytest.raises(SettingsError, match="tp must be between 1 and 8"):
        EngineSettings(tp=tp)


def test_tp_above_one_needs_lmdeploy_and_enough_gpus() -> None:
    with pytest.raises(EngineLoadError, match="only the lmdeploy backend does"):
        choose_backend(EngineSettings(tp=2), cuda=False, lmdeploy=True, llamacpp=True, gpus=0)
    with pytest.raises(EngineLoadError, match=r"needs 2 GPUs, but 1 is visible.*Use --tp 1"):
        choose_backend(EngineSettings(backend="lmdeploy", tp=2), cuda=True, lmdeploy=True, gpus=1)
    with pytest.raises(EngineLoadError, match=r"needs 8 GPUs, but 3 are visible.*Use --tp 2"):
        check_tp(EngineSettings(tp=8), "lmdeploy", 3)
    with pytest.raises(EngineLoadError, match="power of two"):
        check_tp(EngineSettings(tp=3), "lmdeploy", 4)
    assert choose_backend(EngineSettings(tp=2), cuda=True, lmdeploy=True, gpus=2) == "lmdeploy"
    check_tp(EngineSettings(tp=1), "transformers", 0)  # one device: always fine


def test_visible_devices_are_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with pytest.raises(EngineLoadError, match=r"CUDA_VISIBLE_DEVICES=3"):
        check_tp(EngineSettings(tp=2), "lmdeploy", 1)


def test_this_machine_refuses_tp2_before_touching_a_model() -> None:
    """The real probe, as CI sees it (no GPU): a clear error, raised before the model is resolved or loaded."""
    with pytest.raises(EngineLoadError, match="--tp 2"):
        create_engine(EngineSettings(model="no/such-model-anywhere", tp=2))


def test_heads_must_split_evenly() -> None:
    assert memory.tp_problem(QWEN_05B, 1) is None
    assert memory.tp_problem(QWEN_05B, 2) is None  # 14 heads -> 7 per GPU; 2 KV heads -> 1 per GPU
    assert "14 attention heads" in memory.tp_problem(QWEN_05B, 4)
    assert memory.tp_problem(FEW_KV, 8) is None  # 4 KV heads over 8 GPUs: repeated, one per GPU
    assert "28 attention heads" in memory.tp_problem(QWEN2_7B, 8)
    assert "power of two" in memory.tp_problem(QWEN2_7B, 6)


def test_per_gpu_memory_plan_splits_weights_and_kv_heads() -> None:
    free, weights = 80 * memory.GiB, memory.weight_bytes(QWEN2_7B, "fp16")
    one = memory.plan_kv_cache(QWEN2_7B, free_bytes=free, weights=weights, cache_max_entry_count=0.5,
                               session_len=4096)
    two = memory.plan_kv_cache(QWEN2_7B, free_bytes=free, weights=weights, cache_max_entry_count=0.5,
                               session_len=4096, tp=2)
    assert two.tp == 2 and two.weights == -(-weights // 2)
    assert two.bytes_per_token == one.bytes_per_token / 2  # 2 of the 4 KV heads on each GPU
    # Each GPU has more room after its half of the weights, and each token costs it half: more than twice the tokens.
    assert two.tokens > 2 * one.tokens
    assert memory.kv_bytes_per_token(QWEN_05B, tp=2) == 2 * 24 * 1 * 64 * 2
    assert memory.kv_bytes_per_token(FEW_KV, tp=8) == 2 * 32 * 1 * 128 * 2  # repeated KV head: one per GPU
    with pytest.raises(SettingsError, match="attention heads"):
        memory.plan_kv_cache(QWEN_05B, free_bytes=free, weights=0, cache_max_entry_count=0.5, session_len=4096, tp=4)


def test_lmdeploy_backend_checks_the_models_heads_first(tiny_model_dir) -> None:
    from engine.lmdeploy_backend import _tp_problem

    heads = json.loads((tiny_model_dir / "config.json").read_text())["num_attention_heads"]
    assert _tp_problem(tiny_model_dir, 2) is None
    assert f"{heads} attention heads" in _tp_problem(tiny_model_dir, 8)


def test_nvlink_multicast_is_switched_off_before_lmdeploy_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine import lmdeploy_api

    for name in lmdeploy_api.MULTICAST_OFF:
        monkeypatch.setenv(name, "1" if name == "NCCL_NVLS_ENABLE" else "0")
    lmdeploy_api.disable_nvlink_multicast()
    assert {name: os.environ[name] for name in lmdeploy_api.MULTICAST_OFF} == {
        "NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}


def test_the_teachers_memory_readout_is_per_gpu_with_tp(tiny_model_dir) -> None:
    from engine.catalog import load_catalog
    from ui.engine_panel import memory_readout

    catalog = load_catalog()
    one = memory_readout(EngineSettings(model=str(tiny_model_dir)), catalog)
    two = memory_readout(EngineSettings(model=str(tiny_model_dir), tp=2), catalog)
    assert "each of" not in one and "tensor parallel over 2 GPUs" in two
    assert "KV cache per token (each of 2 GPUs)" in two and "× 1 KV heads" in two  # 2 KV heads, one per GPU
    assert "attention heads" in memory_readout(EngineSettings(model=str(tiny_model_dir), tp=8), catalog)
