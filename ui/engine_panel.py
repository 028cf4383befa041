"""The teacher's engine settings: model, weight format, KV-cache ratio, session length, batch; and the memory readout.

Every action is checked on the server against the teacher gate (``ui.teacher``), whatever the page shows. Apply
rebuilds the engine in-process through :class:`engine.switcher.EngineSwitcher`: replies in flight finish first,
and a model that fails to load leaves the previous engine serving with the error shown. The memory readout is the
arithmetic of ``engine.memory`` on the model's architecture (lmdeploy's own figures are added where the backend
reports them). Not covered: per-student reply settings (``ui.chat``), quantizing (its own panel).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr

from engine import memory
from engine.catalog import Catalog
from engine.errors import AppError
from engine.settings import CACHE_MAX_ENTRY_COUNT, MAX_BATCH_SIZE, MODEL_FORMATS, SESSION_LEN, EngineSettings
from engine.switcher import EngineSwitcher
from ui.teacher import TeacherGate

EXAMPLE_GPU_GIB = 80  # shown when no GPU is visible: the memory readout is then an example for an 80 GiB GPU
LOCKED = ("🔒 Engine settings are locked. Start the app with `TUTOR_TEACHER_PASSWORD` set to change them here, "
          "or use the command-line flags (`python app.py --help`).")


def _shape(settings: EngineSettings, catalog: Catalog) -> memory.ModelShape | None:
    entry = catalog.find(settings.model)
    if entry is not None and entry.shape() is not None:
        return entry.shape()
    config = Path(settings.model).expanduser() / "config.json"
    if config.is_file():
        return memory.ModelShape.from_hf_config(json.loads(config.read_text()))
    return None


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
    shape = _shape(settings, catalog)
    if shape is None:
        return "Memory readout: the model's architecture is unknown (no catalog entry and no config.json)."
    fmt = "w4a16" if settings.model_format == "awq" else "fp16"
    weights = memory.weight_bytes(shape, fmt)
    free, gpu = _free_gpu_bytes()
    plan = memory.plan_kv_cache(shape, free_bytes=free, weights=weights,
                                cache_max_entry_count=settings.cache_max_entry_count, session_len=settings.session_len)
    rows = [
        ("GPU", gpu),
        ("Weights fp16 / W4A16", f"{memory.format_bytes(memory.weight_bytes(shape, 'fp16'))} / "
                                 f"{memory.format_bytes(memory.weight_bytes(shape, 'w4a16'))}"),
        ("KV cache per token", f"{plan.bytes_per_token / 1024:.0f} KiB (2 × {shape.layers} layers × {shape.kv_heads} "
                               f"KV heads × {shape.head_dim} head dim × 2 bytes)"),
        (f"KV cache at ratio {settings.cache_max_entry_count:g}", f"{memory.format_bytes(plan.kv_cache)} in "
                                                                  f"{plan.blocks:,} blocks of {plan.block_size} tokens"),
        ("Fits", f"{plan.tokens:,} tokens = {plan.sessions:,} full sessions of {settings.session_len:,} tokens"),
        ("Left free", memory.format_bytes(plan.left_free)),
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
        status = f"**Running:** {self.switcher.info.status_line()}"
        if not (self.gate.enabled and unlocked):
            return LOCKED, status, memory_readout(self.switcher.settings, self.catalog)
        try:
            chosen = custom.strip() if model == "custom" else self._model_value(model)
            settings = EngineSettings(
                backend=self.switcher.settings.backend, model=chosen, model_format=model_format,
                device=self.switcher.settings.device, cache_max_entry_count=float(ratio),
                session_len=int(session_len), max_batch_size=int(max_batch), tp=self.switcher.settings.tp,
            )
            info = await self.switcher.switch(settings, progress=lambda f, text: progress(f, desc=text))
        except AppError as err:
            return f"⚠️ {err} The previous model keeps serving.", status, memory_readout(self.switcher.settings,
                                                                                         self.catalog)
        return (f"✅ Now serving {info.model} ({info.weight_format}).", f"**Running:** {info.status_line()}",
                memory_readout(settings, self.catalog))

    def _model_value(self, entry_id: str) -> str:
        entry = self.catalog.get(entry_id)
        return "default" if entry.id == "default" else (entry.huggingface_id or entry.modelscope_id or entry.id)

    def preview(self, model: str, custom: str, model_format: str, ratio: float, session_len: float) -> str:
        try:
            chosen = custom.strip() if model == "custom" else self._model_value(model)
            settings = EngineSettings(model=chosen or "default", model_format=model_format,
                                      cache_max_entry_count=float(ratio), session_len=int(session_len))
        except AppError as err:
            return f"⚠️ {err}"
        return memory_readout(settings, self.catalog)


def build_engine_panel(switcher: EngineSwitcher, gate: TeacherGate, catalog: Catalog, status: gr.Markdown) -> None:
    """Add the panel to the Blocks being built."""
    controls = EngineControls(switcher, gate, catalog)
    current = switcher.settings
    entry = catalog.find(current.model)
    with gr.Accordion("Engine settings (teacher)", open=False, elem_id="engine-panel"):
        unlocked = gr.State(False)
        message = gr.Markdown(LOCKED if not gate.enabled else "Enter the teacher password to change the engine.")
        with gr.Row(visible=gate.enabled):
            password = gr.Textbox(type="password", label="Teacher password", scale=3, elem_id="teacher-password")
            unlock = gr.Button("Unlock", scale=1, elem_id="unlock")
        choices = [(f"{e.name}" + (f" ({e.params_billion:g}B)" if e.params_billion else ""), e.id) for e in catalog]
        model = gr.Dropdown(choices, value=entry.id if entry else "custom", label="Model",
                            interactive=gate.enabled)
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
        unlock.click(controls.unlock, [password], [unlocked, message, password], api_visibility="private")
        apply.click(controls.apply, [unlocked, model, custom, model_format, ratio, session_len, max_batch],
                    [message, status, readout], concurrency_limit=1, api_visibility="private")
        for control in (model, custom, model_format, ratio, session_len):
            control.change(controls.preview, [model, custom, model_format, ratio, session_len], [readout],
                           api_visibility="private")
