"""Calibration text for AWQ quantization, all of it available offline.

Three sources, each a sequence of :class:`Document` (a question and its worked solution, or plain text):

* :func:`builtin_documents` (the default): this project's math corpus, the handwritten solutions in
  ``worked_examples.md`` followed by an endless, seeded stream from ``generate.py``;
* :func:`file_documents`: a user's ``.txt``/``.md`` (one document), ``.jsonl`` or ``.json`` file;
* :func:`gsm8k_documents`: GSM8K's training split, only if it is already in a local Hugging Face cache.

Not covered: tokenizing, cutting into calibration blocks, hashing (``engine.quantize`` does that).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prompts.calibration.generate import problems

CALIBRATION_DIR = Path(__file__).resolve().parent
GSM8K_REPO = "openai/gsm8k"


@dataclass(frozen=True)
class Document:
    """A worked example (``question`` set: rendered as a user turn and an assistant reply) or plain text."""

    text: str
    question: str | None = None


def handwritten() -> list[Document]:
    """The worked solutions in ``worked_examples.md``: question and solution split by ``===``, examples by ``---``."""
    raw = (CALIBRATION_DIR / "worked_examples.md").read_text(encoding="utf-8")
    docs = []
    for block in re.split(r"^---$", raw, flags=re.M):
        question, _, solution = block.partition("\n===\n")
        docs.append(Document(solution.strip(), question.strip()))
    return docs


def builtin_documents(seed: int = 0) -> Iterator[Document]:
    """Endless: the handwritten examples, then generated ones with varied numbers (reproducible per seed)."""
    generated = (Document(solution, question) for question, solution in problems(seed))
    return itertools.chain(handwritten(), generated)


def _from_record(record: object, where: str) -> Document:
    if isinstance(record, dict):
        if isinstance(record.get("text"), str):
            return Document(record["text"])
        if isinstance(record.get("question"), str) and isinstance(record.get("answer"), str):
            return Document(record["answer"], record["question"])
        messages = record.get("messages")
        if isinstance(messages, list):
            turns = [m.get("content", "") for m in messages if isinstance(m, dict)]
            return Document("\n\n".join(t for t in turns if isinstance(t, str)))
    raise ValueError(
        f"{where}: each record needs 'text', or 'question' and 'answer', or 'messages' (got {str(record)[:80]!r})."
    )


def file_documents(path: Path) -> list[Document]:
    """A user's calibration file. Raises ``ValueError`` (with the line) for a malformed JSON file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        try:
            return [_from_record(json.loads(line), f"{path.name} line {n}") for n, line in lines]
        except json.JSONDecodeError as err:
            raise ValueError(f"{path.name} is not valid JSON Lines: {err}") from err
    if path.suffix == ".json":
        try:
            records = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path.name} is not valid JSON: {err}") from err
        if not isinstance(records, list):
            raise ValueError(f"{path.name} must hold a JSON list of records.")
        return [_from_record(r, f"{path.name} item {i}") for i, r in enumerate(records)]
    return [Document(text)] if text.strip() else []


def _gsm8k_answer(answer: str) -> str:
    """GSM8K writes calculator notes as <<48/2=24>> and ends with '#### 72'; keep the prose and box the answer."""
    body, _, final = answer.partition("####")
    body = re.sub(r"<<[^>]*>>", "", body).strip()
    return f"{body}\nThe answer is $\\boxed{{{final.strip()}}}$." if final.strip() else body


def gsm8k_files(roots: Iterable[Path] | None = None) -> list[Path]:
    """GSM8K training files already on disk: ``datasets`` Arrow caches or hub-cache Parquet snapshots."""
    if roots is None:
        hf_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
        roots = [
            Path(os.environ.get("HF_DATASETS_CACHE", hf_home / "datasets")),
            Path(os.environ.get("HF_HUB_CACHE", hf_home / "hub")),
        ]
    found: list[Path] = []
    for root in roots:
        found += root.glob("openai___gsm8k/main/*/*/gsm8k-train*.arrow")
        found += root.glob("datasets--openai--gsm8k/snapshots/*/main/train-*.parquet")
    if not found:
        return []
    newest = max(found, key=lambda f: f.stat().st_mtime).parent  # one copy only, however many caches hold one
    return sorted(f for f in found if f.parent == newest)


def gsm8k_documents(roots: Iterable[Path] | None = None) -> list[Document]:
    """GSM8K's training split from the local cache, never from the network. ``FileNotFoundError`` if absent."""
    files = gsm8k_files(roots)
    if not files:
        raise FileNotFoundError("GSM8K is not in the local Hugging Face cache (HF_DATASETS_CACHE / HF_HUB_CACHE).")
    from datasets import Dataset, concatenate_datasets

    parts = [Dataset.from_file(str(f)) if f.suffix == ".arrow" else Dataset.from_parquet(str(f)) for f in files]
    rows = concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    return [Document(_gsm8k_answer(r["answer"]), r["question"]) for r in rows]
