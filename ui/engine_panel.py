"""The teacher's engine settings: model, weight format, KV-cache ratio, session length, batch; and the memory readout.

Every action is checked on the server against the teacher gate (``ui.teacher``), whatever the page shows. Apply
rebuilds the engine in-process through :class:`engine.switcher.EngineSwitcher`: replies in flight finish first,
and a model that fails to load leaves the previous engine serving with the error shown. The memory readout is the
arithmetic of ``engine.memory`` on the model's architecture; when the running engine reports live figures of its
own (lmdeploy's ``memory_readout()``: memory taken at load, KV cache capacity and use, replies running), they are
added as rows, reached through ``switcher.current`` without importing lmdeploy. The model picker labels each
catalog model with its cached W4A16 build and gate result; the quantize section (``ui.quantize_panel``) sits in
the panel. Not covered: per-student reply settings (``ui.chat``), quantizing and the quality gate
(``ui.quantize_panel``).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.context import Context

from engine import memory
from engine.catalog import Catalog
from engine.errors import AppError
from engine.settings import CACHE_MAX_ENTRY_COUNT, MAX_BATCH_SIZE, MODEL_FORMATS, SESSION_LEN, EngineSettings
from engine.switcher import EngineSwitcher
from ui.quantize_panel import QuantizeControls, build_quantize_panel, model_value, picker_choices
from ui.teacher import TeacherGate

EXAMPLE_GPU_GIB = 80  # shown when no GPU is visible: the memory readout is then an example for an 80 GiB GPU
LOCKED = ("🔒 Engine settings are locked. Start the app with `TUTOR_TEACHER_PASSWORD` set to change them here, "
          "or use the command-line flags (`python app.py --help`).")
# The running engine's live figures (LmdeployEngine.memory_readout keys) -> (row label, how the number is shown).
REPORTED_ROWS = {
    "gpu_memory_taken_at_load_mib": ("lmdeploy: GPU memory taken at load (weights + KV cache)", "{:,.0f} MiB"),
    "kv_capacity_tokens": ("lmdeploy: KV cache capacity", "{:,.0f} tokens"),
    "kv_bytes_per_token": ("lmdeploy: KV cache per token", "{:,.0f} bytes"),
    "cache_usage": ("lmdeploy: KV cache in use now", "{:.0%}"),
    "active_seqs": ("lmdeploy: replies running now", "{:.0f}"),
    "waiting_seqs": ("lmdeploy: replies waiting now", "{:.0f}"),
    "gpu_memory_used_mib": ("GPU memory in use now (all processes)", "{:,.0f} MiB"),
}


async def reported_figures(engine: object) -> dict[str, str]:
    """The engine's own live memory figures as readout rows; empty for backends that report none."""
    readout = getattr(engine, "memory_readout", None)
    if readout is None:
        return {}
    try:
        figures = await readout()
    except Exception:  # best effort: a readout must never break the panel
        return {}
    rows = {}
    for key, (label, shown) in REPORTED_ROWS.items():
        try:
            rows[label] = shown.format(float(figures[key]))
        except (KeyError, TypeError, ValueError):
            continue
    return rows


def _config(model: str) -> dict[str, Any] | None:
    path = Path(model).expanduser() / "config.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _shape(settings: EngineSettings, catalog: Catalog, config: dict[str, Any] | None) -> memory.ModelShape | None:
    entry = catalog.find(settings.model)
    if entry is not None and entry.shape() is not None:
        return entry.shape()
    return memory.ModelShape.from_hf_config(config) if config else None


def _free_gpu_bytes() -> tuple[int, str]:
    try:
        import torch

        if torch.cuda.is_available():
            free, total = torch.cuda.mem_get_info()
            return free, f"{torch.cuda.get_device_name()} (now {memory.format_bytes(free)} free)"
    except Exception:  # no torch or no driver: fall back to the example
        pass
    return EXAMPLE_GPU_GIB * memory.GiB, f"example: an empty {EXAMPLE_GPU_GIB} GiB GPU (none visible here)"


def memory_readout(settings: EngineSettings, catalog: Catalog, reported: dict[str, str] | None = None) -> str:
    """A Markdown table: weights in both formats, KV cache per token, and what fits at the chosen ratio."""
    config = _config(settings.model)  # read once: the architecture and whether the folder holds AWQ weights
    shape = _shape(settings, catalog, config)
    if shape is None:
        return "Memory readout: the model's architecture is unknown (no catalog entry and no config.json)."
    awq_folder = ((config or {}).get("quantization_config") or {}).get("quant_method") == "awq"
    fmt = "w4a16" if settings.model_format == "awq" or awq_folder else "fp16"
    weights = memory.weight_bytes(shape, fmt)
    free, gpu = _free_gpu_bytes()
    tp = settings.tp
    problem = memory.tp_problem(shape, tp)
    if problem:
        return f"Memory readout: {problem}"
    plan = memory.plan_kv_cache(shape, free_bytes=free, weights=weights, tp=tp,
                                cache_max_entry_count=settings.cache_max_entry_count, session_len=settings.session_len)
    each = f" (each of {tp} GPUs)" if tp > 1 else ""  # with tensor parallelism the byte figures are per GPU
    rows = [
        ("GPU", gpu + (f"; tensor parallel over {tp} GPUs" if tp > 1 else "")),
        ("Weights fp16 / W4A16" + each, f"{memory.format_bytes(memory.weight_bytes(shape, 'fp16') / tp)} / "
                                        f"{memory.format_bytes(memory.weight_bytes(shape, 'w4a16') / tp)}"),
        ("KV cache per token" + each,
         f"{plan.bytes_per_token / 1024:.0f} KiB (2 × {shape.layers} layers × {memory.kv_heads_per_gpu(shape, tp)} "
         f"KV heads × {shape.head_dim} head dim × 2 bytes)"),
        (f"KV cache at ratio {settings.cache_max_entry_count:g}" + each,
         f"{memory.format_bytes(plan.kv_cache)} in {plan.blocks:,} blocks of {plan.block_size} tokens"),
        ("Fits", f"{plan.tokens:,} tokens = {plan.sessions:,} full sessions of {settings.session_len:,} tokens"),
        ("Left free" + each, memory.format_bytes(plan.left_free)),
    ]
    rows += list((reported or {}).items())
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


class EngineControls:
    """Handlers of the engine panel (plain async functions; the gate is checked in each)."""

    def __init__(self, switcher: EngineSwitcher, gate: TeacherGate, catalog: Catalog) -> None:
        self.switcher, self.gate, self.catalog = switcher, gate, catalog

    async def unlock(self, password: str) -> tuple[bool, str, Any]:
        ok = await self.gate.check(password)
        message = "Unlocked for this browser tab." if ok else "Wrong password."
        return ok, message, gr.update(value="")

    async def apply(self, unlocked: bool, model: str, custom: str, model_format: str, ratio: float,
                    session_len: float, max_batch: float, progress: gr.Progress = gr.Progress()) -> tuple[str, str, str]:
        if not (self.gate.enabled and unlocked):
            return LOCKED, self._status(), await self.live_readout()
        try:
            settings = EngineSettings(
                backend=self.switcher.settings.backend, model=model_value(self.catalog, model, custom),
                model_format=model_format, device=self.switcher.settings.device, cache_max_entry_count=float(ratio),
                session_len=int(session_len), max_batch_size=int(max_batch), tp=self.switcher.settings.tp,
            )
        except AppError as err:
            return f"⚠️ {err} The previous model keeps serving.", self._status(), await self.live_readout()
        return await self.switch_to(settings, lambda f, text: progress(f, desc=text))

    async def switch_to(self, settings: EngineSettings, progress: Any = None) -> tuple[str, str, str]:
        """Move to ``settings`` (callers check the gate first). -> (message, status line, memory readout)."""
        try:
            info = await self.switcher.switch(settings, progress=progress)
        except AppError as err:
            return f"⚠️ {err} The previous model keeps serving.", self._status(), await self.live_readout()
        return f"✅ Now serving {info.model} ({info.weight_format}).", self._status(), await self.live_readout()

    def _status(self) -> str:
        return f"**Running:** {self.switcher.info.status_line()}"

    async def live_readout(self) -> str:
        """The readout for the running engine, with the engine's own live figures where it reports them."""
        live = await reported_figures(self.switcher.current)
        # In a thread: it may import torch and ask the GPU for its free memory, and it runs on every page load.
        return await asyncio.to_thread(memory_readout, self.switcher.settings, self.catalog, live)

    async def refresh(self) -> tuple[Any, str]:
        """On page load: the picker's labels (builds cached since the page was built) and the live readout."""
        choices = await asyncio.to_thread(picker_choices, self.catalog)  # reads the quantize cache's folders
        return gr.update(choices=choices), await self.live_readout()

    async def preview(self, model: str, custom: str, model_format: str, ratio: float, session_len: float,
                      unlocked: bool = False) -> str:
        if model == "custom" and not (self.gate.enabled and unlocked):
            # A custom folder's config.json is read only for the teacher: a student's tab must not probe the disk.
            return "Unlock with the teacher password to see the memory readout of a custom model."
        try:
            settings = EngineSettings(model=model_value(self.catalog, model, custom) or "default",
                                      model_format=model_format, cache_max_entry_count=float(ratio),
                                      session_len=int(session_len), tp=self.switcher.settings.tp)
        except AppError as err:
            return f"⚠️ {err}"
        cur = self.switcher.settings
        running = (settings.model, settings.model_format, settings.cache_max_entry_count, settings.session_len) == (
            cur.model, cur.model_format, cur.cache_max_entry_count, cur.session_len)
        live = await reported_figures(self.switcher.current) if running else None
        return memory_readout(settings, self.catalog, live)


def build_engine_panel(switcher: EngineSwitcher, gate: TeacherGate, catalog: Catalog, status: gr.Markdown,
                       *, has_gpu: bool | None = None) -> EngineControls:
    """Add the panel (with the quantize section) to the Blocks being built."""
    controls = EngineControls(switcher, gate, catalog)
    current = switcher.settings
    entry = catalog.find(current.model)
    if has_gpu is None:
        from engine.factory import cuda_available

        has_gpu = cuda_available()
    with gr.Accordion("Engine settings (teacher)", open=False, elem_id="engine-panel"):
        unlocked = gr.State(False)
        message = gr.Markdown(LOCKED if not gate.enabled else "Enter the teacher password to change the engine.")
        with gr.Row(visible=gate.enabled):
            password = gr.Textbox(type="password", label="Teacher password", scale=3, elem_id="teacher-password")
            unlock = gr.Button("Unlock", scale=1, elem_id="unlock")
        model = gr.Dropdown(picker_choices(catalog), value=entry.id if entry else "custom", label="Model",
                            interactive=gate.enabled, elem_id="model-picker")
        custom = gr.Textbox(value="" if entry else current.model, label="Custom model: a local folder or a hub id",
                            interactive=gate.enabled)
        model_format = gr.Radio(list(MODEL_FORMATS), value=current.model_format, interactive=gate.enabled,
                                label="Weight format: hf = fp16/bf16, awq = 4-bit W4A16, auto = read the checkpoint")
        ratio = gr.Slider(CACHE_MAX_ENTRY_COUNT.lo, CACHE_MAX_ENTRY_COUNT.hi, current.cache_max_entry_count,
                          step=CACHE_MAX_ENTRY_COUNT.step, interactive=gate.enabled,
                          label="KV-cache ratio (cache_max_entry_count): the share of GPU memory left free after "
                                "the weights that the KV cache takes")
        session_len = gr.Slider(SESSION_LEN.lo, 32768, current.session_len, step=SESSION_LEN.step,
                                interactive=gate.enabled, label="Session length (tokens)")
        max_batch = gr.Slider(MAX_BATCH_SIZE.lo, 256, current.max_batch_size, step=1, interactive=gate.enabled,
                              label="Maximum batch (concurrent replies on the GPU)")
        apply = gr.Button("Apply (rebuilds the engine)", variant="primary", interactive=gate.enabled,
                          elem_id="apply-engine")
        readout = gr.Markdown(memory_readout(current, catalog), elem_id="memory-readout")
        # The switcher's own factory (the one app.py gave it) builds the quality gate's engines.
        quantize = QuantizeControls(switcher, gate, catalog, switcher.factory, controls.switch_to,
                                    locked_message=LOCKED)
        build_quantize_panel(quantize, unlocked=unlocked, model=model, custom=custom, status=status, readout=readout,
                             has_gpu=has_gpu)
        unlock.click(controls.unlock, [password], [unlocked, message, password], api_visibility="private")
        apply.click(controls.apply, [unlocked, model, custom, model_format, ratio, session_len, max_batch],
                    [message, status, readout], concurrency_limit=1, api_visibility="private")
        for control in (model, custom, model_format, ratio, session_len):
            control.change(controls.preview, [model, custom, model_format, ratio, session_len, unlocked], [readout],
                           api_visibility="private")
    Context.root_block.load(controls.refresh, None, [model, readout], queue=False, api_visibility="private")
    return controls
