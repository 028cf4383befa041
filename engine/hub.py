"""Downloads a model snapshot from Hugging Face or ModelScope into the app's cache, resumably, with progress.

:func:`download_model` uses each hub's own ``snapshot_download`` (both resume interrupted files and reuse a
complete snapshot without a network round trip when the hub is unreachable). ``source="auto"`` tries Hugging
Face, then ModelScope (the tutorial's hub; catalog entries map between the two ids). When no hub can be reached
the error says so and lists the models already on this machine (:func:`cached_models`).

Progress goes to a ``progress(fraction, text)`` callback and, through tqdm, to the command line.
Not covered: which model to use (``engine.models``, ``engine.catalog``), converting or quantizing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from engine.errors import ModelUnavailableError
from engine.paths import sub_cache

Progress = Callable[[float, str], None]
Source = Literal["huggingface", "modelscope", "auto"]
SOURCES: tuple[str, ...] = ("huggingface", "modelscope", "auto")
_NAMES = {"huggingface": "Hugging Face", "modelscope": "ModelScope"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Other formats of the same weights, never loaded here. (*.bin stays: some checkpoints ship only that.)
_SKIP = ["*.gguf", "*.pth", "*.pt", "*.onnx", "*.msgpack", "*.h5", "*.ot", "original/*", "onnx/*"]


@dataclass(frozen=True)
class CachedModel:
    model_id: str
    source: str  # "huggingface" | "modelscope"
    path: Path  # the newest snapshot folder
    size_bytes: int


class _Unreachable(Exception):
    """One hub could not be reached (or is switched off); another hub or the cache may still help."""


def hub_cache(source: str) -> Path:
    """Where downloads from ``source`` live: ``<cache>/hub/huggingface`` or ``<cache>/hub/modelscope``."""
    return sub_cache("hub") / source


def download_model(
    model_id: str,
    *,
    source: Source = "auto",
    revision: str | None = None,
    progress: Progress | None = None,
    hf_endpoint: str | None = None,
    modelscope_endpoint: str | None = None,
) -> Path:
    """Download (or find in the cache) ``model_id`` and return its local snapshot folder.

    Raises :class:`ModelUnavailableError` when the id is malformed or unknown, the repository is gated, or no
    hub can be reached and the model is not cached; the message lists what is cached.
    """
    if source not in SOURCES:
        raise ModelUnavailableError(f"source must be one of {', '.join(SOURCES)} (got {source!r}).")
    if not _HUB_ID.match(model_id):
        raise ModelUnavailableError(f"{model_id!r} is not a hub id: expected 'organisation/name'.")
    report = progress or (lambda fraction, text: None)
    tried: list[str] = []
    for hub in ("huggingface", "modelscope") if source == "auto" else (source,):
        hub_id = _id_on(hub, model_id)
        report(0.0, f"Looking for {hub_id} on {_NAMES[hub]}")
        try:
            if hub == "huggingface":
                path = _from_huggingface(hub_id, revision, report, hf_endpoint)
            else:
                path = _from_modelscope(hub_id, revision, report, modelscope_endpoint)
        except _Unreachable as err:
            tried.append(f"{_NAMES[hub]} ({hub_id}): {err}")
            continue
        report(1.0, f"{hub_id} is ready")
        return path
    raise ModelUnavailableError(_unreachable_message(model_id, tried))


def _id_on(hub: str, model_id: str) -> str:
    """The same model's id on ``hub`` when the catalog knows both ids (e.g. InternLM on ModelScope)."""
    from engine.catalog import load_catalog

    entry = load_catalog().find(model_id)
    if entry is None:
        return model_id
    ids = [entry.huggingface_id, entry.modelscope_id]
    if entry.awq and model_id.lower() in {i.lower() for i in (entry.awq.huggingface_id, entry.awq.modelscope_id) if i}:
        ids = [entry.awq.huggingface_id, entry.awq.modelscope_id]
    return (ids[0] if hub == "huggingface" else ids[1]) or model_id


def _from_huggingface(model_id: str, revision: str | None, report: Progress, endpoint: str | None) -> Path:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if constants.HF_HUB_OFFLINE:
        report(0.0, "HF_HUB_OFFLINE is set: using the local cache only")
    try:
        folder = snapshot_download(
            model_id,
            revision=revision,
            cache_dir=hub_cache("huggingface"),
            endpoint=endpoint,
            ignore_patterns=_SKIP,
            tqdm_class=_progress_tqdm(report, model_id),
        )
    except GatedRepoError as err:
        raise ModelUnavailableError(
            f"{model_id} is gated on Hugging Face: accept its licence on the model page, then set HF_TOKEN "
            "(a read token) and try again."
        ) from err
    except RevisionNotFoundError as err:
        raise ModelUnavailableError(f"{model_id} has no revision {revision!r} on Hugging Face.") from err
    except RepositoryNotFoundError as err:
        raise _Unreachable(f"no model {model_id} there (check the spelling)") from err
    except LocalEntryNotFoundError as err:
        why = "HF_HUB_OFFLINE=1 is set" if constants.HF_HUB_OFFLINE else "cannot reach the hub"
        raise _Unreachable(f"{why}, and {model_id} is not (completely) in the cache") from err
    except OSError as err:  # connection dropped mid-download (httpx errors are OSErrors here too)
        raise _Unreachable(f"the download stopped ({err}); run again to resume") from err
    return Path(folder)


def _from_modelscope(model_id: str, revision: str | None, report: Progress, endpoint: str | None) -> Path:
    import requests
    from modelscope.hub.callback import ProgressCallback, TqdmCallback
    from modelscope.hub.snapshot_download import snapshot_download

    class _Report(ProgressCallback):  # one per file; ModelScope gives no total for the whole snapshot
        def __init__(self, filename: str, file_size: int) -> None:
            super().__init__(filename, file_size)
            self.done = 0

        def update(self, size: int) -> None:
            self.done += size
            if self.file_size > 0:
                report(min(1.0, self.done / self.file_size), f"Downloading {model_id}: {self.filename}")

    try:
        folder = snapshot_download(
            model_id,
            revision=revision,
            cache_dir=str(hub_cache("modelscope")),
            endpoint=endpoint,
            ignore_patterns=_SKIP,
            progress_callbacks=[TqdmCallback, _Report],
        )
    except requests.HTTPError as err:  # ModelScope's compat layer turns "not found" and auth errors into these
        raise _Unreachable(f"no model {model_id} there, or it needs a login ({err})") from err
    except OSError as err:  # modelscope's NetworkError is a ConnectionError
        raise _Unreachable(f"cannot reach the hub ({type(err).__name__})") from err
    return Path(folder)


def _progress_tqdm(report: Progress, model_id: str) -> type:
    """A tqdm class for huggingface_hub that also forwards the byte counts to ``report``."""
    from tqdm.auto import tqdm

    class _Bar(tqdm):  # type: ignore[misc, valid-type]
        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            if self.unit == "B" and self.total and str(self.desc).startswith("Download"):
                report(min(1.0, self.n / self.total), f"Downloading {model_id}: {self.n / 2**20:.1f} of "
                       f"{self.total / 2**20:.1f} MiB")
            return shown

    return _Bar


def cached_models() -> list[CachedModel]:
    """Models with a snapshot in this app's hub cache (both hubs), newest snapshot of each."""
    found: list[CachedModel] = []
    from huggingface_hub import scan_cache_dir

    hf_root = hub_cache("huggingface")
    if hf_root.is_dir():
        for repo in scan_cache_dir(hf_root).repos:
            if repo.repo_type == "model" and repo.revisions:
                newest = max(repo.revisions, key=lambda r: r.last_modified)
                found.append(CachedModel(repo.repo_id, "huggingface", newest.snapshot_path, repo.size_on_disk))
    # ModelScope keeps {cache}/models/{owner}--{name}/snapshots/{revision}/ (hand-read: its scanner is private).
    for repo_dir in sorted((hub_cache("modelscope") / "models").glob("*--*")):
        snapshots = sorted((repo_dir / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime)
        if snapshots:
            size = sum(f.stat().st_size for f in repo_dir.rglob("*") if f.is_file())
            found.append(CachedModel(repo_dir.name.replace("--", "/", 1), "modelscope", snapshots[-1], size))
    return sorted(found, key=lambda m: (m.model_id.lower(), m.source))


def _unreachable_message(model_id: str, tried: list[str]) -> str:
    cached = cached_models()
    listing = (
        "Models already on this machine: " + "; ".join(f"{m.model_id} ({_NAMES[m.source]})" for m in cached) + "."
        if cached
        else "No downloaded models are cached yet; the offline default ('default') always works."
    )
    return (
        f"Cannot get {model_id}: " + "; ".join(tried) + ". Connect to the internet (or set HF_ENDPOINT to a "
        f"mirror) and try again, or pick a model that is already here. {listing}"
    )


def describe_cache() -> list[dict[str, Any]]:
    """:func:`cached_models` as plain dicts (for the settings panel's model picker)."""
    return [
        {"model": m.model_id, "source": m.source, "path": str(m.path), "size_gib": round(m.size_bytes / 2**30, 2)}
        for m in cached_models()
    ]
