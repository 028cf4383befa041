"""The parts of the lmdeploy backend that run without a GPU, against the real lmdeploy 0.18 code (no mocks).

Covered: lmdeploy imports only where it should; backend configs built from the settings (TurboMind and PyTorch
engine, AWQ and fp16); AWQ detection from config.json; the chat template lmdeploy applies; the generation config;
and the clear refusal of ``--backend lmdeploy`` on a machine without CUDA. Streaming is in tests/gpu.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine import lmdeploy_api as api
from engine.base import GenParams
from engine.errors import EngineLoadError
from engine.factory import choose_backend, create_engine, cuda_available
from engine.settings import EngineSettings
from tests.fixtures.tiny_model import build_tiny_qwen2

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny") / "qwen2", hidden=256)


def _awq_copy(src: Path, dest: Path, method: str = "awq") -> Path:
    """A folder whose config.json declares a quantization method (the weights are irrelevant to detection)."""
    dest.mkdir()
    config = json.loads((src / "config.json").read_text())
    config["quantization_config"] = {"quant_method": method, "bits": 4, "group_size": 128, "version": "gemm",
                                     "zero_point": True}
    (dest / "config.json").write_text(json.dumps(config))
    return dest


def test_lmdeploy_is_pinned_and_imported_only_on_demand() -> None:
    assert api.lmdeploy_version() == api.LMDEPLOY_VERSION == "0.18.0"
    code = (
        "import sys, engine.lmdeploy_api, engine.lmdeploy_backend, engine.factory, engine.fake; "
        "print('lmdeploy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_only_the_api_module_imports_lmdeploy() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("engine", "ui")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "lmdeploy_api.py" and any(
            line.strip().startswith(("import lmdeploy", "from lmdeploy")) for line in path.read_text().splitlines()
        )
    ] + [str(p.relative_to(ROOT)) for p in [ROOT / "app.py"] if "import lmdeploy" in p.read_text()]
    assert offenders == []


def test_awq_detection(tiny_dir: Path, tmp_path: Path) -> None:
    awq = _awq_copy(tiny_dir, tmp_path / "awq")
    assert not api.is_awq_checkpoint(tiny_dir) and api.quant_method(tiny_dir) is None
    assert api.is_awq_checkpoint(awq)
    assert api.resolve_model_format(tiny_dir, "auto") == "hf"
    assert api.resolve_model_format(awq, "auto") == "awq"
    assert api.resolve_model_format(awq, "awq") == "awq"
    assert api.resolve_model_format(tiny_dir, "hf") == "hf"


@pytest.mark.parametrize(
    ("quantized", "requested", "says"),
    [(False, "awq", "python app.py quantize"), (True, "hf", "--model-format awq"), ("gptq", "auto", "gptq")],
)
def test_format_mismatch_is_a_clear_error(tiny_dir: Path, tmp_path: Path, quantized: object, requested: str,
                                          says: str) -> None:
    folder = tiny_dir if quantized is False else _awq_copy(tiny_dir, tmp_path / "q", "awq" if quantized is True
                                                          else str(quantized))
    with pytest.raises(EngineLoadError, match=says.replace(".", r"\.")):
        api.resolve_model_format(folder, requested)


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineLoadError, match="config.json"):
        api.quant_method(tmp_path)


@pytest.mark.parametrize("model_format", ["awq", "hf"])
def test_turbomind_config_from_settings(model_format: str) -> None:
    from lmdeploy import TurbomindEngineConfig

    settings = EngineSettings(backend="lmdeploy", cache_max_entry_count=0.3, session_len=8192, max_batch_size=16, tp=2)
    config = api.build_backend_config(settings, model_format, turbomind=True)
    assert isinstance(config, TurbomindEngineConfig)
    assert api.backend_kind(config) == api.TURBOMIND
    assert config.model_format == model_format
    assert (config.cache_max_entry_count, config.session_len, config.max_batch_size, config.tp) == (0.3, 8192, 16, 2)
    assert config.enable_metrics is False


def test_pytorch_engine_config_from_settings() -> None:
    from lmdeploy import PytorchEngineConfig

    settings = EngineSettings(backend="lmdeploy", cache_max_entry_count=0.6, session_len=2048, max_batch_size=8)
    config = api.build_backend_config(settings, "awq", turbomind=False)
    assert isinstance(config, PytorchEngineConfig)
    assert api.backend_kind(config) == api.PYTORCH
    # The PyTorch engine reads AWQ from config.json; its model_format only takes 'fp8', so it must stay unset.
    assert config.model_format is None
    assert (config.cache_max_entry_count, config.session_len, config.max_batch_size, config.tp) == (0.6, 2048, 8, 1)
    assert config.distributed_executor_backend is None
    multi = api.build_backend_config(EngineSettings(tp=2), "hf", turbomind=False)
    assert (multi.tp, multi.distributed_executor_backend) == (2, "mp")


def test_turbomind_supports_the_default_architecture(tiny_dir: Path, tmp_path: Path) -> None:
    assert api.turbomind_supports_model(tiny_dir)  # Qwen2, the offline default's architecture
    other = tmp_path / "other"
    other.mkdir()
    config = json.loads((tiny_dir / "config.json").read_text())
    config["architectures"] = ["GPT2LMHeadModel"]
    (other / "config.json").write_text(json.dumps(config))
    assert not api.turbomind_supports_model(other)


def test_turbomind_is_unavailable_without_cuda() -> None:
    if cuda_available():
        pytest.skip("this machine has CUDA")
    assert api.turbomind_available() is False


def test_lmdeploy_applies_the_models_own_chat_template(tiny_dir: Path) -> None:
    from transformers import AutoTokenizer

    messages = [
        {"role": "system", "content": "You are a patient math tutor."},
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "It is $4$."},
        {"role": "user", "content": "And a pen costs $1.20?"},
    ]
    expected = AutoTokenizer.from_pretrained(tiny_dir).apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )
    assert api.chat_template_config(tiny_dir).model_name == "hf"
    assert api.render_prompt(tiny_dir, messages) == expected
    assert expected.endswith("<|im_start|>assistant\n")


def test_generation_config_from_gen_params() -> None:
    sampled = api.generation_config(GenParams(temperature=0.7, top_p=0.8, max_new_tokens=256, seed=7))
    assert (sampled.do_sample, sampled.temperature, sampled.top_p) == (True, 0.7, 0.8)
    assert (sampled.max_new_tokens, sampled.random_seed, sampled.ignore_eos) == (256, 7, False)
    greedy = api.generation_config(GenParams(temperature=0.0, max_new_tokens=64))
    assert greedy.do_sample is False
    fixed = api.generation_config(GenParams(max_new_tokens=32), ignore_eos=True)
    assert (fixed.ignore_eos, fixed.min_new_tokens) == (True, 32)


def test_lmdeploy_backend_is_refused_without_cuda_with_a_clear_message(tiny_dir: Path) -> None:
    settings = EngineSettings(backend="lmdeploy", model=str(tiny_dir))
    with pytest.raises(EngineLoadError, match="needs an NVIDIA GPU with CUDA.*--backend transformers"):
        choose_backend(settings, cuda=False, lmdeploy=True)
    assert choose_backend(EngineSettings(backend="auto"), cuda=False, lmdeploy=True, llamacpp=False) == "transformers"
    if cuda_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(EngineLoadError, match="NVIDIA GPU"):
        choose_backend(settings)  # the real probe, as CI sees it
    with pytest.raises(EngineLoadError, match="NVIDIA GPU"):
        create_engine(settings)
    from engine.lmdeploy_backend import LmdeployEngine

    with pytest.raises(EngineLoadError, match="NVIDIA GPU"):
        LmdeployEngine(tiny_dir, settings)
