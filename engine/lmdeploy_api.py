"""The only module that imports lmdeploy (pinned to 0.18.0; its Python API changed in 0.16 and 0.18).

Everything else calls the small functions here, so an lmdeploy upgrade touches one file. Two sections:
serving (pipelines and generation configs, used by ``engine.lmdeploy_backend``) and quantization
(``lite`` AWQ, used by ``engine.quantize``). lmdeploy is imported inside the functions, never at module import.
"""

from __future__ import annotations

# ---- serving -------------------------------------------------------------------------------------------------
# Used by engine.lmdeploy_backend. Only the standard library at module level: lmdeploy (and torch with it) is
# imported inside each function, so importing this module on a machine without lmdeploy costs nothing.
import asyncio
import concurrent.futures
import json
import os
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.base import GenParams, Message
from engine.errors import EngineLoadError
from engine.settings import EngineSettings

LMDEPLOY_VERSION = "0.18.0"
TURBOMIND, PYTORCH = "turbomind", "pytorch"


@dataclass(frozen=True)
class StreamOut:
    """One step of lmdeploy's output: new text and new tokens since the last step; the last has a finish reason."""

    text: str
    tokens: int
    finish_reason: str | None = None  # "stop" | "length" | "abort" | "error"
    error: str | None = None


@dataclass(frozen=True)
class KVCacheFigures:
    """What lmdeploy tells about its KV cache once the engine is up (None where the backend does not say)."""

    ratio: float  # cache_max_entry_count: the share of free GPU memory (after the weights) given to the cache
    block_tokens: int  # tokens per cache block
    blocks: int | None  # GPU cache blocks (the PyTorch engine reports them; TurboMind does not)
    bytes_per_token: int | None  # K and V over all layers, from the model's config and the cache dtype
    capacity_tokens: int | None  # blocks * block_tokens


def lmdeploy_version() -> str:
    import lmdeploy

    return str(lmdeploy.__version__)


def _config_json(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise EngineLoadError(f"{path} is missing or not valid JSON ({err}): point --model at a model folder.") from err


def quant_method(model_dir: Path) -> str | None:
    """The checkpoint's ``quantization_config.quant_method`` ("awq", "gptq", ...), or None for plain weights."""
    config = _config_json(model_dir)
    for holder in (config, config.get("text_config") or {}, config.get("llm_config") or {}):
        quant = holder.get("quantization_config")
        if isinstance(quant, dict) and quant.get("quant_method"):
            return str(quant["quant_method"]).lower()
    return None


def is_awq_checkpoint(model_dir: Path) -> bool:
    return quant_method(model_dir) == "awq"


def resolve_model_format(model_dir: Path, requested: str) -> str:
    """``"awq"`` or ``"hf"`` for this checkpoint; ``requested`` is the setting (auto, hf, awq). Mismatch -> error."""
    method = quant_method(model_dir)
    if requested == "auto":
        if method not in (None, "awq"):
            raise EngineLoadError(
                f"{model_dir} is quantized with {method!r}; this app serves fp16/bf16 and AWQ W4A16 checkpoints. "
                "Point --model at one of those (make AWQ with `python app.py quantize`)."
            )
        return "awq" if method == "awq" else "hf"
    if requested == "awq" and method != "awq":
        raise EngineLoadError(
            f"--model-format awq needs an AWQ checkpoint, but {model_dir}/config.json has no "
            "quantization_config with quant_method 'awq'. Quantize it with `python app.py quantize`, "
            "or use --model-format hf (or auto)."
        )
    if requested == "hf" and method is not None:
        raise EngineLoadError(
            f"{model_dir} is a {method.upper()} checkpoint, not plain fp16/bf16 weights: "
            f"use --model-format {method if method == 'awq' else 'auto'} (or auto)."
        )
    return requested


def turbomind_available() -> bool:
    """Whether TurboMind's native module loads here (it needs the CUDA driver, so never on a CPU-only machine)."""
    from lmdeploy import turbomind

    return turbomind.is_available()


def turbomind_supports_model(model_dir: Path, *, trust_remote_code: bool = False) -> bool:
    """Whether TurboMind supports this architecture and format (independent of whether TurboMind loads here)."""
    from lmdeploy.turbomind.supported_models import is_supported

    return bool(is_supported(str(model_dir), trust_remote_code=trust_remote_code))


def build_backend_config(settings: EngineSettings, model_format: str, *, turbomind: bool) -> Any:
    """A ``TurbomindEngineConfig`` (``turbomind=True``) or ``PytorchEngineConfig`` from the settings.

    ``model_format`` is the resolved one ("awq" or "hf"). TurboMind takes it as ``model_format``; the PyTorch engine
    reads AWQ from the checkpoint's config.json and only accepts ``model_format='fp8'``, so it gets None.
    Metrics are off: they need prometheus_client and this app does not export them.
    """
    from lmdeploy import PytorchEngineConfig, TurbomindEngineConfig

    common = dict(
        tp=settings.tp,
        session_len=settings.session_len,
        max_batch_size=settings.max_batch_size,
        cache_max_entry_count=settings.cache_max_entry_count,
        enable_metrics=False,
    )
    if turbomind:
        return TurbomindEngineConfig(model_format=model_format, **common)
    # tp > 1 on the PyTorch engine: worker processes through multiprocessing ("mp"), since ray is not installed.
    return PytorchEngineConfig(distributed_executor_backend="mp" if settings.tp > 1 else None, **common)


def backend_kind(config: Any) -> str:
    from lmdeploy import TurbomindEngineConfig

    return TURBOMIND if isinstance(config, TurbomindEngineConfig) else PYTORCH


def chat_template_config(model_dir: Path, *, trust_remote_code: bool = False) -> Any | None:
    """lmdeploy's "hf" template (the tokenizer's own ``chat_template``), or None to let lmdeploy pick one.

    Named explicitly because lmdeploy otherwise matches templates by folder name, and a folder name is not a model.
    """
    from lmdeploy import ChatTemplateConfig
    from lmdeploy.model import HFChatTemplate

    if HFChatTemplate.match(str(model_dir), trust_remote_code=trust_remote_code):
        return ChatTemplateConfig(model_name="hf", model_path=str(model_dir))
    return None


def render_prompt(model_dir: Path, messages: Sequence[Message], *, trust_remote_code: bool = False) -> str:
    """The prompt text lmdeploy builds from ``messages`` (for tests and debugging; needs no GPU)."""
    from lmdeploy.model import get_chat_template

    template = get_chat_template(str(model_dir), chat_template_config(model_dir, trust_remote_code=trust_remote_code),
                                 trust_remote_code=trust_remote_code)
    return str(template.messages2prompt([dict(m) for m in messages]))


# NVLink multicast (NVLS) stays off for multi-GPU runs: the lent GPU hosts do not support it reliably, and NCCL,
# torch's symmetric memory and NVSHMEM each have their own switch. Set in os.environ before lmdeploy starts, so the
# processes it spawns (PyTorch engine workers with tp > 1) inherit them.
MULTICAST_OFF = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}


def disable_nvlink_multicast() -> None:
    os.environ.update(MULTICAST_OFF)


def create_pipeline(model_dir: Path, backend_config: Any, *, trust_remote_code: bool = False) -> Any:
    """Start the engine (weights to the GPU, KV cache allocated) and return lmdeploy's ``Pipeline``.

    The pipeline owns an asyncio event loop in a daemon thread of its own, and its AsyncEngine is bound to that
    loop (see :func:`engine_loop`). Call from code under ``if __name__ == "__main__":``: with tp > 1 the PyTorch
    engine starts worker processes (which inherit :data:`MULTICAST_OFF`).
    """
    disable_nvlink_multicast()
    from lmdeploy import pipeline

    return pipeline(
        str(model_dir),
        backend_config=backend_config,
        chat_template_config=chat_template_config(model_dir, trust_remote_code=trust_remote_code),
        trust_remote_code=trust_remote_code,
        log_level="WARNING",
    )


def engine_loop(pipe: Any) -> asyncio.AbstractEventLoop:
    """The event loop (in lmdeploy's own thread) that every coroutine on this pipeline's engine must run on."""
    return pipe.internal_thread.loop


def submit(pipe: Any, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
    """Run ``coro`` on the pipeline's loop from any thread; cancelling the returned future cancels its task."""
    return asyncio.run_coroutine_threadsafe(coro, engine_loop(pipe))


def resolved_dtype(pipe: Any) -> str:
    """The weights' compute dtype the engine chose: "float16" or "bfloat16" ("auto" resolved from the config)."""
    dtype = str(getattr(pipe.backend_config, "dtype", "auto"))
    if dtype in ("float16", "bfloat16"):
        return dtype
    hf_cfg = pipe.async_engine.hf_cfg
    torch_dtype = str(getattr(hf_cfg, "dtype", None) or getattr(hf_cfg, "torch_dtype", None) or "float16")
    return "bfloat16" if "bfloat16" in torch_dtype else "float16"  # lmdeploy's "auto": fp32/fp16 -> fp16


def generation_config(params: GenParams, *, ignore_eos: bool = False) -> Any:
    """lmdeploy's ``GenerationConfig`` for one request. Temperature 0 means greedy decoding.

    ``ignore_eos`` (benchmarks and tests) generates exactly ``max_new_tokens``: ``min_new_tokens`` as well, because
    TurboMind still receives the end ids and only ``min_new_tokens`` is sure to hold them back.
    """
    from lmdeploy import GenerationConfig

    sample = params.temperature > 0
    return GenerationConfig(
        max_new_tokens=params.max_new_tokens,
        do_sample=sample,
        temperature=params.temperature if sample else 1.0,
        top_p=params.top_p if sample else 1.0,
        random_seed=params.seed,
        ignore_eos=ignore_eos,
        min_new_tokens=params.max_new_tokens if ignore_eos else None,
    )


def new_session(pipe: Any) -> Any:
    """A fresh lmdeploy ``Session`` (integer ``session_id``). Call on the engine loop."""
    return pipe.session_mgr.get()


async def generate(pipe: Any, session: Any, messages: Sequence[Message], gen_config: Any) -> AsyncIterator[StreamOut]:
    """Stream one reply for ``session`` through the model's chat template. Run on the engine loop.

    Request errors lmdeploy reports (prompt longer than ``session_len``, engine failure) end the stream with an
    ``"error"`` step; cancelling the task running this aborts the request inside the engine (lmdeploy catches the
    cancellation in ``safe_run``/``async_stream_infer`` and cancels the TurboMind or PyTorch request).
    """
    from lmdeploy.serve.core.exceptions import ErrorCode, RequestError

    engine = pipe.async_engine
    done = 0
    try:
        request = await engine.preprocess(messages=[dict(m) for m in messages], session_id=session,
                                          gen_config=gen_config)
        async for out in engine.generate(request, stream_response=True):
            new_tokens, done = max(0, out.generate_token_len - done), max(done, out.generate_token_len)
            yield StreamOut(out.response or "", new_tokens, out.finish_reason)
    except RequestError as err:
        if err.code == ErrorCode.CONTEXT_LENGTH_EXCEEDED:
            message = (f"This conversation is longer than the model's context ({engine.session_len} tokens): "
                       "start a new chat, or raise --session-len.")
        else:
            message = f"The model could not answer: {err.message}"
        yield StreamOut("", 0, "error", message)
    finally:
        pipe.session_mgr.remove(session)  # idempotent; covers a request cancelled while it waited for a slot


async def abort_session(session: Any) -> None:
    """Cancel the session's running request inside the engine (no-op if it has not started). Engine loop only."""
    await session.async_abort()


def kv_cache_figures(pipe: Any) -> KVCacheFigures:
    """KV cache figures from the running pipeline's (resolved) backend config and the model's config."""
    cfg = pipe.backend_config
    block_tokens = int(getattr(cfg, "cache_block_seq_len", 0) or getattr(cfg, "block_size", 0) or 0)
    blocks = int(getattr(cfg, "num_gpu_blocks", 0) or 0) or None  # set by the PyTorch engine once it is up
    hf = pipe.async_engine.hf_cfg
    hf = getattr(hf, "text_config", None) or hf
    per_token: int | None = None
    layers, heads = getattr(hf, "num_hidden_layers", None), getattr(hf, "num_attention_heads", None)
    if layers and heads:
        kv_heads = getattr(hf, "num_key_value_heads", None) or heads
        head_dim = getattr(hf, "head_dim", None) or hf.hidden_size // heads
        quant = int(getattr(cfg, "quant_policy", 0) or 0)  # KV quantization: 8 -> int8, 4 -> int4
        per_token = int(2 * layers * kv_heads * head_dim * {8: 1.0, 4: 0.5}.get(quant, 2.0))
    return KVCacheFigures(
        ratio=float(cfg.cache_max_entry_count),
        block_tokens=block_tokens,
        blocks=blocks,
        bytes_per_token=per_token,
        capacity_tokens=blocks * block_tokens if blocks and block_tokens else None,
    )


async def schedule_metrics(pipe: Any) -> dict[str, float]:
    """Live scheduler figures (active and waiting sequences, KV cache usage 0..1). Engine loop only."""
    metrics = await pipe.async_engine.get_schedule_metrics()
    return {
        "active_seqs": float(metrics.active_seqs),
        "waiting_seqs": float(metrics.waiting_seqs),
        "cache_usage": float(metrics.cache_usage),
    }


def close_pipeline(pipe: Any) -> None:
    """Stop the pipeline's loop thread and free the engine (blocking; joins lmdeploy's thread)."""
    pipe.close()


# ---- quantization --------------------------------------------------------------------------------------------
import tempfile  # noqa: E402  (the quantization section's own imports)
import threading  # noqa: E402
from collections.abc import Callable  # noqa: E402

# Used by engine.quantize. Mirrors lmdeploy.lite.apis.auto_awq.auto_awq step by step, with three differences:
# the calibration tokens are passed in (lmdeploy's own loader downloads datasets; ours are prepared offline by
# engine.quantize), progress is reported per decoder layer, and on the CPU the arithmetic runs in fp32.
# lmdeploy lite keeps its activation observers in a process-wide registry: one quantization at a time.
_LITE_LOCK = threading.Lock()


def awq_architectures() -> frozenset[str]:
    """The Hugging Face architectures lmdeploy's AWQ knows how to calibrate and quantize."""
    from lmdeploy.lite.apis.calibrate import LAYER_TYPE_MAP

    return frozenset(LAYER_TYPE_MAP)


def awq_quantize(
    model_dir: Path,
    out_dir: Path,
    calib_tokens: Any,
    *,
    w_bits: int,
    w_group_size: int,
    device: str,
    progress: Callable[[float, str], None],
    search_scale: bool = False,
    batch_size: int = 1,
    trust_remote_code: bool = False,
) -> None:
    """Calibrate on ``calib_tokens`` (a [samples, seqlen] LongTensor), quantize, and save the model to ``out_dir``.

    ``progress(fraction, text)`` runs from 0 to 1 over calibration (0-0.5), smoothing (0.5-0.65), packing
    (0.65-0.9) and saving. On the CPU the model is loaded as fp16 (lmdeploy refuses bf16 without CUDA), processed
    in fp32 and saved as fp16.
    """
    with _LITE_LOCK, tempfile.TemporaryDirectory(prefix="awq-stats-") as scratch:
        _awq(Path(model_dir), Path(out_dir), calib_tokens, w_bits, w_group_size, device, progress, search_scale,
             batch_size, trust_remote_code, Path(scratch))


def _awq(model_dir: Path, out_dir: Path, tokens: Any, w_bits: int, group: int, device: str,
         progress: Callable[[float, str], None], search_scale: bool, batch_size: int, remote: bool,
         scratch: Path) -> None:
    import shutil

    import torch
    from lmdeploy.lite.apis.auto_awq import save_vl_model
    from lmdeploy.lite.apis.calibrate import (
        HEAD_NAME_MAP,
        LAYER_TYPE_MAP,
        NORM_TYPE_MAP,
        _prepare_for_calibrate,
        load_model_and_tokenizer,
        update_moe_mapping,
    )
    from lmdeploy.lite.model import MODELS
    from lmdeploy.lite.quantization import CalibrationContext, CalibrationContextV2
    from lmdeploy.lite.quantization.awq import FC_FCS_MAP, NORM_FCS_MAP, awq_layers, quant_weights, smooth_layers
    from lmdeploy.lite.utils import collect_target_modules

    progress(0.0, "Loading the model for calibration")
    dtype = "float16" if device == "cpu" else "auto"
    arch, vl_model, model, tokenizer, model_type, _ = load_model_and_tokenizer(
        str(model_dir), dtype=dtype, work_dir=str(scratch), trust_remote_code=remote)
    if device == "cpu":
        model.float()  # CPUs lack fast fp16 matmul: calibrating in fp32 was ~5x faster here; saved as fp16
    if model_type == "MixtralForCausalLM":
        update_moe_mapping(model, model_type)
    layer_type = LAYER_TYPE_MAP[model_type]
    _prepare_for_calibrate(model, layer_type, HEAD_NAME_MAP[model_type], device)
    layers = collect_target_modules(model, layer_type)
    n = len(layers)

    def stage(lo: float, hi: float, what: str) -> Callable[[int], None]:
        return lambda i: progress(lo + (hi - lo) * (i + 1) / n, f"{what}: layer {i + 1} of {n}")

    calibrated = stage(0.02, 0.5, f"Calibrating on {tokens.shape[0]} x {tokens.shape[1]} tokens")
    hooks = [layer.register_forward_hook(lambda *_, i=i: calibrated(i)) for i, layer in enumerate(layers.values())]
    context = CalibrationContextV2 if search_scale else CalibrationContext
    ctx = context(model, tokenizer, layer_type=layer_type, norm_type=NORM_TYPE_MAP[model_type], device=device,
                  batch_size=batch_size, w_bits=w_bits, w_group_size=group, search_scale=search_scale)
    try:
        with ctx:
            ctx.calibrate(tokens.to(device))
    finally:
        for hook in hooks:
            hook.remove()
    ctx.export(scratch)
    stats = torch.load(scratch / "inputs_stats.pth", weights_only=True)

    rebuilder = MODELS.get(arch)
    fcs_by_layer = {}
    for name, layer in layers.items():
        if rebuilder:
            rebuilder(layer)
        fcs_by_layer[name] = collect_target_modules(layer, torch.nn.Linear, prefix=name)
    smoothed, packed = stage(0.5, 0.65, "Smoothing"), stage(0.65, 0.9, "Quantizing to int4")
    for i, (name, layer) in enumerate(layers.items()):
        if search_scale:
            awq_layers({name: layer}, FC_FCS_MAP[layer_type], NORM_FCS_MAP[layer_type], stats["absmean"],
                       stats["ratios"], group, device)
        else:
            smooth_layers({name: layer}, FC_FCS_MAP[layer_type], NORM_FCS_MAP[layer_type], stats["absmax"], group,
                          device)
        smoothed(i)
    skipped: list[str] = []
    for i, fcs in enumerate(fcs_by_layer.values()):
        skipped += [s for s in quant_weights(model, fcs, w_bits, False, arch, group, device) if s not in skipped]
        packed(i)

    progress(0.9, f"Saving the W{w_bits}A16 model")
    config = {"quant_method": "awq", "version": "gemm", "bits": w_bits, "group_size": group, "zero_point": True}
    if skipped:
        config["modules_to_not_convert"] = skipped
    model.config.update({"quantization_config": config, "use_cache": True})  # calibration switched the cache off
    if device == "cpu":
        model.half()  # only floating tensors: the packed int32 weights and zeros stay as they are
    if vl_model:
        save_vl_model(vl_model, str(model_dir), str(out_dir))
    else:
        model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    for extra in [*model_dir.glob("*.py"), model_dir / "tokenizer.model"]:  # remote code and sentencepiece files
        if extra.is_file() and not (out_dir / extra.name).exists():
            shutil.copy2(extra, out_dir / extra.name)
    progress(1.0, "Saved")
