"""The shipped model catalog: it loads, its figures agree with the memory arithmetic, bad data is refused."""

from __future__ import annotations

import copy
import json

import pytest

from engine.catalog import CATALOG_PATH, CatalogError, load_catalog, parse_catalog
from engine.memory import GiB, minimum_gpu_bytes, param_count, weight_bytes

REQUIRED = {
    "default": "Qwen/Qwen2.5-Coder-0.5B-Instruct",
    "internlm2-math-plus-1_8b": "internlm/internlm2-math-plus-1_8b",
    "internlm2-math-plus-7b": "internlm/internlm2-math-plus-7b",
    "qwen2.5-math-1.5b": "Qwen/Qwen2.5-Math-1.5B-Instruct",
    "qwen2.5-math-7b": "Qwen/Qwen2.5-Math-7B-Instruct",
    "deepseek-r1-distill-qwen-1.5b": "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
}


def _raw() -> dict:
    return json.loads(CATALOG_PATH.read_text(encoding="utf-8"))


def test_catalog_offers_the_issue_models_and_custom():
    catalog = load_catalog()
    for entry_id, hf_id in REQUIRED.items():
        entry = catalog.get(entry_id)
        assert entry.huggingface_id == hf_id
        assert entry.modelscope_id and entry.license and entry.source
    assert catalog.get("custom").is_custom
    assert catalog.get("default").local == "gguf-wheels"
    # The tutorial downloads InternLM from ModelScope under the Shanghai AI Lab organisation.
    assert catalog.get("internlm2-math-plus-7b").modelscope_id.startswith("Shanghai_AI_Laboratory/")


@pytest.mark.parametrize("entry_id", list(REQUIRED))
def test_figures_match_the_architecture(entry_id):
    """Stated parameter count, weight sizes and minimum GPU memory agree with engine.memory within rounding."""
    entry = load_catalog().get(entry_id)
    shape = entry.shape()
    assert param_count(shape) / 1e9 == pytest.approx(entry.params_billion, rel=0.01)
    for fmt in ("fp16", "w4a16"):
        assert weight_bytes(shape, fmt) / GiB == pytest.approx(getattr(entry.weights_gib, fmt), abs=0.02)
        need = minimum_gpu_bytes(shape, fmt) / GiB
        assert need <= getattr(entry.gpu_memory_gib, fmt) <= need + 0.15
    arch = entry.architecture
    assert arch.hidden % 128 == 0 and arch.intermediate % 128 == 0  # all are TurboMind-AWQ friendly


def test_awq_checkpoints_are_listed_only_where_official():
    catalog = load_catalog()
    assert catalog.get("default").awq.huggingface_id == "Qwen/Qwen2.5-Coder-0.5B-Instruct-AWQ"
    assert [e.id for e in catalog if e.has_awq] == ["default"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("default", "default"),
        ("Qwen/Qwen2.5-Math-7B-Instruct", "qwen2.5-math-7b"),
        ("qwen/qwen2.5-math-7b-instruct", "qwen2.5-math-7b"),
        ("Shanghai_AI_Laboratory/internlm2-math-plus-1_8b", "internlm2-math-plus-1_8b"),
        ("Qwen/Qwen2.5-Coder-0.5B-Instruct-AWQ", "default"),
        ("someone/unknown-model", None),
    ],
)
def test_find_maps_what_a_user_typed(typed, expected):
    entry = load_catalog().find(typed)
    assert (entry.id if entry else None) == expected


def _broken(mutate) -> dict:
    data = copy.deepcopy(_raw())
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["models"][1]["architecture"].update(kv_heads=5), "multiple of kv_heads"),
        (lambda d: d["models"][1]["architecture"].pop("vocab"), "vocab"),
        (lambda d: d["models"][1].update(weights_gib={"fp16": 1.0, "w4a16": 2.0}), "w4a16 < fp16"),
        (lambda d: d["models"][1].update(gpu_memory_gib={"fp16": 1.0, "w4a16": 0.5}), "must exceed"),
        (lambda d: d["models"][1].update(params_billion=None), "lacks params_billion"),
        (lambda d: d["models"][1].update(huggingface_id="no-slash"), "org/name"),
        (lambda d: d["models"][1].update(paramz=1), "paramz"),
        (lambda d: d["models"][1]["architecture"].update(layers="many"), "layers"),
        (lambda d: d["models"].append(copy.deepcopy(d["models"][1])), "Duplicate"),
        (lambda d: d["models"].pop(0), "default"),
    ],
)
def test_bad_catalogs_are_refused_with_a_pointed_message(mutate, message):
    with pytest.raises(CatalogError, match=message):
        parse_catalog(_broken(mutate))


def test_unreadable_catalog_file(tmp_path):
    bad = tmp_path / "catalog.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogError, match="Cannot read"):
        load_catalog(bad)


def test_entries_are_frozen():
    entry = load_catalog().get("default")
    with pytest.raises(AttributeError):
        entry.name = "changed"  # type: ignore[misc]
