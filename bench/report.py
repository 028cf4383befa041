"""Benchmark report: gathers the benchmarks' JSON outputs into one Markdown page with PNG plots beside it.

    .venv/bin/python bench/report.py [--input DIR ...] [--out docs/bench/REPORT.md]

Reads every ``*.json`` / ``*.jsonl`` under the input folders (default ``artifacts/bench/``): ``bench/stream.py``,
``bench/load.py``, ``bench/checker.py``, ``bench/quality_gate.py``, ``bench/tutor_eval.py`` outputs and the GPU
session's ``gpu_report.jsonl`` (``scripts/gpu/session.sh``). Each is recognised by its shape, not its name. The
machine comes from the file (``machine``, ``device``, the engine's status line) or, for GPU session files, from
the ``nvidia-smi.txt`` beside it; the date from a ``date`` field, else the file's modification time. Anything else
is listed as skipped. Plots use matplotlib's Agg backend. Not covered: running the benchmarks.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("stream", "load", "gpu_report", "tp", "quality_gate", "tutor_eval", "checker")


@dataclass(frozen=True)
class Run:
    kind: str
    path: Path
    machine: str
    date: str
    data: Any  # the JSON object; for gpu_report the list of JSON lines


# --- reading ---------------------------------------------------------------------------------------------------

def _load(path: Path) -> Any:
    """The file's JSON object, or its JSON lines as a list (JSON Lines), or ``None``."""
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if path.suffix != ".jsonl":  # a .jsonl file of one line is still a list of lines
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return [x for x in lines if isinstance(x, dict)] or None


def classify(data: Any) -> str | None:
    if isinstance(data, list):
        if data and all("event" in x or "gpu_used_by_engine_mib" in x for x in data):
            return "gpu_report"
        if data and all(x.get("benchmark") == "tp" for x in data):
            return "tp"  # scripts/gpu/tp_bench.py: one JSON line per (model, tp)
        return None
    if not isinstance(data, dict):
        return None
    if data.get("benchmark") in KINDS:
        return data["benchmark"]
    if "latency_ms" in data and "table_cases" in data:
        return "checker"
    return None


def _gpu_from_status(status: str) -> str | None:
    """"TurboMind · model · bf16 · CUDA: NVIDIA H100 80GB HBM3" -> "NVIDIA H100 80GB HBM3"."""
    return status.split("CUDA: ", 1)[1].strip() if "CUDA: " in status else None


def _sidecar_gpu(folder: Path) -> str | None:
    """The GPU named in the session's ``nvidia-smi.txt`` (CSV: a header, then "name, driver, …")."""
    smi = folder / "nvidia-smi.txt"
    if not smi.is_file():
        return None
    lines = smi.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines[1].split(",")[0].strip() if len(lines) > 1 and lines[0].startswith("name") else None


VARIANTS = "variants.json"  # a folder's sidecar: settings its runs did not record themselves, by file name


def _sidecar_settings(path: Path) -> dict[str, Any]:
    """What the folder's ``variants.json`` adds to this file's settings (an A/B of code the bench could not tell
    apart when it ran: h200-run12's chat conversion), else nothing."""
    sidecar = path.parent / VARIANTS
    if not sidecar.is_file():
        return {}
    extra = json.loads(sidecar.read_text(encoding="utf-8")).get(path.name)
    return extra if isinstance(extra, dict) else {}


def machine_label(data: Any, path: Path) -> str:
    rows = data if isinstance(data, list) else [data, *(data.get("results") or [])]
    gpu = next((_gpu_from_status(str(r.get(k, ""))) for r in rows if isinstance(r, dict)
                for k in ("device", "status", "status_line") if _gpu_from_status(str(r.get(k, "")))), None)
    gpu = gpu or _sidecar_gpu(path.parent)
    machine = data.get("machine") if isinstance(data, dict) else None
    if isinstance(machine, dict):
        system = str(machine.get("platform", "?")).split("-with")[0]
        machine = machine.get("name") or f"{machine.get('cpus', '?')} CPUs, {system}"
    if gpu and machine and gpu not in str(machine):
        return f"{gpu} ({machine})"
    return str(gpu or machine or path.parent.name)


def run_date(data: Any, path: Path) -> str:
    if isinstance(data, dict) and data.get("date"):
        return str(data["date"])[:10]
    stamp = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
    return f"{stamp:%Y-%m-%d} (file time)"


def gather(folders: Iterable[Path]) -> tuple[list[Run], list[tuple[Path, str]]]:
    runs: list[Run] = []
    skipped: list[tuple[Path, str]] = []
    for folder in folders:
        if not folder.is_dir():
            skipped.append((folder, "no such folder"))
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.name == VARIANTS:  # read by the files beside it
                continue
            if path.suffix not in (".json", ".jsonl"):
                if path.name != "nvidia-smi.txt":  # read as the machine's name by the files beside it
                    skipped.append((path, "not a JSON file"))
                continue
            try:
                data = _load(path)
            except OSError as err:
                skipped.append((path, f"unreadable ({err})"))
                continue
            kind = classify(data)
            if kind is None:
                skipped.append((path, "not JSON" if data is None else "unknown JSON shape"))
            else:
                extra = _sidecar_settings(path)
                if extra and isinstance(data, dict):
                    data = {**data, "settings": {**extra, **(data.get("settings") or {})}}
                runs.append(Run(kind, path, machine_label(data, path), run_date(data, path), data))
    return runs, skipped


# --- writing ---------------------------------------------------------------------------------------------------

def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A Markdown pipe table (written here: a table library would be a dependency for five lines)."""
    def cell(v: Any) -> str:
        if isinstance(v, float):  # ratios and small figures keep three significant digits
            return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.3g}"
        return "–" if v is None else str(v).replace("|", "\\|")

    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows), ""]


def bars(out: Path, title: str, ylabel: str, categories: Sequence[str], series: dict[str, Sequence[Any]],
         hline: tuple[float, str] | None = None, log: bool = False) -> str:
    """A grouped bar chart saved as PNG; returns the Markdown image line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(categories) + 2), 4.2))
    for n, (name, values) in enumerate(series.items()):
        xs = [i + (n - (len(series) - 1) / 2) * width for i in range(len(categories))]
        drawn = ax.bar(xs, [float("nan") if v is None else v for v in values], width, label=name)
        ax.bar_label(drawn, fmt=lambda v: f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}", fontsize=7)
    if hline:
        ax.axhline(hline[0], color="red", linestyle="--", linewidth=1, label=hline[1])
    ax.set_xticks(range(len(categories)), categories, fontsize=8)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return f"![{title}]({out.name})"


def _users(n: Any) -> str:
    return f"{n} user" if n == 1 else f"{n} users"


def _short(machine: str) -> str:
    return machine.split(" (")[0].replace("NVIDIA ", "")[:28]


def _runs_list(runs: Sequence[Run]) -> list[str]:
    return [f"- `{_rel(r.path)}`: {r.machine}, run {r.date}" for r in runs] + [""]


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _pct(x: Any) -> Any:
    return None if x is None else round(100 * x, 1)


def stream_section(runs: Sequence[Run], out: Path) -> list[str]:
    rows, cats, engine, app, t_engine, t_app = [], [], [], [], [], []
    for r in runs:
        for res in r.data.get("results", []):
            e, a = res.get("engine", {}), res.get("app", {})
            rows.append([r.machine, r.date, r.data.get("backend"), r.data.get("weight_format"), res.get("users"),
                         e.get("tokens_per_s"), a.get("tokens_per_s"), res.get("app_vs_engine_throughput"),
                         e.get("ttft_p50_ms"), a.get("ttft_p50_ms"), a.get("ttft_max_ms"), a.get("errors"),
                         (a.get("gradio_client") or {}).get("tokens_per_s")])
            cats.append(f"{_short(r.machine)} {r.data.get('weight_format', '')}\n{_users(res.get('users'))}")
            engine.append(e.get("tokens_per_s"))
            app.append(a.get("tokens_per_s"))
            t_engine.append(e.get("ttft_p50_ms"))
            t_app.append(a.get("ttft_p50_ms"))
    lines = ["## Streaming: engine alone vs through the app (`bench/stream.py`)", "", *_runs_list(runs)]
    lines += table(["machine", "date", "backend", "weights", "users", "engine tok/s", "app tok/s", "app/engine",
                    "engine TTFT p50 ms", "app TTFT p50 ms", "app TTFT max ms", "errors", "gradio_client tok/s"],
                   rows)
    if cats:
        lines += [bars(out / "stream_tokens.png", "Tokens/s: engine alone vs through the app", "tokens/s", cats,
                       {"engine alone": engine, "through the app": app}), "",
                  bars(out / "stream_ttft.png", "Time to first token (p50)", "ms", cats,
                       {"engine alone": t_engine, "through the app": t_app}), ""]
    return lines


def load_section(runs: Sequence[Run], out: Path) -> list[str]:
    rows, cats, p50, p95, t_app, t_engine = [], [], [], [], [], []
    gpu = False
    for r in runs:
        d, a, e = r.data, r.data.get("app") or {}, r.data.get("engine_alone") or {}
        s = d.get("settings", {})
        met = d.get("targets_met") or {}
        gpu = gpu or "gpu" in (d.get("targets") or {})
        opened = {True: "yes", False: "no"}.get(s.get("page_opened_first"), "no (before the option)")
        rows.append([r.machine, r.date, d.get("backend"), s.get("client"), s.get("client_processes", 1),
                     s.get("questions", "short"), s.get("max_new_tokens"), opened, d.get("students"),
                     f"{d.get('turns_completed')}/{d.get('turns_planned')}", d.get("errors"), d.get("wrong_session"),
                     e.get("tokens_per_s"), a.get("tokens_per_s"), d.get("app_vs_engine_throughput"),
                     a.get("ttft_p50_ms"), a.get("ttft_p95_ms"), a.get("ttft_max_ms"), a.get("turn_latency_p50_ms"),
                     a.get("turn_latency_p95_ms"), a.get("gradio_queue_wait_p95_ms"), a.get("first_update_p95_ms"),
                     a.get("engine_queue_notices"), _phases(a.get("ttft_phases")),
                     _span(a.get("ttft_phases"), "to_gradio_queue"), _span(a.get("ttft_phases"), "after_engine"),
                     _sympy_workers(d), a.get("server_loop_busy"),
                     a.get("server_loop_cpu_per_turn_ms"),
                     _switch_ms(s), _gc(s, a.get("server_gc")), s.get("chat_conversion"),
                     s.get("login_check"),
                     "yes" if met and all(v is not False for v in met.values()) else ("no" if met else None)])
        cats.append(f"{_short(r.machine)} ({r.path.parent.name})\n{d.get('students')} × {s.get('client')}"
                    + (f"\n{s['questions']} questions" if s.get("questions") else ""))
        p50.append(a.get("ttft_p50_ms"))
        p95.append(a.get("ttft_p95_ms"))
        t_app.append(a.get("tokens_per_s"))
        t_engine.append(e.get("tokens_per_s"))
    lines = ["## Load: many students at once (`bench/load.py`)", "", *_runs_list(runs),
             "Targets (printed by the bench, not asserted): GPU 64 students, 0 errors, p95 TTFT ≤ 1 s, "
             "app/engine ≥ 0.8; CPU 8 students, 0 errors. Wrong session = a reply or history in another student's "
             "chat. A turn's first token comes after Gradio's queue (queue wait), the tutor's planning with sympy "
             "(first update: the \"…\" placeholder, or the first text when it comes within 0.15 s) and the "
             "engine's own queue (\"⏳\" notices). Server loop: the share of the wall time Gradio's event-loop "
             "thread was on a CPU, and its CPU time per turn (runs from before these figures existed leave them "
             "empty); the GIL switch interval where a run set one (Python's default is 5 ms); the garbage "
             "collector (runs from 2026-11-30 on, `ui.runtime`): \"frozen\" when start-up's objects were frozen, "
             "its first threshold (Python's: 700), and its pauses in the students' window, total / longest ms. "
             "TTFT parts (runs "
             "from 2026-11-30 on): Gradio's join and queue / the app's work until it asks the engine (preprocessing, "
             "the tutor's sympy) / the engine's first text / the delivery to the student; a gradio_client's queue "
             "time is read from the job's status, polled every 10 ms, so its first two parts are rough (the second "
             "can be negative). After the engine: from the engine's last token to the student's last update "
             "(sympy's verdict, the final update). Send to Gradio's queue: from Send to the message reaching "
             "Gradio's queue (the client library's own work and the join request; later runs). Sympy workers: the "
             "worker processes of each of the app's two sympy pools (questions, answer checks), for runs that "
             "record them. Chat conversion: where the chat "
             "event's inputs and outputs are converted (runs from 2026-11-30 on): \"event loop\" (`ui.inline`) or "
             "\"worker threads\" (Gradio's default, one thread hop per component). Login check: where Gradio's login "
             "check on every request runs (runs from 2026-11-30 on): \"event loop\" (`ui.launch`) or \"worker "
             "thread\" (FastAPI's way with Gradio's sync dependency: one hop per join, event stream, /run call).", ""]
    lines += table(["machine", "date", "backend", "client", "client processes", "questions", "max new tokens",
                    "page opened first", "students", "turns done", "errors",
                    "wrong session",
                    "engine tok/s", "app tok/s", "app/engine", "TTFT p50 ms", "TTFT p95 ms", "TTFT max ms",
                    "turn p50 ms", "turn p95 ms", "Gradio queue wait p95 ms", "first update p95 ms",
                    "engine queue notices", "TTFT parts p50 / p95 ms", "Send to Gradio's queue p50 / p95 ms",
                    "after the engine p50 / p95 ms",
                    "sympy workers", "server loop busy", "server loop CPU ms/turn",
                    "GIL switch interval ms", "garbage collector", "chat conversion", "login check", "targets met"], rows)
    if cats:
        lines += [bars(out / "load_ttft.png", "Load: time to first token", "ms", cats, {"p50": p50, "p95": p95},
                       hline=(1000, "GPU target p95 ≤ 1 s") if gpu else None), "",
                  bars(out / "load_tokens.png", "Load: tokens/s, engine alone vs through the app", "tokens/s", cats,
                       {"engine alone": t_engine, "through the app": t_app}), ""]
    return lines


def _span(parts: dict[str, Any] | None, name: str) -> str | None:
    """One of ``bench.load.phases``' spans as "p50 / p95" (runs that measured it)."""
    if not parts or parts.get(f"{name}_p50_ms") is None:
        return None
    return f"{parts[f'{name}_p50_ms']:.0f} / {parts[f'{name}_p95_ms']:.0f}"


def _sympy_workers(data: dict[str, Any]) -> Any:
    """The CAS pool's workers a run had: from its settings, or (h200-run11, timed by a scratch copy of the bench
    that set the pools' size) the top-level figure it wrote."""
    workers = (data.get("settings") or {}).get("sympy_workers")
    return workers.get("cas") if isinstance(workers, dict) else data.get("sympy_workers")


def _switch_ms(settings: dict[str, Any]) -> float | None:
    """The GIL switch interval a run served with, in ms (older runs recorded seconds), else None."""
    if settings.get("switch_interval_ms") is not None:
        return round(settings["switch_interval_ms"], 3)
    return None if settings.get("switch_interval_s") is None else round(1000 * settings["switch_interval_s"], 3)


def _gc(settings: dict[str, Any], pauses: dict[str, Any] | None) -> str | None:
    """The collector's settings and its pauses in the window as one cell, for runs that recorded them."""
    if not pauses:
        return None
    threshold = (settings.get("gc_threshold") or ["?"])[0]
    frozen = "frozen, " if pauses.get("frozen_objects") else ""
    return f"{frozen}{threshold}; {pauses['pause_total_ms']:.0f} / {pauses['pause_max_ms']:.0f}"


def _phases(parts: dict[str, Any] | None) -> str | None:
    """``bench.load.phases`` as one cell: "queue / app / engine / delivery" at p50, then at p95."""
    if not parts:
        return None
    names = ("in_gradio_queue", "app_to_engine", "engine_first_text", "delivery")
    cell = [" / ".join("–" if parts.get(f"{n}_p{q}_ms") is None else f"{parts[f'{n}_p{q}_ms']:.0f}" for n in names)
            for q in (50, 95)]
    return f"{cell[0]}; {cell[1]}"


def gpu_section(runs: Sequence[Run], out: Path) -> list[str]:
    loads, streams, memory, switches = [], [], [], []
    speed: dict[str, dict[int, Any]] = {}
    for r in runs:
        for x in r.data:
            if x.get("event") == "load":
                loads.append([r.machine, r.date, x.get("model"), x.get("seconds"), x.get("status")])
            elif x.get("event") == "stream":
                streams.append([r.machine, r.date, x.get("model"), x.get("users"), x.get("tokens_per_s"),
                                x.get("first_token_ms", x.get("first_token_ms_max"))])
                speed.setdefault(f"{x.get('model')}\n{_short(r.machine)}", {})[x.get("users")] = x.get("tokens_per_s")
            elif x.get("event") == "switch_memory":  # tests/gpu/test_switch_memory.py
                switches.append([r.machine, r.date, ", ".join(f"{m:,}" for m in x.get("gpu_used_mib_after_each", [])),
                                 f"{x.get('reply_tokens')} ({x.get('reply_finish')})", x.get("frozen")])
            elif "gpu_used_by_engine_mib" in x:
                memory.append([r.machine, r.date, x.get("model"), x.get("weight_format"),
                               x.get("cache_max_entry_count"), x.get("gpu_used_by_engine_mib"), x.get("gpu_total_mib")])
    lines = ["## GPU engine alone (`scripts/gpu/session.sh`: `gpu_report.jsonl`)", "", *_runs_list(runs)]
    if loads:
        lines += ["Model loads:", "", *table(["machine", "date", "model", "seconds", "status"], loads)]
    if streams:
        lines += ["Streams (256 new tokens each, greedy; first token: max over the streams at 16 users):", "",
                  *table(["machine", "date", "model", "users", "tokens/s", "first token ms"], streams)]
        users = sorted({u for v in speed.values() for u in v})
        lines += [bars(out / "gpu_engine_tokens.png", "GPU engine alone: tokens/s", "tokens/s", list(speed),
                       {_users(u): [v.get(u) for v in speed.values()] for u in users}), ""]
    if memory:
        lines += ["GPU memory by KV-cache ratio:", "",
                  *table(["machine", "date", "model", "weights", "KV ratio", "MiB used by engine", "GPU MiB"], memory)]
    if switches:
        lines += ["Model switches under TurboMind with the collector frozen as app.py serves "
                  "(`tests/gpu/test_switch_memory.py`: the tiny model, KV ratios 0.10 and 0.12 in turn; MiB in use "
                  "on the GPU after the first load and after each of four switches, one engine loaded each time):", "",
                  *table(["machine", "date", "MiB in use after each", "reply in flight: tokens (end)",
                          "frozen objects"], switches)]
    return lines


def tp_section(runs: Sequence[Run], out: Path) -> list[str]:
    rows, speed = [], {}
    for r in runs:
        for x in r.data:
            res = {y["users"]: y["tokens_per_s"] for y in x.get("results", [])}
            memory = (x.get("memory") or {}).get("gpu_memory_taken_at_load_mib")
            machine = f"{x['gpus_visible']} × {x['gpu']}" if x.get("gpu") else r.machine
            rows.append([machine, r.date, x.get("model"), x.get("weight_format"), x.get("tp"), x.get("load_seconds"),
                         *(res.get(u) for u in (1, 16)), memory, x.get("error") or x.get("skipped") or ""])
            if res:
                speed.setdefault(f"{x.get('model')}", {})[f"tp={x.get('tp')}"] = res.get(16)
    lines = ["## Tensor parallelism (`scripts/gpu/tp_bench.py`)", "", *_runs_list(runs),
             "The engine alone under TurboMind, 256 new tokens per stream (greedy, `ignore_eos`), KV-cache ratio "
             "0.5; memory is what each GPU gave the engine at load.", "",
             *table(["machine", "date", "model", "weights", "tp", "load s", "tok/s 1 stream", "tok/s 16 streams",
                     "MiB taken per GPU", "note"], rows)]
    tps = sorted({t for v in speed.values() for t in v})
    if speed:
        lines += [bars(out / "tp_tokens.png", "Tensor parallelism: tokens/s at 16 streams", "tokens/s", list(speed),
                       {t: [v.get(t) for v in speed.values()] for t in tps}), ""]
    return lines


def quality_section(runs: Sequence[Run], out: Path) -> list[str]:
    rows, cats, acc = [], [], []
    for r in runs:
        for res in r.data.get("results", []):
            size = res.get("weight_bytes_on_disk")
            rows.append([r.machine, r.date, Path(str(res.get("model"))).name, res.get("backend"),
                         res.get("weight_format"), _pct(res.get("accuracy")),
                         f"{res.get('correct')}/{res.get('problems')}", res.get("tokens_per_s"),
                         res.get("tokens_per_s_1_stream"), res.get("tokens_per_s_16_streams"),
                         round(size / 1e9, 2) if size else None, res.get("error")])
            cats.append(f"{res.get('label') or res.get('weight_format')}\n{_short(r.machine)}")
            acc.append(_pct(res.get("accuracy")))
    lines = ["## Quality gate: fp16 vs W4A16 (`bench/quality_gate.py`)", "", *_runs_list(runs)]
    lines += table(["machine", "date", "model", "backend", "weights", "accuracy %", "correct", "tokens/s (eval)",
                    "tokens/s 1 stream", "tokens/s 16 streams", "weights GB on disk", "error"], rows)
    if cats:
        lines += [bars(out / "quality_gate.png", "Quality gate accuracy", "% correct", cats, {"accuracy": acc}), ""]
    return lines


def tutor_section(runs: Sequence[Run], out: Path) -> list[str]:
    rows, cats, plain, grounded = [], [], [], []
    for r in runs:
        d, m = r.data, r.data.get("model_eval") or {}
        v, b = m.get("verifier_on_model_replies") or {}, d.get("verifier_on_bank") or {}
        rows.append([r.machine, r.date, d.get("backend"), d.get("weight_format"), m.get("problems"),
                     _pct(m.get("accuracy_plain")), _pct(m.get("accuracy_grounded")), m.get("grounding_lift_points"),
                     v.get("verified_precision"), v.get("verified_recall"), b.get("verified_precision"),
                     b.get("verified_recall"), b.get("disputed_recall")])
        if m:
            cats.append(f"{d.get('weight_format')}\n{_short(r.machine)}")
            plain.append(_pct(m.get("accuracy_plain")))
            grounded.append(_pct(m.get("accuracy_grounded")))
    lines = ["## Tutor eval: without vs with sympy grounding (`bench/tutor_eval.py`)", "", *_runs_list(runs)]
    lines += table(["machine", "date", "backend", "weights", "problems", "accuracy plain %", "accuracy grounded %",
                    "lift (points)", "verified precision (model)", "verified recall (model)",
                    "verified precision (bank)", "verified recall (bank)", "disputed recall (bank)"], rows)
    if cats:
        lines += [bars(out / "tutor_eval.png", "Tutor eval accuracy", "% correct", cats,
                       {"without grounding": plain, "with sympy grounding": grounded}), ""]
    return lines


def checker_section(runs: Sequence[Run], out: Path) -> list[str]:
    rows, cats, series = [], [], {"median": [], "p90": [], "p99": []}
    for r in runs:
        lat = r.data.get("latency_ms", {})
        rows.append([r.machine, r.date, r.data.get("workers"), r.data.get("checks_timed"), lat.get("median"),
                     lat.get("p90"), lat.get("p99"), lat.get("max"), r.data.get("checks_per_s_threads"),
                     r.data.get("verdict_mismatches")])
        cats.append(f"{_short(r.machine)}\n{r.date[:10]}")
        for k in series:
            series[k].append(lat.get(k))
    lines = ["## Checker latency (`bench/checker.py`)", "", *_runs_list(runs),
             "Targets (from the bench): median ≤ 20 ms, p99 ≤ 250 ms.", ""]
    lines += table(["machine", "date", "workers", "checks", "median ms", "p90 ms", "p99 ms", "max ms",
                    "checks/s (threads)", "verdict mismatches"], rows)
    if cats:
        lines += [bars(out / "checker_latency.png", "Checker latency per check", "ms (log)", cats, series,
                       hline=(250, "p99 target"), log=True), ""]
    return lines


SECTIONS = {"stream": stream_section, "load": load_section, "gpu_report": gpu_section, "tp": tp_section,
            "quality_gate": quality_section, "tutor_eval": tutor_section, "checker": checker_section}


def build_report(folders: Sequence[Path], out: Path) -> str:
    out.parent.mkdir(parents=True, exist_ok=True)
    runs, skipped = gather(folders)
    lines = ["# Benchmark report", "",
             f"Generated {datetime.date.today():%Y-%m-%d} by `bench/report.py` from "
             f"{', '.join(f'`{_rel(f)}`' for f in folders)}: {len(runs)} runs. Each section names the machine "
             "and the date of every run; the raw JSON is in the files listed.", ""]
    for kind, section in SECTIONS.items():
        mine = [r for r in runs if r.kind == kind]
        if mine:
            lines += section(mine, out.parent)
    missing = [k for k in SECTIONS if not any(r.kind == k for r in runs)]
    if missing:
        lines += [f"No runs found for: {', '.join(missing)}.", ""]
    if skipped:
        lines += ["## Skipped files", "", *(f"- `{_rel(p)}`: {why}" for p, why in skipped), ""]
    text = "\n".join(lines)
    out.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", action="append", type=Path, help="folder of JSON files (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "REPORT.md")
    args = parser.parse_args(argv)
    folders = args.input or [ROOT / "artifacts" / "bench"]
    build_report(folders, args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
