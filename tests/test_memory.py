"""The memory calculator: the tutorial's KV-cache example, lmdeploy's cache ratio, blocks, sessions, weights."""

from __future__ import annotations

import json

import pytest

from engine.errors import SettingsError
from engine.memory import (
    GB,
    GiB,
    ModelShape,
    format_bytes,
    kv_bytes_per_token,
    kv_cache_bytes,
    minimum_gpu_bytes,
    param_count,
    plan_kv_cache,
    weight_bytes,
)

# The tutorial's 20B model: 60 layers, hidden 5120, full multi-head attention (40 heads of 128, all K/V heads).
TUTORIAL_20B = ModelShape(
    layers=60, hidden=5120, attention_heads=40, kv_heads=40, head_dim=128, intermediate=13824, vocab=103168
)
QWEN_05B = ModelShape(24, 896, 14, 2, 64, 4864, 151936, tie_embeddings=True, qkv_bias=True)


def test_tutorial_kv_cache_example():
    """Batch 16, 512 prompt + 32 generated tokens, fp16: 2*2*60*5120*16*544 bytes.

    That is 10.70 GB (10^9) = 9.96 GiB (2^30). The tutorial's "about 10.3 GB" sits between the two (within 4%
    of either), so it is an approximation; what we assert is the exact formula and "about 10 GB" in both units.
    """
    kv = kv_cache_bytes(TUTORIAL_20B, batch=16, prompt_tokens=512, generated_tokens=32)
    assert kv == 2 * 2 * 60 * 5120 * 16 * (512 + 32) == 10_695_475_200
    assert kv / GB == pytest.approx(10.70, abs=0.01)
    assert kv / GiB == pytest.approx(9.96, abs=0.01)
    assert kv / GB == pytest.approx(10.3, rel=0.05) and kv / GiB == pytest.approx(10.3, rel=0.05)


def test_grouped_query_attention_shrinks_the_cache_by_the_group_factor():
    gqa = ModelShape(60, 5120, 40, 8, 128, 13824, 103168)
    assert kv_bytes_per_token(TUTORIAL_20B) / kv_bytes_per_token(gqa) == 5
    assert kv_bytes_per_token(QWEN_05B) == 2 * 24 * 2 * 64 * 2 == 12288
    assert kv_bytes_per_token(QWEN_05B, bytes_per_value=1.0) == 6144  # lmdeploy quant_policy=8 (int8 KV)


def test_shape_from_a_real_config_dict():
    config = {  # Qwen2.5-Math-1.5B-Instruct's config.json, the fields that matter
        "model_type": "qwen2", "hidden_size": 1536, "intermediate_size": 8960, "num_attention_heads": 12,
        "num_hidden_layers": 28, "num_key_value_heads": 2, "tie_word_embeddings": True, "vocab_size": 151936,
    }
    shape = ModelShape.from_hf_config(json.loads(json.dumps(config)))
    assert shape == ModelShape(28, 1536, 12, 2, 128, 8960, 151936, tie_embeddings=True, qkv_bias=True)
    assert param_count(shape) == pytest.approx(1.544e9, rel=0.005)
    internlm = {"model_type": "internlm2", "hidden_size": 2048, "intermediate_size": 8192, "bias": False,
                "num_attention_heads": 16, "num_hidden_layers": 24, "num_key_value_heads": 8, "vocab_size": 92544}
    assert ModelShape.from_hf_config(internlm).qkv_bias is False
    assert ModelShape.from_hf_config({"text_config": config}).layers == 28


def test_w4a16_weights_are_about_a_quarter_plus_the_16_bit_parts():
    fp16, w4 = weight_bytes(QWEN_05B, "fp16"), weight_bytes(QWEN_05B, "w4a16")
    assert fp16 == 2 * param_count(QWEN_05B)
    embed = 151936 * 896 * 2  # tied embeddings stay fp16: over half of this small model's W4A16 size
    linears = 24 * (896 * 896 * 2 + 896 * 128 * 2 + 3 * 896 * 4864)
    assert w4 - embed == pytest.approx(linears * (0.5 + 2.5 / 128), rel=0.01)
    # A smaller group costs more scales and zeros.
    assert weight_bytes(QWEN_05B, "w4a16", group_size=64) > w4
    with pytest.raises(SettingsError, match="weight format"):
        weight_bytes(QWEN_05B, "int3")


def test_plan_follows_lmdeploys_meaning_of_the_cache_ratio():
    """cache_max_entry_count is the fraction of memory left free AFTER the weights that the KV cache takes."""
    free, weights = 20 * GiB, 4 * GiB
    plan = plan_kv_cache(QWEN_05B, free_bytes=free, weights=weights, cache_max_entry_count=0.5, session_len=4096)
    assert plan.free_after_weights == 16 * GiB
    assert plan.kv_cache <= 8 * GiB < plan.kv_cache + plan.block_size * plan.bytes_per_token  # whole blocks
    assert plan.blocks == int(8 * GiB // (64 * 12288))
    assert plan.tokens == plan.blocks * 64
    assert plan.sessions == plan.blocks // (4096 // 64)
    assert plan.left_free == plan.free_after_weights - plan.kv_cache
    bigger = plan_kv_cache(QWEN_05B, free_bytes=free, weights=weights, cache_max_entry_count=0.9, session_len=4096)
    assert bigger.blocks > plan.blocks and bigger.left_free < plan.left_free


def test_plan_when_the_weights_do_not_fit():
    plan = plan_kv_cache(QWEN_05B, free_bytes=GiB, weights=2 * GiB, cache_max_entry_count=0.5, session_len=4096)
    assert (plan.free_after_weights, plan.blocks, plan.tokens, plan.sessions) == (0, 0, 0, 0)


def test_a_partial_block_counts_as_a_whole_one_for_a_session():
    plan = plan_kv_cache(
        QWEN_05B, free_bytes=10 * 65 * 12288 * 2, weights=0, cache_max_entry_count=0.5, session_len=65
    )
    assert plan.blocks == 10 and plan.sessions == 5  # a 65-token session needs 2 blocks of 64


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.5])
def test_invalid_ratio_is_refused(ratio):
    with pytest.raises(SettingsError, match="cache_max_entry_count"):
        plan_kv_cache(QWEN_05B, free_bytes=GiB, weights=0, cache_max_entry_count=ratio, session_len=1024)


def test_minimum_gpu_memory_and_formatting():
    need = minimum_gpu_bytes(QWEN_05B, "w4a16")
    assert need == pytest.approx(weight_bytes(QWEN_05B, "w4a16") + GiB + 2 * 12288 * 4096, abs=1)
    assert format_bytes(1.5 * GiB) == "1.50 GiB" and format_bytes(2 * GB, "GB") == "2.00 GB"


def test_invalid_shapes_are_refused():
    with pytest.raises(ValueError, match="multiple of kv_heads"):
        ModelShape(2, 128, 4, 3, 32, 256, 512)
    with pytest.raises(ValueError, match="layers must be positive"):
        ModelShape(0, 128, 4, 2, 32, 256, 512)


@pytest.mark.model
def test_weight_arithmetic_is_exact_for_the_real_default_checkpoint():
    """The converted offline default (bf16 safetensors): its tensors add up to weight_bytes(shape, "fp16")."""
    import math

    from safetensors import safe_open

    from engine.default_model import ensure_default_model

    folder = ensure_default_model()
    shape = ModelShape.from_hf_config(json.loads((folder / "config.json").read_text()))
    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        stored = sum(2 * math.prod(weights.get_slice(name).get_shape()) for name in weights.keys())
    assert stored == weight_bytes(shape, "fp16")  # 1,260,334,848 bytes: lm_head is stored untied here
