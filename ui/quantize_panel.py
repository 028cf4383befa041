"""The teacher's "Quantize to W4A16 (AWQ)" section inside the engine panel, the fp16-vs-W4A16 comparison, and the
model picker's labels for cached builds.

Quantize: the model chosen in the engine panel is quantized with ``engine.quantize`` (the tutorial's
``lmdeploy lite auto_awq``; a model whose shapes AWQ or TurboMind cannot take is refused before any work, with the
reason; a folder outside the allowed ones, ``engine.models.allowed_model_dirs``, too), with a progress bar; then, unless skipped, the quality gate (``engine.quality.run_gate``) tests fp16 and
W4A16 on 50 built-in problems and the table is shown and stored with the build (``quality.json``). "Serve the
quantized model" switches the engine to the build through the switcher, as Apply does. "Compare fp16 and W4A16"
runs the gate on the running model's fp16 and its cached W4A16 with 20 practice-bank problems. Every action is
checked on the server against the teacher gate; one quantize or comparison runs at a time. Engines for the gate
are built with the switcher's own factory (the one ``app.py`` gave it), one at a time, and closed after; on a GPU
they, and AWQ's calibration, take memory beside the engine that keeps serving (the gate's KV-cache ratio is at
most 0.2), so run them when the class is quiet.
Not covered: the engine settings themselves (``ui.engine_panel``), the quantization and gate logic (``engine``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gradio as gr

from engine import memory
from engine.catalog import Catalog, CatalogEntry
from engine.errors import AppError
from engine.quality import (
    Candidate,
    GateConfig,
    GateProblem,
    GateResult,
    builtin_problems,
    cached_builds,
    config_weight_bytes,
    final_answer_grader,
    read_result,
    run_gate,
    store_result,
)
from engine.models import allowed_model_dirs, resolve_model
from engine.quantize import CALIB_SAMPLES, CALIB_SEQLEN, read_metadata
from engine.settings import EngineSettings
from engine.switcher import EngineSwitcher
from ui.teacher import TeacherGate

Factory = Callable[[EngineSettings, Any], Any]  # the switcher's engine factory: (settings, progress) -> Engine
Switch = Callable[[EngineSettings, Any], Awaitable[tuple[str, str, str]]]  # -> (message, status, readout)
BUSY = "⏳ A quantization or comparison is already running; wait for it to finish (its progress is shown above)."
GATE_CACHE_RATIO = 0.2  # the serving engine keeps its memory while the gate's engines load beside it
GATE_BANK_PROBLEMS = 20


def bank_problems(n: int = GATE_BANK_PROBLEMS) -> list[GateProblem]:
    """The first ``n`` practice-bank problems, round-robin over topics (fixed), with their own checker rules."""
    from tutor.bank import default_bank, round_robin

    return [GateProblem(p.statement, p.answer, p.rules) for p in round_robin(default_bank().problems, n)]


def model_value(catalog: Catalog, entry_id: str, custom: str) -> str:
    """The ``model`` setting for a picker choice: 'default', the entry's hub id, or the custom folder / id."""
    if entry_id == "custom":
        return (custom or "").strip()
    entry = catalog.get(entry_id)
    return "default" if entry.id == "default" else (entry.huggingface_id or entry.modelscope_id or entry.id)


def _sources(entry: CatalogEntry) -> list[str]:
    return ["default"] if entry.id == "default" else [i for i in (entry.huggingface_id, entry.modelscope_id) if i]


def _trust(meta: dict[str, Any]) -> bool:
    return bool((meta.get("options") or {}).get("trust_remote_code"))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _size(n: int | None) -> str:
    if not n:
        return "—"
    return memory.format_bytes(n, "GiB" if n >= memory.GiB / 10 else "MiB")


def gate_summary(result: GateResult) -> str:
    """'gate 22% vs fp16 42%' (W4A16 first), or what failed."""
    w4, fp16 = result.get("W4A16"), result.get("fp16")
    if w4 is None or w4.error:
        return "gate: W4A16 did not load"
    if fp16 is None or fp16.error:
        return f"gate {_percent(w4.accuracy)} (fp16 not measured)"
    return f"gate {_percent(w4.accuracy)} vs fp16 {_percent(fp16.accuracy)}"


def build_note(entry: CatalogEntry) -> str:
    """' — W4A16 cached · gate 22% vs fp16 42%' for an entry with a cached build, else ''."""
    if entry.is_custom:
        return ""
    try:
        builds = cached_builds(*_sources(entry))
    except OSError:  # an unreadable cache: no note rather than no page
        return ""
    if not builds:
        return ""
    result = read_result(builds[0].path)
    return " — W4A16 cached · " + (gate_summary(result) if result else "no gate run yet")


def picker_choices(catalog: Catalog) -> list[tuple[str, str]]:
    """The model picker's (label, entry id) pairs, with each catalog model's cached W4A16 build and gate result."""
    return [(e.name + (f" ({e.params_billion:g}B)" if e.params_billion else "") + build_note(e), e.id)
            for e in catalog]


def gate_table(result: GateResult) -> str:
    """The gate as a Markdown table: one column per format."""
    formats = result.formats
    speeds = sorted({s for f in formats for s in f.tokens_per_s} | set(result.config.streams))

    def cell(f: Any, text: str) -> str:
        return "—" if f.error else text

    rows = [("Accuracy", [cell(f, f"{_percent(f.accuracy)} ({f.correct}/{f.problems})") for f in formats])]
    for s in speeds:
        rows.append((f"Tokens/s, {s} stream{'s' if s > 1 else ''}",
                     [cell(f, f"{f.tokens_per_s[s]:,.0f}" if s in f.tokens_per_s else "—") for f in formats]))
    rows.append(("Weight memory (from config.json)", [_size(f.weight_bytes) for f in formats]))
    rows.append(("Load time", [cell(f, f"{f.load_seconds:.1f} s" if f.load_seconds is not None else "—")
                               for f in formats]))
    rows.append(("Engine", [cell(f, f"{f.backend} · {f.weight_format}") for f in formats]))
    head = "| | " + " | ".join(f.label for f in formats) + " |\n|---|" + "---|" * len(formats)
    body = "\n".join(f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows)
    notes = [f"\n\n⚠️ **{f.label}** did not run: {f.error}" for f in formats if f.error]
    failed = [f"\n\n{f.label}: {f.failed_replies} replies ended with an engine error (counted wrong)."
              for f in formats if f.failed_replies]
    return (f"**Quality gate** — {result.problem_set}, greedy, {result.created}\n\n{head}\n{body}"
            + "".join(notes + failed))


@dataclass
class QuantizePanel:
    built: gr.State  # the folder of the build to serve ('' before any)
    message: gr.Markdown
    table: gr.Markdown


class QuantizeControls:
    """Handlers of the section (plain async functions; the gate is checked in each, as in ``EngineControls``)."""

    def __init__(self, switcher: EngineSwitcher, gate: TeacherGate, catalog: Catalog, factory: Factory,
                 switch: Switch, *, locked_message: str, gate_problems: Sequence[GateProblem] | None = None,
                 compare_problems: Sequence[GateProblem] | None = None, gate_config: GateConfig = GateConfig(),
                 grade: Callable[[str, GateProblem], bool] | None = None) -> None:
        self.switcher, self.gate, self.catalog = switcher, gate, catalog
        self.factory, self.switch, self.locked_message = factory, switch, locked_message
        self._gate_problems, self._compare_problems = gate_problems, compare_problems
        self.gate_config = gate_config
        self._grade = grade
        self._busy = threading.Lock()  # one quantize or comparison at a time (any loop, any thread)
        # Folders typed in the page must lie in the app's cache, TUTOR_MODEL_DIRS or the start-up model's folder.
        self.allowed_dirs = allowed_model_dirs(startup_model=switcher.settings.model)

    def _allowed(self, unlocked: bool) -> bool:
        return self.gate.enabled and bool(unlocked)

    def _grader(self) -> Callable[[str, GateProblem], bool]:
        if self._grade is None:
            import checker

            self._grade = final_answer_grader(checker.extract_final_answer, checker.check_answer)
        return self._grade

    def _settings(self, folder: str, model_format: str, trust: bool) -> EngineSettings:
        """Settings for one of the gate's engines (or for serving a build): the running engine's, for ``folder``."""
        cur = self.switcher.settings
        return replace(cur, model=folder, model_format=model_format, trust_remote_code=trust,
                       backend="auto" if cur.backend == "llamacpp" else cur.backend)  # llama.cpp runs GGUF only

    def _candidate(self, folder: str, model_format: str, trust: bool) -> Candidate:
        settings = replace(self._settings(folder, model_format, trust),
                           cache_max_entry_count=min(self.switcher.settings.cache_max_entry_count, GATE_CACHE_RATIO))
        return Candidate(lambda progress: self.factory(settings, progress), folder, config_weight_bytes(folder))

    async def _gate(self, source: str, build: str, trust: bool, problems: Sequence[GateProblem], problem_set: str,
                    report: Callable[[float, str], None]) -> GateResult:
        candidates = {"fp16": self._candidate(source, "hf", trust), "W4A16": self._candidate(build, "awq", trust)}
        return await run_gate(candidates, problems, self._grader(), report, config=self.gate_config,
                              problem_set=problem_set)

    async def quantize(self, unlocked: bool, model: str, custom: str, samples: float, seqlen: float, with_gate: bool,
                       progress: gr.Progress = gr.Progress()) -> tuple[str, Any, Any, Any, Any]:
        """-> (message, gate table, build folder, Serve button, model picker)."""
        same = (gr.skip(), gr.skip(), gr.skip(), gr.skip())
        if not self._allowed(unlocked):
            return (self.locked_message, *same)
        if not self._busy.acquire(blocking=False):
            return (BUSY, *same)
        try:
            from engine.quantize import quantize

            value = model_value(self.catalog, model, custom)
            if not value:
                return ("Type a model folder or hub id in the custom model box first.", *same)
            entry = self.catalog.find(value)
            trust = bool(entry and entry.trust_remote_code) or self.switcher.settings.trust_remote_code
            end = 0.6 if with_gate else 1.0

            def report(lo: float, hi: float) -> Callable[[float, str], None]:
                return lambda f, text: progress(lo + (hi - lo) * max(0.0, min(1.0, f)), desc=text)

            source = await asyncio.to_thread(resolve_model, value, report(0.0, 0.05), allowed_dirs=self.allowed_dirs)
            build = await asyncio.to_thread(quantize, source, calib_samples=int(samples), calib_seqlen=int(seqlen),
                                            trust_remote_code=trust, progress=report(0.05, end))
            meta = read_metadata(build) or {}
            calib = meta.get("calibration", {})
            done = (f"✅ Quantized {Path(source).name} to W4A16 (group {meta.get('w_group_size', 128)}, "
                    f"{calib.get('samples', '?')} × {calib.get('seqlen', '?')} calibration tokens): `{build}`.")
            table = ""
            if with_gate:
                problems = self._gate_problems or builtin_problems()
                result = await self._gate(str(source), str(build), trust, problems,
                                          f"built-in math ({len(problems)} problems)", report(end, 1.0))
                store_result(build, result)
                table = gate_table(result)
            return (done, table, str(build), gr.update(interactive=True),
                    gr.update(choices=picker_choices(self.catalog)))
        except AppError as err:
            return (f"⚠️ {err}", *same)
        finally:
            self._busy.release()

    async def serve(self, unlocked: bool, build: str | None, progress: gr.Progress = gr.Progress()
                    ) -> tuple[str, Any, Any]:
        """Switch the engine to the quantized build. -> (message, status line, memory readout)."""
        if not self._allowed(unlocked):
            return self.locked_message, gr.skip(), gr.skip()
        meta = read_metadata(build) if build else None
        if meta is None:
            return "Quantize a model first (or compare, which finds a cached build).", gr.skip(), gr.skip()
        return await self.switch(self._settings(str(build), "awq", _trust(meta)),
                                 lambda f, text: progress(f, desc=text))

    def _pair(self) -> tuple[str, str, bool] | str:
        """(fp16 folder, W4A16 build, trust_remote_code) for the running model, or why there is none."""
        current = self.switcher.settings.model
        meta = read_metadata(Path(current).expanduser()) if Path(current).expanduser().is_dir() else None
        if meta is not None:  # serving a build: its source is the fp16
            return str(meta["model_dir"]), str(Path(current).expanduser()), _trust(meta)
        entry = self.catalog.find(current)
        names = _sources(entry) if entry and not entry.is_custom else [current]
        builds = cached_builds(*names)
        if not builds:
            return (f"No W4A16 build of the running model ({current}) is cached: quantize it first (above), then "
                    "compare.")
        return str(builds[0].metadata["model_dir"]), str(builds[0].path), _trust(builds[0].metadata)

    async def compare(self, unlocked: bool, progress: gr.Progress = gr.Progress()) -> tuple[str, str, Any, Any]:
        """fp16 vs the cached W4A16 of the running model on practice problems. -> (message, table, build, Serve)."""
        if not self._allowed(unlocked):
            return self.locked_message, gr.skip(), gr.skip(), gr.skip()
        if not self._busy.acquire(blocking=False):
            return BUSY, gr.skip(), gr.skip(), gr.skip()
        try:
            pair = self._pair()
            if isinstance(pair, str):
                return f"⚠️ {pair}", gr.skip(), gr.skip(), gr.skip()
            source, build, trust = pair
            problems = self._compare_problems or bank_problems()
            result = await self._gate(source, build, trust, problems, f"practice bank ({len(problems)} problems)",
                                      lambda f, text: progress(f, desc=text))
            return (f"✅ Compared {Path(source).name} (fp16) with `{Path(build).name}` (W4A16).", gate_table(result),
                    build, gr.update(interactive=True))
        except AppError as err:
            return f"⚠️ {err}", gr.skip(), gr.skip(), gr.skip()
        finally:
            self._busy.release()


def build_quantize_panel(controls: QuantizeControls, *, unlocked: gr.State, model: gr.Dropdown, custom: gr.Textbox,
                         status: gr.Markdown, readout: gr.Markdown, has_gpu: bool) -> QuantizePanel:
    """Add the section to the Blocks being built (inside the engine panel, whose inputs it shares)."""
    enabled = controls.gate.enabled
    gr.Markdown("### Quantize to W4A16 (AWQ)\nThe tutorial's `lmdeploy lite auto_awq`, on the model chosen above: "
                "4-bit weights, calibrated offline on a built-in math corpus; the result is cached.")
    with gr.Row():
        samples = gr.Slider(CALIB_SAMPLES.lo, CALIB_SAMPLES.hi, CALIB_SAMPLES.default, step=CALIB_SAMPLES.step,
                            label="Calibration samples", interactive=enabled)
        seqlen = gr.Slider(CALIB_SEQLEN.lo, CALIB_SEQLEN.hi, CALIB_SEQLEN.default, step=CALIB_SEQLEN.step,
                           label="Calibration tokens per sample", interactive=enabled)
    with_gate = gr.Checkbox(has_gpu, interactive=enabled,
                            label="Then run the quality gate: fp16 vs W4A16 on 50 built-in problems"
                                  + ("" if has_gpu else " (no GPU here: the CPU backend cannot run W4A16, so only "
                                                        "fp16 is measured, slowly)"))
    with gr.Row():
        run = gr.Button("Quantize", variant="primary", interactive=enabled, elem_id="quantize")
        serve = gr.Button("Serve the quantized model", interactive=False, elem_id="serve-quantized")
        compare = gr.Button("Compare fp16 and W4A16", interactive=enabled, elem_id="compare-formats")
    panel = QuantizePanel(gr.State(""), gr.Markdown(elem_id="quantize-message"),
                          gr.Markdown(elem_id="quality-table"))
    run.click(controls.quantize, [unlocked, model, custom, samples, seqlen, with_gate],
              [panel.message, panel.table, panel.built, serve, model], show_progress_on=panel.table,
              api_visibility="private")
    serve.click(controls.serve, [unlocked, panel.built], [panel.message, status, readout], concurrency_limit=1,
                api_visibility="private")
    compare.click(controls.compare, [unlocked], [panel.message, panel.table, panel.built, serve],
                  show_progress_on=panel.table, api_visibility="private")
    return panel
