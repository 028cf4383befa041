"""GPU memory arithmetic for serving a decoder-only transformer: weights, KV cache, blocks, sessions.

Pure functions of a :class:`ModelShape` (read from a catalog entry or a model's ``config.json``); nothing here
touches a GPU. The KV cache follows the usual formula, per token::

    2 (K and V) x layers x KV heads x head dim x bytes per value

and lmdeploy's meaning of ``cache_max_entry_count``: the fraction of the GPU memory that is still free *after
the weights are loaded* that the KV cache takes (lmdeploy > 0.2.1). The cache is carved into blocks of
``block_size`` tokens (TurboMind's ``cache_block_seq_len`` and the PyTorch engine's ``block_size``, both 64).

Tensor parallelism (``tp`` GPUs, lmdeploy ``--tp``): each GPU holds 1/tp of the weights (linear layers, embedding
and LM head are split; norms are tiny) and the KV cache of its share of the KV heads; when there are fewer KV heads
than GPUs, lmdeploy repeats them, so each GPU holds one. Every figure of a plan with ``tp > 1`` is per GPU, except
``tokens`` and ``sessions``, which are the whole engine's (each token's KV is spread over the GPUs).

Not covered: measuring memory (the lmdeploy backend reports lmdeploy's own figures where it has them), and
activation/workspace memory, which is folded into one rough ``RUNTIME_OVERHEAD`` for the catalog's minimum.
Units: bytes everywhere; ``GiB`` (2**30) and ``GB`` (10**9) are given for display, and callers say which.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from engine.errors import SettingsError

GiB = 1 << 30
GB = 10**9
WeightFormat = Literal["fp16", "w4a16"]
WEIGHT_FORMATS: tuple[str, ...] = ("fp16", "w4a16")
# Bytes per KV-cache element: fp16/bf16, or lmdeploy's quantized KV cache (quant_policy 8 -> int8, 4 -> int4).
KV_BYTES = {"fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
DEFAULT_BLOCK_SIZE = 64
DEFAULT_GROUP_SIZE = 128
RUNTIME_OVERHEAD = 1 * GiB  # CUDA context, kernels' workspace and activations: a rough allowance, not a measurement


@dataclass(frozen=True)
class ModelShape:
    """The architecture figures the memory arithmetic needs (names as in a Hugging Face ``config.json``)."""

    layers: int
    hidden: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tie_embeddings: bool = False
    qkv_bias: bool = False

    def __post_init__(self) -> None:
        for name in ("layers", "hidden", "attention_heads", "kv_heads", "head_dim", "intermediate", "vocab"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive (got {getattr(self, name)}).")
        if self.attention_heads % self.kv_heads:
            raise ValueError(
                f"attention_heads ({self.attention_heads}) must be a multiple of kv_heads ({self.kv_heads})."
            )

    @classmethod
    def from_hf_config(cls, config: Mapping[str, Any]) -> ModelShape:
        """Read a ``config.json`` dict (Qwen2, Llama, InternLM2 and alike; multimodal ones via ``text_config``)."""
        cfg = config.get("text_config") or config
        heads = int(cfg["num_attention_heads"])
        hidden = int(cfg["hidden_size"])
        qkv_bias = cfg.get("model_type") == "qwen2" or bool(cfg.get("attention_bias", cfg.get("bias", False)))
        return cls(
            layers=int(cfg["num_hidden_layers"]),
            hidden=hidden,
            attention_heads=heads,
            kv_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=int(cfg.get("head_dim") or hidden // heads),
            intermediate=int(cfg["intermediate_size"]),
            vocab=int(cfg["vocab_size"]),
            tie_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            qkv_bias=qkv_bias,
        )

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in_features, out_features) of each linear layer in one decoder layer (the ones AWQ quantizes)."""
        q_out, kv_out = self.attention_heads * self.head_dim, self.kv_heads * self.head_dim
        return {
            "q_proj": (self.hidden, q_out),
            "k_proj": (self.hidden, kv_out),
            "v_proj": (self.hidden, kv_out),
            "o_proj": (q_out, self.hidden),
            "gate_proj": (self.hidden, self.intermediate),
            "up_proj": (self.hidden, self.intermediate),
            "down_proj": (self.intermediate, self.hidden),
        }


def _linear_weights_per_layer(shape: ModelShape) -> int:
    return sum(i * o for i, o in shape.linear_shapes().values())


def _other_params(shape: ModelShape) -> int:
    """Everything that stays in 16 bits after W4A16: embeddings, LM head, biases and norms."""
    embed = shape.vocab * shape.hidden
    head = 0 if shape.tie_embeddings else embed
    bias = (shape.attention_heads + 2 * shape.kv_heads) * shape.head_dim if shape.qkv_bias else 0
    norms = 2 * shape.hidden
    return embed + head + shape.layers * (bias + norms) + shape.hidden  # + the final norm


def param_count(shape: ModelShape) -> int:
    return shape.layers * _linear_weights_per_layer(shape) + _other_params(shape)


def weight_bytes(shape: ModelShape, fmt: str = "fp16", *, group_size: int = DEFAULT_GROUP_SIZE) -> int:
    """Bytes of weights in GPU memory: fp16 (2 bytes each), or AWQ W4A16 as lmdeploy writes it.

    W4A16: each decoder-layer linear weight takes 4 bits, plus, per group of ``group_size`` input rows, an fp16
    scale and a 4-bit zero point per output column; embeddings, LM head, biases and norms stay fp16.
    """
    if fmt == "fp16":
        return 2 * param_count(shape)
    if fmt == "w4a16":
        quantized = shape.layers * _linear_weights_per_layer(shape)
        per_weight = 0.5 + (2 + 0.5) / group_size
        return math.ceil(quantized * per_weight) + 2 * _other_params(shape)
    raise SettingsError(f"weight format must be one of {', '.join(WEIGHT_FORMATS)} (got {fmt!r}).")


def kv_bytes_per_token(shape: ModelShape, bytes_per_value: float = 2.0, *, tp: int = 1) -> float:
    """2 (K and V) x layers x KV heads x head dim x bytes per value; with ``tp``, on one GPU of ``tp``."""
    return 2 * shape.layers * kv_heads_per_gpu(shape, tp) * shape.head_dim * bytes_per_value


def tp_count_problem(tp: int) -> str | None:
    """Why ``tp`` is not a GPU count lmdeploy splits over (a power of two), or None."""
    if tp < 1 or tp & (tp - 1):
        return f"--tp must be a power of two (1, 2, 4, 8), got {tp}."
    return None


def tp_problem(shape: ModelShape, tp: int) -> str | None:
    """Why this model cannot be split over ``tp`` GPUs (TurboMind's rules), or None when it can."""
    if problem := tp_count_problem(tp):
        return problem
    if shape.attention_heads % tp:
        return (f"--tp {tp} does not divide the model's {shape.attention_heads} attention heads; "
                f"use a --tp that divides {shape.attention_heads}.")
    if shape.kv_heads % tp and tp % shape.kv_heads:
        return f"--tp {tp} and the model's {shape.kv_heads} KV heads do not divide one another."
    return None


def kv_heads_per_gpu(shape: ModelShape, tp: int = 1) -> int:
    """KV heads each GPU stores: its share, or one (repeated) when there are fewer KV heads than GPUs."""
    return max(1, shape.kv_heads // tp)


def kv_cache_bytes(
    shape: ModelShape, *, batch: int, prompt_tokens: int, generated_tokens: int, bytes_per_value: float = 2.0
) -> int:
    """KV cache for ``batch`` sequences of ``prompt_tokens + generated_tokens`` tokens each."""
    return math.ceil(kv_bytes_per_token(shape, bytes_per_value) * batch * (prompt_tokens + generated_tokens))


@dataclass(frozen=True)
class KVCachePlan:
    """What fits: the figures the settings panel shows. All sizes in bytes."""

    free_before_load: int
    weights: int
    free_after_weights: int
    kv_cache: int
    left_free: int
    bytes_per_token: float
    block_size: int
    blocks: int
    tokens: int
    session_len: int
    sessions: int  # sessions of a full ``session_len`` that fit in the cache at once
    tp: int = 1  # GPUs: with tp > 1 the byte figures are per GPU (see the module docstring)


def plan_kv_cache(
    shape: ModelShape,
    *,
    free_bytes: int,
    weights: int,
    cache_max_entry_count: float,
    session_len: int,
    block_size: int = DEFAULT_BLOCK_SIZE,
    bytes_per_value: float = 2.0,
    tp: int = 1,
) -> KVCachePlan:
    """Split ``free_bytes`` (GPU memory free before the model loads) the way lmdeploy does.

    The weights come first; the KV cache then takes ``cache_max_entry_count`` of what is left, in whole blocks.
    With ``tp > 1``, ``free_bytes`` is one GPU's free memory and ``weights`` the whole model's; the plan's byte
    figures are per GPU.
    """
    problem = tp_problem(shape, tp)
    if problem:
        raise SettingsError(problem)
    if not 0 < cache_max_entry_count <= 1:
        raise SettingsError(f"cache_max_entry_count must be above 0 and at most 1 (got {cache_max_entry_count!r}).")
    if session_len <= 0 or block_size <= 0:
        raise SettingsError("session_len and block_size must be positive.")
    weights = math.ceil(weights / tp)
    free_after = max(0, free_bytes - weights)
    per_token = kv_bytes_per_token(shape, bytes_per_value, tp=tp)
    blocks = int(free_after * cache_max_entry_count // (per_token * block_size))
    kv = math.ceil(blocks * block_size * per_token)
    return KVCachePlan(
        free_before_load=free_bytes,
        weights=weights,
        free_after_weights=free_after,
        kv_cache=kv,
        left_free=free_after - kv,
        bytes_per_token=per_token,
        block_size=block_size,
        blocks=blocks,
        tokens=blocks * block_size,
        session_len=session_len,
        sessions=blocks // math.ceil(session_len / block_size),
        tp=tp,
    )


def minimum_gpu_bytes(
    shape: ModelShape,
    fmt: str = "fp16",
    *,
    session_len: int = 4096,
    cache_max_entry_count: float = 0.5,
    overhead: int = RUNTIME_OVERHEAD,
) -> int:
    """GPU memory to serve one full session: weights + overhead + the free memory the KV ratio needs for it."""
    one_session = kv_bytes_per_token(shape) * session_len
    return math.ceil(weight_bytes(shape, fmt) + overhead + one_session / cache_max_entry_count)


def format_bytes(n: float, unit: Literal["GiB", "GB", "MiB"] = "GiB") -> str:
    div = {"GiB": GiB, "GB": GB, "MiB": 1 << 20}[unit]
    return f"{n / div:.2f} {unit}"
