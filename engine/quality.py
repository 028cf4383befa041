"""The quality gate's core: one short math test and one speed probe run on each weight format of a model, and the
result stored with the quantized model.

:func:`run_gate` takes one engine factory per format (``{"fp16": ..., "W4A16": ...}``) and, one format at a time,
builds the engine in a thread, asks it every problem greedily (all in flight at once, as a class would), measures
tokens/s on a fixed prompt set at 1 and at 16 concurrent streams, and closes it before the next is built, so two
models never share the GPU here. A format that fails to load is recorded with its error, not raised. Weight memory
is computed from the checkpoint's ``config.json`` (:func:`config_weight_bytes`, exact for lmdeploy's AWQ layout).

Grading is passed in — ``grade(reply, problem) -> bool`` — so ``engine/`` never imports the checker; callers make
it with :func:`final_answer_grader` from the checker's two public functions. This module lives in ``engine/``
because it only drives engines through the one Engine interface and reads the quantize cache; the bench script
(``bench/quality_gate.py``, JSON) and the teacher's panel (``ui/quantize_panel.py``) both import it.

:func:`store_result` writes ``quality.json`` into a quantized model's cache folder atomically; :func:`read_result`
and :func:`cached_builds` are what the model picker reads. Not covered: building engines (callers pass factories),
quantizing (``engine.quantize``), tables for people (``ui.quantize_panel``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine import memory
from engine.base import Engine, GenParams
from engine.errors import AppError
from engine.quantize import QuantizedModel, list_quantized

Progress = Callable[[float, str], None]
EngineFactory = Callable[["Progress | None"], Engine]  # builds one engine (blocking; run in a thread)
QUALITY_FILE = "quality.json"
RESULT_VERSION = 1
INSTRUCTION = "Solve the problem. Give only a short solution and put the final answer in \\boxed{}."
# The speed probe's fixed prompts: open-ended, so replies run to the token limit on most models.
SPEED_PROMPTS = (
    "Explain step by step how to solve 3x + 7 = 22, and check the answer.",
    "Explain how to find the derivative of x^3 sin(x), naming each rule you use.",
    "A rectangle has perimeter 30 cm and area 56 cm^2. Find its sides, explaining each step.",
    "Explain why the sum of the first n odd numbers is n^2, with an example.",
)


@dataclass(frozen=True)
class GateProblem:
    """A question with a reference answer and the checker rules to grade it by (e.g. ``(("form", "simplified"),)``)."""

    question: str
    reference: str
    rules: tuple[tuple[str, Any], ...] = ()


Grade = Callable[[str, GateProblem], bool]  # (the model's whole reply, the problem) -> correct; may block


@dataclass(frozen=True)
class GateConfig:
    max_new_tokens: int = 384  # per problem
    speed_tokens: int = 128  # per stream in the speed probe
    streams: tuple[int, ...] = (1, 16)


@dataclass(frozen=True)
class Candidate:
    """One format to test: how to build its engine, and what the record should say about it."""

    build: EngineFactory
    model: str = ""  # the folder, for the record
    weight_bytes: int | None = None


@dataclass(frozen=True)
class FormatResult:
    label: str
    model: str = ""
    backend: str = ""
    weight_format: str = ""
    device: str = ""
    problems: int = 0
    correct: int = 0
    failed_replies: int = 0  # replies that ended with an engine error (counted as wrong)
    tokens: int = 0
    eval_seconds: float = 0.0
    tokens_per_s: dict[int, float] = field(default_factory=dict)  # concurrent streams -> tokens/s (speed probe)
    weight_bytes: int | None = None
    load_seconds: float | None = None
    error: str | None = None  # the engine did not load or failed; nothing else was measured
    samples: tuple[dict[str, Any], ...] = ()

    @property
    def accuracy(self) -> float | None:
        return None if self.error or not self.problems else self.correct / self.problems

    @property
    def eval_tokens_per_s(self) -> float | None:
        """Throughput of the accuracy run (every problem in flight at once)."""
        return round(self.tokens / self.eval_seconds, 1) if self.eval_seconds > 0 else None

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["tokens_per_s"] = {str(k): v for k, v in self.tokens_per_s.items()}
        data["samples"] = list(self.samples)
        data["accuracy"] = None if self.accuracy is None else round(self.accuracy, 3)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FormatResult:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["tokens_per_s"] = {int(k): float(v) for k, v in (data.get("tokens_per_s") or {}).items()}
        known["samples"] = tuple(data.get("samples") or ())
        return cls(**known)


@dataclass(frozen=True)
class GateResult:
    formats: tuple[FormatResult, ...]
    problem_set: str
    config: GateConfig
    created: str

    def get(self, label: str) -> FormatResult | None:
        return next((f for f in self.formats if f.label == label), None)

    def to_json(self) -> dict[str, Any]:
        return {"version": RESULT_VERSION, "problem_set": self.problem_set, "created": self.created,
                "config": {"max_new_tokens": self.config.max_new_tokens, "speed_tokens": self.config.speed_tokens,
                           "streams": list(self.config.streams)},
                "formats": [f.to_json() for f in self.formats]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GateResult:
        """Raises ``ValueError`` (or ``KeyError``/``TypeError``) on a malformed record."""
        if data.get("version") != RESULT_VERSION:
            raise ValueError(f"quality result version {data.get('version')!r}, expected {RESULT_VERSION}")
        cfg = data["config"]
        config = GateConfig(int(cfg["max_new_tokens"]), int(cfg["speed_tokens"]), tuple(int(s) for s in cfg["streams"]))
        return cls(tuple(FormatResult.from_json(f) for f in data["formats"]), str(data["problem_set"]), config,
                   str(data["created"]))


def builtin_problems(n: int = 50, seed: int = 2026) -> list[GateProblem]:
    """The built-in set (written for this project): arithmetic, percentages, linear and quadratic equations,
    fractions and derivatives, from a fixed seed. Graded with ``form="simplified"``: restating the question
    ("27 \\times 52") is not an answer to it."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    makers = [
        lambda: (lambda a, b: (f"Compute {a} \\times {b}.", str(a * b)))(rng.randint(12, 99), rng.randint(12, 99)),
        lambda: (lambda a, b: (f"Compute {a} + {b}.", str(a + b)))(rng.randint(100, 999), rng.randint(100, 999)),
        lambda: (lambda p, n_: (f"What is {p}% of {n_}?", f"{p * n_ / 100:g}"))(rng.choice([10, 15, 20, 25, 40]),
                                                                                 rng.choice([80, 120, 240, 360])),
        lambda: (lambda a, b, c: (f"Solve for x: {a}x + {b} = {a * c + b}.", str(c)))(
            rng.randint(2, 9), rng.randint(1, 20), rng.randint(-9, 9)),
        lambda: (lambda r, s: (f"Solve x^2 - {r + s}x + {r * s} = 0.", f"x = {r} or x = {s}"))(
            rng.randint(1, 6), rng.randint(7, 12)),
        lambda: (lambda a, b: (f"Simplify \\frac{{1}}{{{a}}} + \\frac{{1}}{{{b}}}.", f"{a + b}/{a * b}"))(
            rng.choice([2, 3, 5, 7]), rng.choice([4, 9, 11, 13])),
        lambda: (lambda k: (f"What is the derivative of x^{k} with respect to x?", f"{k}*x^{k - 1}"))(
            rng.randint(2, 9)),
    ]
    while len(out) < n:
        out.append(makers[len(out) % len(makers)]())
    return [GateProblem(q, a, (("form", "simplified"),)) for q, a in out]


def final_answer_grader(extract: Callable[[str], str | None], check: Callable[..., Any]) -> Grade:
    """A grader from the checker's public functions, passed in: ``final_answer_grader(checker.extract_final_answer,
    checker.check_answer)``. Correct = a final answer is marked and ``check(found, reference, **rules).equivalent``."""

    def grade(reply: str, problem: GateProblem) -> bool:
        found = extract(reply)
        return bool(found) and bool(check(found, problem.reference, **dict(problem.rules)).equivalent)

    return grade


def config_weight_bytes(model_dir: Path | str) -> int | None:
    """Weight memory as served, from ``config.json``: W4A16 for an AWQ checkpoint (its group size), else fp16.
    ``None`` when the config cannot be read."""
    try:
        cfg = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
        shape = memory.ModelShape.from_hf_config(cfg)
        quant = cfg.get("quantization_config") or {}
        if quant.get("quant_method") == "awq":
            return memory.weight_bytes(shape, "w4a16", group_size=int(quant.get("group_size", 128)))
        return memory.weight_bytes(shape, "fp16")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


async def _ask(engine: Engine, question: str, params: GenParams, system: str | None) -> tuple[str, int, str | None]:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": question}]
    text, tokens, error = "", 0, None
    async for chunk in engine.stream(messages, params):
        text, tokens = text + chunk.text, tokens + chunk.tokens
        if chunk.finish_reason == "error":
            error = chunk.error or "the engine failed"
    return text, tokens, error


async def _speed(engine: Engine, streams: int, max_new_tokens: int) -> float:
    """Tokens/s with ``streams`` requests in flight at once, over the fixed prompts (greedy)."""
    params = GenParams(temperature=0.0, top_p=1.0, max_new_tokens=max_new_tokens)
    started = time.perf_counter()
    replies = await asyncio.gather(*(_ask(engine, SPEED_PROMPTS[i % len(SPEED_PROMPTS)], params, None)
                                     for i in range(streams)))
    seconds = time.perf_counter() - started
    return round(sum(tokens for _, tokens, _ in replies) / seconds, 1) if seconds > 0 else 0.0


async def _one_format(label: str, candidate: Candidate, problems: Sequence[GateProblem], grade: Grade,
                      report: Progress, config: GateConfig) -> FormatResult:
    base = FormatResult(label, model=candidate.model, weight_bytes=candidate.weight_bytes)
    report(0.0, f"{label}: loading the model")
    started = time.perf_counter()
    try:
        engine = await asyncio.to_thread(candidate.build, lambda f, text: report(0.1 * f, f"{label}: {text}"))
    except AppError as err:
        return replace(base, error=str(err))
    load_seconds = round(time.perf_counter() - started, 1)
    try:
        params = GenParams(temperature=0.0, top_p=1.0, max_new_tokens=config.max_new_tokens)
        done = 0

        async def one(problem: GateProblem) -> tuple[str, int, str | None, bool]:
            nonlocal done
            text, tokens, error = await _ask(engine, problem.question, params, INSTRUCTION)
            ok = error is None and await asyncio.to_thread(grade, text, problem)
            done += 1
            report(0.1 + 0.6 * done / len(problems), f"{label}: {done} of {len(problems)} problems answered")
            return text, tokens, error, ok

        started = time.perf_counter()
        rows = await asyncio.gather(*(one(p) for p in problems))
        eval_seconds = round(time.perf_counter() - started, 2)
        speed: dict[int, float] = {}
        for i, streams in enumerate(config.streams):
            report(0.7 + 0.3 * i / len(config.streams), f"{label}: speed at {streams} stream(s)")
            speed[streams] = await _speed(engine, streams, config.speed_tokens)
        samples = tuple({"question": p.question, "reference": p.reference, "reply_end": text[-160:], "correct": ok}
                        for p, (text, _, _, ok) in list(zip(problems, rows))[:3])
        info = engine.info
        return FormatResult(
            label, candidate.model, info.backend, info.weight_format, info.device, len(problems),
            correct=sum(ok for *_, ok in rows), failed_replies=sum(err is not None for _, _, err, _ in rows),
            tokens=sum(tokens for _, tokens, _, _ in rows), eval_seconds=eval_seconds, tokens_per_s=speed,
            weight_bytes=candidate.weight_bytes, load_seconds=load_seconds, samples=samples,
        )
    finally:
        report(1.0, f"{label}: closing the engine")
        await engine.close()


async def run_gate(candidates: Mapping[str, Candidate | EngineFactory], problems: Sequence[GateProblem],
                   grade: Grade, progress: Progress | None = None, *, config: GateConfig = GateConfig(),
                   problem_set: str = "") -> GateResult:
    """Test each format in turn (one engine loaded at a time). ``progress(fraction, text)`` covers the whole run."""
    if not problems:
        raise ValueError("the quality gate needs at least one problem")
    report = progress or (lambda fraction, text: None)
    share = 1 / max(1, len(candidates))
    results = []
    for i, (label, candidate) in enumerate(candidates.items()):
        if not isinstance(candidate, Candidate):
            candidate = Candidate(candidate)
        part: Progress = lambda f, text, i=i: report(min(1.0, (i + f) * share), text)  # noqa: E731
        results.append(await _one_format(label, candidate, problems, grade, part, config))
    report(1.0, "Quality gate finished")
    return GateResult(tuple(results), problem_set or f"{len(problems)} problems", config,
                      time.strftime("%Y-%m-%dT%H:%M:%S"))


def store_result(folder: Path | str, result: GateResult) -> Path:
    """Write ``quality.json`` into ``folder`` (a quantized model's cache entry): a temporary file, then a rename,
    so a reader sees the old result or the new one, never half of one."""
    target = Path(folder) / QUALITY_FILE
    fd, tmp = tempfile.mkstemp(prefix=".quality.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(result.to_json(), out, indent=2)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_result(folder: Path | str) -> GateResult | None:
    """The stored result in ``folder``, or ``None`` if there is none or it cannot be read."""
    try:
        return GateResult.from_json(json.loads((Path(folder) / QUALITY_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _source_keys(model: str) -> tuple[str | None, set[str]]:
    """(resolved folder or None, hub cache folder names) that identify where ``model``'s checkpoint lives."""
    if model == "default":
        from engine.default_model import MODEL_NAME
        from engine.paths import sub_cache

        return str((sub_cache("models") / MODEL_NAME).resolve()), set()
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve()), set()
    if model.count("/") == 1:  # a hub id: Hugging Face keeps models--org--name, ModelScope org--name
        flat = model.replace("/", "--").lower()
        return None, {f"models--{flat}", flat}
    return None, set()


def cached_builds(*models: str) -> list[QuantizedModel]:
    """Cached W4A16 builds (newest first) made from any of ``models``: 'default', a folder or a hub id. Reads the
    cache only: never resolves, converts or downloads a model."""
    folders, names = set(), set()
    for model in models:
        folder, hub_names = _source_keys(model)
        if folder:
            folders.add(folder)
        names |= hub_names
    found = []
    for build in list_quantized():
        source = str(build.metadata.get("model_dir", ""))
        if source in folders or names & {part.lower() for part in Path(source).parts}:
            found.append(build)
    return found
