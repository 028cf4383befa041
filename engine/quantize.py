"""AWQ W4A16 quantization of a Hugging Face checkpoint with lmdeploy's lite code: offline, cached and atomic.

:func:`quantize` checks the model before any work (an AWQ-capable architecture, every linear layer's input size
divisible by the group size, as TurboMind's kernels need), tokenizes calibration text that never needs the network
(``prompts.calibration``: this project's math corpus by default, a user file, or GSM8K only if already cached),
and runs AWQ through ``engine.lmdeploy_api``. The result lives in ``<cache>/quantized/<name>-w4g128-<key>``; the
key hashes the model (path, config, weight files), revision, bits, group size and the calibration tokens, so the
same request returns at once. It is built in a temporary folder and renamed into place only when complete, so a
crash never leaves a half-written model that looks finished. :func:`quantize_main` is ``app.py quantize``.

Not covered: evaluating the result (the quality gate), serving it, downloading models (``engine.hub``).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.errors import AppError, EngineLoadError, ModelUnavailableError, SettingsError
from engine.memory import ModelShape
from engine.paths import sub_cache
from engine.settings import Range

Progress = Callable[[float, str], None]
METADATA = "tutor_quant.json"  # written last, inside the temporary folder: its presence marks a complete result
FORMAT_VERSION = 1
W_BITS = (4,)  # TurboMind serves 4-bit AWQ only
GROUP_SIZES = (128, 64, 32)  # TurboMind wants 128; lmdeploy's PyTorch engine also serves 64 and 32
DEVICES = ("auto", "cpu", "cuda")
CALIB_SAMPLES = Range(1, 1024, 128, 1)
CALIB_SEQLEN = Range(16, 8192, 1024, 16)
BATCH_SIZE = Range(1, 64, 1, 1)


@dataclass(frozen=True)
class QuantizeOptions:
    """The tutorial's ``lmdeploy lite auto_awq`` flags. ``calib_data``: None (built-in math), "gsm8k" or a file."""

    calib_samples: int = int(CALIB_SAMPLES.default)
    calib_seqlen: int = int(CALIB_SEQLEN.default)
    w_bits: int = 4
    w_group_size: int = 128
    calib_data: str | None = None
    device: str = "auto"
    revision: str | None = None
    search_scale: bool = False
    batch_size: int = 1
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        CALIB_SAMPLES.check("calib_samples", self.calib_samples)
        CALIB_SEQLEN.check("calib_seqlen", self.calib_seqlen)
        BATCH_SIZE.check("batch_size", self.batch_size)
        if self.w_bits not in W_BITS:
            raise SettingsError(f"w_bits must be 4 (TurboMind serves 4-bit AWQ only; got {self.w_bits}).")
        if self.w_group_size not in GROUP_SIZES:
            raise SettingsError(f"w_group_size must be one of {GROUP_SIZES} (got {self.w_group_size}).")
        if self.device not in DEVICES:
            raise SettingsError(f"device must be one of {', '.join(DEVICES)} (got {self.device!r}).")


@dataclass(frozen=True)
class Calibration:
    tokens: Any  # torch.LongTensor [samples, seqlen]
    source: str
    sha256: str


@dataclass(frozen=True)
class QuantizedModel:
    """A finished cache entry, as the model picker lists it."""

    path: Path
    model: str
    w_bits: int
    w_group_size: int
    calibration: str
    metadata: dict[str, Any]


def _config(model_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelUnavailableError(
            f"{model_dir} has no readable config.json: point at a Hugging Face model folder."
        ) from err


def check_model(model_dir: Path, options: QuantizeOptions) -> ModelShape:
    """Refuse, before any work, a model lmdeploy's AWQ cannot take or whose shapes TurboMind cannot serve."""
    from engine import lmdeploy_api

    cfg = _config(model_dir)
    if cfg.get("quantization_config"):
        method = cfg["quantization_config"].get("quant_method", "some method")
        raise EngineLoadError(f"{model_dir.name} is already quantized ({method}): quantize the original model.")
    arch = (cfg.get("architectures") or ["(none)"])[0]
    supported = lmdeploy_api.awq_architectures()
    if arch not in supported:
        raise EngineLoadError(f"lmdeploy's AWQ cannot quantize {arch}. It supports: {', '.join(sorted(supported))}.")
    try:
        shape = ModelShape.from_hf_config(cfg)
    except (KeyError, TypeError, ValueError) as err:
        raise EngineLoadError(f"{model_dir.name}'s config.json lacks a size AWQ needs ({err}).") from err
    group, pack = options.w_group_size, 32 // options.w_bits
    bad = [f"{name} (input {i})" for name, (i, o) in shape.linear_shapes().items() if i % group]
    bad += [f"{name} (output {o})" for name, (i, o) in shape.linear_shapes().items() if o % pack]
    if bad:
        raise EngineLoadError(
            f"Cannot quantize {model_dir.name} with group size {group}: AWQ needs every linear layer's input size "
            f"divisible by the group size (TurboMind uses 128) and output size by {pack}; "
            f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not. Serve this model in fp16 instead"
            + (", or try --w-group-size 64 or 32 (lmdeploy's PyTorch engine serves those)." if group == 128 else ".")
        )
    return shape


def _documents(calib_data: str | None) -> tuple[Iterable[Any], str]:
    from prompts import calibration

    if calib_data in (None, "", "math"):
        return calibration.builtin_documents(), "built-in math corpus"
    if calib_data == "gsm8k":
        try:
            docs = calibration.gsm8k_documents()
        except FileNotFoundError as err:
            raise SettingsError(
                "GSM8K is not in this machine's Hugging Face cache, and the app never downloads it. Leave out "
                "--calib-data to use the built-in math corpus, or pass --calib-data FILE."
            ) from err
        return docs, "gsm8k (local cache)"
    path = Path(calib_data).expanduser()
    if not path.is_file():
        raise SettingsError(f"Calibration file {path} does not exist (use a .txt, .md, .jsonl or .json file).")
    try:
        return calibration.file_documents(path), f"file {path.name}"
    except (ValueError, UnicodeDecodeError) as err:
        raise SettingsError(f"Cannot use {path} for calibration: {err}") from err


def _render(tokenizer: Any, doc: Any) -> str:
    """A worked example as the model sees a chat (its own template), else plain text ending in its EOS token."""
    if doc.question is not None and getattr(tokenizer, "chat_template", None):
        turns = [{"role": "user", "content": doc.question}, {"role": "assistant", "content": doc.text}]
        return str(tokenizer.apply_chat_template(turns, tokenize=False))
    text = f"{doc.question}\n\n{doc.text}" if doc.question else doc.text
    return text + (tokenizer.eos_token or "\n\n")


def calibration_tokens(model_dir: Path, options: QuantizeOptions) -> Calibration:
    """``calib_samples`` blocks of ``calib_seqlen`` tokens of calibration text (fewer if a finite source runs out)."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=options.trust_remote_code)
    docs, source = _documents(options.calib_data)
    need, ids, stream = options.calib_samples * options.calib_seqlen, [], iter(docs)
    while len(ids) < need and (batch := list(itertools.islice(stream, 64))):
        for row in tokenizer([_render(tokenizer, d) for d in batch], add_special_tokens=False)["input_ids"]:
            ids.extend(row)
    blocks = min(options.calib_samples, len(ids) // options.calib_seqlen)
    if blocks == 0:
        raise SettingsError(
            f"The calibration text ({source}) has {len(ids)} tokens, less than one block of {options.calib_seqlen}: "
            "use more text or a smaller --calib-seqlen."
        )
    tokens = torch.tensor(ids[: blocks * options.calib_seqlen], dtype=torch.long).view(blocks, options.calib_seqlen)
    return Calibration(tokens, source, hashlib.sha256(tokens.numpy().tobytes()).hexdigest())


def _fingerprint(model_dir: Path) -> dict[str, Any]:
    """Identifies the checkpoint without hashing gigabytes: its path, config and weight files' sizes and times."""
    weights = sorted(
        [f.name, f.stat().st_size, f.stat().st_mtime_ns]
        for f in model_dir.iterdir()
        if f.suffix in (".safetensors", ".bin") or f.name.endswith(".index.json")
    )
    config = hashlib.sha256((model_dir / "config.json").read_bytes()).hexdigest()
    return {"path": str(model_dir), "config": config, "weights": weights}


def _name(model_dir: Path) -> str:
    """'org--name' for a hub snapshot (…/models--org--name/snapshots/<sha>), else the folder name."""
    parts = model_dir.parts
    name = parts[-3].removeprefix("models--") if len(parts) > 2 and parts[-2] == "snapshots" else model_dir.name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)[:60] or "model"


def read_metadata(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((Path(folder) / METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT_VERSION else None


def list_quantized() -> list[QuantizedModel]:
    """Complete cache entries, newest first (temporary and crashed builds are hidden folders and never listed)."""
    found = []
    for folder in sub_cache("quantized").iterdir():
        meta = read_metadata(folder) if folder.is_dir() and not folder.name.startswith(".") else None
        if meta:
            found.append(QuantizedModel(folder, meta["model"], meta["w_bits"], meta["w_group_size"],
                                        meta["calibration"]["source"], meta))
    return sorted(found, key=lambda q: q.metadata.get("created", ""), reverse=True)


def _device(requested: str) -> str:
    import torch

    cuda = torch.cuda.is_available()
    if requested == "cuda" and not cuda:
        raise SettingsError("device 'cuda' was asked for, but no CUDA GPU is visible: use --device cpu.")
    return ("cuda" if cuda else "cpu") if requested == "auto" else requested


def quantize(
    model_dir: Path | str,
    work_dir: Path | str | None = None,
    *,
    calib_samples: int = 128,
    calib_seqlen: int = 1024,
    w_bits: int = 4,
    w_group_size: int = 128,
    calib_data: str | None = None,
    device: str = "auto",
    revision: str | None = None,
    search_scale: bool = False,
    batch_size: int = 1,
    trust_remote_code: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Quantize ``model_dir`` to AWQ W4A16 and return the folder (``work_dir`` if given, else the cache entry)."""
    options = QuantizeOptions(calib_samples, calib_seqlen, w_bits, w_group_size, calib_data, device, revision,
                              search_scale, batch_size, trust_remote_code)
    report = progress or (lambda fraction, text: None)
    model_dir = Path(model_dir).expanduser().resolve()
    report(0.0, f"Checking {model_dir.name}")
    check_model(model_dir, options)
    resolved_device = _device(options.device)
    report(0.01, "Preparing the calibration text")
    calib = calibration_tokens(model_dir, options)
    from engine import lmdeploy_api

    spec = {
        "format": FORMAT_VERSION, "lmdeploy": lmdeploy_api.lmdeploy_version(), "model": _fingerprint(model_dir),
        "revision": revision, "w_bits": w_bits, "w_group_size": w_group_size, "search_scale": search_scale,
        "calibration": [calib.sha256, list(calib.tokens.shape)],
    }
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    root = sub_cache("quantized")
    entry = root / f"{_name(model_dir)}-w{w_bits}g{w_group_size}-{key}"

    from filelock import FileLock  # one build per key at a time, across processes

    with FileLock(str(root / f".{key}.lock")):
        if read_metadata(entry) is None:
            for stale in root.glob(f".tmp-{key}-*"):  # left by a build that crashed (we hold the key's lock)
                shutil.rmtree(stale, ignore_errors=True)
            shutil.rmtree(entry, ignore_errors=True)  # only a tampered entry lacks its metadata
            _build(model_dir, root / f".tmp-{key}-{os.getpid()}", entry, options, resolved_device, calib, key,
                   report)
        else:
            report(1.0, f"Already quantized: {entry.name}")
    return _publish(entry, Path(work_dir), key) if work_dir else entry


def _build(model_dir: Path, tmp: Path, entry: Path, options: QuantizeOptions, device: str, calib: Calibration,
           key: str, report: Progress) -> None:
    from engine import lmdeploy_api

    started = time.monotonic()
    try:
        tmp.mkdir(parents=True)
        try:
            lmdeploy_api.awq_quantize(
                model_dir, tmp, calib.tokens, w_bits=options.w_bits, w_group_size=options.w_group_size,
                device=device, search_scale=options.search_scale, batch_size=options.batch_size,
                trust_remote_code=options.trust_remote_code, progress=lambda f, t: report(0.03 + 0.96 * f, t),
            )
        except MemoryError as err:
            raise EngineLoadError("Out of memory while quantizing: lower --calib-samples or --calib-seqlen.") from err
        except RuntimeError as err:
            if "out of memory" not in str(err).lower():
                raise
            raise EngineLoadError(
                "Out of GPU memory while quantizing: lower --calib-seqlen, --calib-samples or --batch-size."
            ) from err
        meta = {
            "format": FORMAT_VERSION, "key": key, "model": _name(model_dir), "model_dir": str(model_dir),
            "revision": options.revision, "w_bits": options.w_bits, "w_group_size": options.w_group_size,
            "search_scale": options.search_scale, "device": device,
            "calibration": {"source": calib.source, "samples": int(calib.tokens.shape[0]),
                            "seqlen": int(calib.tokens.shape[1]), "sha256": calib.sha256},
            "options": asdict(options), "lmdeploy": lmdeploy_api.lmdeploy_version(),
            "seconds": round(time.monotonic() - started, 1), "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        (tmp / METADATA).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        tmp.rename(entry)  # atomic on one filesystem: the entry appears complete or not at all
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(1.0, f"Quantized in {time.monotonic() - started:.0f} s: {entry.name}")


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # same filesystem: no second copy of the weights
    except OSError:
        shutil.copy2(src, dst)


def _publish(entry: Path, work_dir: Path, key: str) -> Path:
    """Place the cached result at ``work_dir`` too (the tutorial's --work-dir), swapping folders atomically."""
    work_dir = work_dir.expanduser().resolve()
    previous = read_metadata(work_dir)
    if previous and previous.get("key") == key:
        return work_dir
    if work_dir.exists() and previous is None and any(work_dir.iterdir()):
        raise SettingsError(f"{work_dir} already holds other files: choose a new or empty --work-dir.")
    work_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp, old = (work_dir.with_name(f".{work_dir.name}.{what}-{os.getpid()}") for what in ("tmp", "old"))
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(entry, tmp, copy_function=_link_or_copy)
    if work_dir.exists():
        work_dir.rename(old)
    tmp.rename(work_dir)
    shutil.rmtree(old, ignore_errors=True)
    return work_dir


def _resolve(model: str, revision: str | None, trust: bool, progress: Progress) -> tuple[Path, bool]:
    """CLI: a folder, 'default', a catalog id or a hub id -> (local folder, trust_remote_code)."""
    from engine.models import resolve_model

    if Path(model).expanduser().is_dir():
        return resolve_model(str(Path(model).expanduser()), progress=progress), trust
    from engine.catalog import load_catalog
    from engine.hub import download_model

    entry = load_catalog().find(model)
    if entry is not None and entry.id == "default":
        return resolve_model("default", progress=progress), trust
    if entry is not None and not entry.is_custom and entry.huggingface_id:
        folder = download_model(entry.huggingface_id, revision=revision, progress=progress)
        return folder, trust or entry.trust_remote_code
    return download_model(model, revision=revision, progress=progress), trust


def quantize_main(argv: list[str]) -> int:
    """``python app.py quantize MODEL [--work-dir DIR] [...]``: the tutorial's ``lmdeploy lite auto_awq`` flags."""
    parser = argparse.ArgumentParser(
        prog="app.py quantize",
        description="Quantize a model to 4-bit AWQ (W4A16) with lmdeploy, offline. The result is cached.",
    )
    parser.add_argument("model", help="'default', a catalog id (e.g. qwen2.5-math-1.5b), a model folder or a hub id")
    parser.add_argument("--work-dir", help="also put the quantized model in this folder (default: the cache only)")
    parser.add_argument("--calib-samples", type=int, default=int(CALIB_SAMPLES.default))
    parser.add_argument("--calib-seqlen", type=int, default=int(CALIB_SEQLEN.default))
    parser.add_argument("--w-bits", type=int, default=4, choices=W_BITS)
    parser.add_argument("--w-group-size", type=int, default=128, choices=GROUP_SIZES)
    parser.add_argument("--calib-data", help="a .txt/.md/.jsonl/.json file, or 'gsm8k' if cached (default: "
                                             "the built-in math corpus)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--revision", help="hub revision (branch, tag or commit) when MODEL is a hub id")
    parser.add_argument("--search-scale", action="store_true", help="search AWQ scales (slower, sometimes better)")
    parser.add_argument("--batch-size", type=int, default=1, help="calibration batch (more memory, faster)")
    parser.add_argument("--trust-remote-code", action="store_true")
    args = parser.parse_args(argv)

    from tqdm.auto import tqdm

    with tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}]") as bar:
        def progress(fraction: float, text: str) -> None:
            bar.n = round(100 * max(0.0, min(1.0, fraction)), 1)
            bar.set_description(text[:70], refresh=True)

        try:
            model_dir, trust = _resolve(args.model, args.revision, args.trust_remote_code, progress)
            path = quantize(
                model_dir, args.work_dir, calib_samples=args.calib_samples, calib_seqlen=args.calib_seqlen,
                w_bits=args.w_bits, w_group_size=args.w_group_size, calib_data=args.calib_data,
                device=args.device, revision=args.revision, search_scale=args.search_scale,
                batch_size=args.batch_size, trust_remote_code=trust, progress=progress,
            )
        except AppError as err:
            bar.close()
            print(f"error: {err}", file=sys.stderr)
            return 2
    print(path)
    return 0
