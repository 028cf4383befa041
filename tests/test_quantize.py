"""AWQ W4A16 quantization of the tiny random Qwen2 on the CPU, through the app's own command, with real lmdeploy.

The output is checked the way TurboMind reads it: ``quantization_config``, packed int4 weights and zeros (8 per
int32, AWQ's interleaved order), fp16 scales per group of 128 inputs; unpacking them gives a model whose logits
match the original's. Also: the cache and its key, atomic writes under a crash and a killed process, the shape
check, and the offline calibration sources.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import app
from engine import lmdeploy_api
from engine.errors import EngineLoadError, SettingsError
from engine.memory import ModelShape, weight_bytes
from engine.quantize import (
    METADATA,
    QuantizeOptions,
    calibration_tokens,
    check_model,
    list_quantized,
    quantize,
    read_metadata,
)
from prompts.calibration import builtin_documents, gsm8k_files, handwritten
from tests.fixtures.tiny_model import build_tiny_qwen2

REPO = Path(__file__).resolve().parents[1]
SMALL = {"calib_samples": 4, "calib_seqlen": 64, "device": "cpu"}  # a few seconds on two CPU cores
AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]  # AWQ "gemm" packing: nibble i of an int32 holds column ORDER[i] of 8


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_qwen2(tmp_path_factory.mktemp("model") / "tiny-qwen2")


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TUTOR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "quantized"


def _unpack(packed: torch.Tensor, order: list[int]) -> torch.Tensor:
    out = torch.zeros(packed.shape[0], packed.shape[1] * 8, dtype=torch.int32)
    for i, column in enumerate(order):
        out[:, column::8] = (packed >> (4 * i)) & 0xF
    return out


def _dequantized_logits(folder: Path, tokens: torch.Tensor, order: list[int]) -> torch.Tensor:
    """Rebuild fp32 weights from qweight/qzeros/scales and run the quantized model's forward pass."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tensors = load_file(str(folder / "model.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    group = config.pop("quantization_config")["group_size"]
    state = {}
    for name, tensor in tensors.items():
        if name.endswith(".qweight"):
            base = name.removesuffix(".qweight")
            q, z = _unpack(tensor, order), _unpack(tensors[base + ".qzeros"], order)
            scales = tensors[base + ".scales"].float()
            weight = (q - z.repeat_interleave(group, 0)).float() * scales.repeat_interleave(group, 0)
            state[base + ".weight"] = weight.t()
        elif not name.endswith((".qzeros", ".scales")):
            state[name] = tensor.float()
    model = Qwen2ForCausalLM(Qwen2Config(**config)).float().eval()
    model.load_state_dict(state, strict=False)
    model.tie_weights()
    with torch.no_grad():
        return model(tokens).logits


def test_app_quantize_command_end_to_end_on_cpu(tiny, cache, tmp_path, capsys):
    work_dir = tmp_path / "tiny-w4a16"
    code = app.main(["quantize", str(tiny), "--work-dir", str(work_dir), "--calib-samples", "4",
                     "--calib-seqlen", "64", "--w-bits", "4", "--w-group-size", "128", "--device", "cpu"])
    assert code == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(work_dir)

    config = json.loads((work_dir / "config.json").read_text())
    assert config["quantization_config"] == {
        "quant_method": "awq", "version": "gemm", "bits": 4, "group_size": 128, "zero_point": True,
    }
    shape = ModelShape.from_hf_config(config)
    tensors = load_file(str(work_dir / "model.safetensors"))
    for layer in range(shape.layers):
        for name, (fan_in, fan_out) in shape.linear_shapes().items():
            module = "self_attn" if name.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) else "mlp"
            prefix = f"model.layers.{layer}.{module}.{name}"
            assert tensors[f"{prefix}.qweight"].shape == (fan_in, fan_out // 8)
            assert tensors[f"{prefix}.qweight"].dtype == torch.int32
            assert tensors[f"{prefix}.qzeros"].shape == (fan_in // 128, fan_out // 8)
            assert tensors[f"{prefix}.scales"].shape == (fan_in // 128, fan_out)
            assert tensors[f"{prefix}.scales"].dtype == torch.float16
            assert f"{prefix}.weight" not in tensors
    assert tensors["model.embed_tokens.weight"].dtype == torch.float16  # kept in 16 bits
    # engine.memory's W4A16 arithmetic (the settings panel's figure) is exact, byte for byte.
    assert sum(t.numel() * t.element_size() for t in tensors.values()) == weight_bytes(shape, "w4a16")
    assert (work_dir / "tokenizer.json").is_file() and config["use_cache"] is True

    # The packed numbers decode to the original model (random weights: 4-bit noise, same predictions).
    from transformers import Qwen2ForCausalLM

    tokens = torch.randint(0, 400, (2, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        original = Qwen2ForCausalLM.from_pretrained(tiny, dtype=torch.float32).eval()(tokens).logits
    decoded = _dequantized_logits(work_dir, tokens, AWQ_ORDER)
    scrambled = _dequantized_logits(work_dir, tokens, list(range(8)))
    cosine = torch.nn.functional.cosine_similarity
    assert cosine(original.flatten(), decoded.flatten(), 0) > 0.95
    assert (original.argmax(-1) == decoded.argmax(-1)).float().mean() > 0.8
    assert cosine(original.flatten(), scrambled.flatten(), 0) < 0.8  # the check can tell a wrong layout

    # The cache holds the same result under a key; the metadata says what it was built from.
    [entry] = list_quantized()
    assert entry.path.parent == cache and entry.path.name.startswith("tiny-qwen2-w4g128-")
    meta = read_metadata(work_dir)
    assert meta == entry.metadata and meta["calibration"]["source"] == "built-in math corpus"
    assert (meta["calibration"]["samples"], meta["calibration"]["seqlen"], meta["device"]) == (4, 64, "cpu")


def test_same_request_is_served_from_the_cache(tiny, cache, monkeypatch):
    first = quantize(tiny, **SMALL)

    def must_not_run(*args, **kwargs):
        raise AssertionError("a cached result must not be quantized again")

    monkeypatch.setattr(lmdeploy_api, "awq_quantize", must_not_run)
    reports: list[str] = []
    assert quantize(tiny, **SMALL, progress=lambda f, t: reports.append(t)) == first
    assert reports[-1].startswith("Already quantized")


def test_key_covers_group_size_and_calibration(tiny, cache, tmp_path):
    base = quantize(tiny, **SMALL)
    group64 = quantize(tiny, **SMALL, w_group_size=64)
    notes = tmp_path / "notes.jsonl"
    notes.write_text("\n".join(json.dumps({"question": f"What is {i} + {i}?", "answer": f"It is {2 * i}."})
                               for i in range(400)), encoding="utf-8")
    own_text = quantize(tiny, **SMALL, calib_data=str(notes))
    assert len({base, group64, own_text}) == 3
    assert json.loads((group64 / "config.json").read_text())["quantization_config"]["group_size"] == 64
    assert load_file(str(group64 / "model.safetensors"))["model.layers.0.mlp.down_proj.scales"].shape == (4, 128)
    assert read_metadata(own_text)["calibration"]["source"] == "file notes.jsonl"
    assert len(list_quantized()) == 3


def test_a_crash_midway_leaves_no_cache_entry(tiny, cache):
    def crash_while_saving(fraction: float, text: str) -> None:
        if text == "Saved":  # the weights are written, the metadata and the rename are not
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        quantize(tiny, **SMALL, progress=crash_while_saving)
    assert list_quantized() == []
    assert [p.name for p in cache.iterdir() if p.is_dir()] == []  # the temporary build was removed too
    assert read_metadata(quantize(tiny, **SMALL)) is not None  # and the next run succeeds


def test_a_killed_process_leaves_no_cache_entry(tiny, cache):
    """A real crash (os._exit after the weights are written): a hidden partial build stays, no entry appears."""
    script = textwrap.dedent(f"""
        import os
        from engine.quantize import quantize
        def die(fraction, text):
            if text == "Saved":
                os._exit(3)
        quantize({str(tiny)!r}, calib_samples=4, calib_seqlen=64, device="cpu", progress=die)
    """)
    env = {**__import__("os").environ, "TUTOR_CACHE_DIR": str(cache.parent)}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, timeout=300)
    assert done.returncode == 3, done.stderr.decode()[-2000:]
    leftovers = [p for p in cache.iterdir() if p.is_dir()]
    assert [p.name.startswith(".tmp-") for p in leftovers] == [True]
    assert (leftovers[0] / "model.safetensors").is_file() and not (leftovers[0] / METADATA).exists()
    assert list_quantized() == []
    path = quantize(tiny, **SMALL)  # the next run cleans up and completes
    assert [p for p in cache.iterdir() if p.is_dir()] == [path]


def test_shapes_are_checked_before_any_work(tmp_path, cache):
    odd = tmp_path / "odd"
    odd.mkdir()  # only a config: getting past the check would fail loudly on the missing tokenizer
    config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 192,
              "intermediate_size": 512, "num_attention_heads": 4, "num_key_value_heads": 2,
              "num_hidden_layers": 2, "vocab_size": 512}
    (odd / "config.json").write_text(json.dumps(config))
    with pytest.raises(EngineLoadError, match=r"divisible by the group size.*q_proj \(input 192\)"):
        quantize(odd, **SMALL)
    assert check_model(odd, QuantizeOptions(w_group_size=64)).hidden == 192  # 192 = 3 x 64 is fine
    (odd / "config.json").write_text(json.dumps({**config, "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(EngineLoadError, match="cannot quantize GPT2LMHeadModel.*Qwen2ForCausalLM"):
        quantize(odd, **SMALL)
    (odd / "config.json").write_text(json.dumps({**config, "quantization_config": {"quant_method": "awq"}}))
    with pytest.raises(EngineLoadError, match="already quantized"):
        quantize(odd, **SMALL)
    assert not cache.exists() or list_quantized() == []


@pytest.mark.parametrize(
    ("options", "message"),
    [({"w_bits": 8}, "w_bits must be 4"), ({"w_group_size": 100}, "w_group_size"),
     ({"calib_samples": 0}, "calib_samples"), ({"calib_seqlen": 8}, "calib_seqlen"), ({"device": "tpu"}, "device")],
)
def test_invalid_options(options, message):
    with pytest.raises(SettingsError, match=message):
        QuantizeOptions(**options)


def test_builtin_corpus_fills_the_default_calibration_offline(tiny):
    """128 x 1024 tokens of math worked solutions, reproducibly, in the model's chat format."""
    first = calibration_tokens(tiny, QuantizeOptions())
    assert tuple(first.tokens.shape) == (128, 1024)
    assert calibration_tokens(tiny, QuantizeOptions()).sha256 == first.sha256
    assert len({tuple(row.tolist()) for row in first.tokens}) == 128  # no repeated blocks
    from transformers import AutoTokenizer

    text = AutoTokenizer.from_pretrained(tiny).decode(first.tokens[0])
    assert "<|im_start|>user" in text and "<|im_start|>assistant" in text and "\\boxed{" in text
    docs = list(__import__("itertools").islice(builtin_documents(), 300))
    assert docs[: len(handwritten())] == handwritten() and len(handwritten()) >= 12
    assert len({d.question for d in docs}) > 250  # generated problems vary their numbers


def test_calibration_from_a_short_user_file(tiny, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("Two plus two is four. " * 40, encoding="utf-8")
    calib = calibration_tokens(tiny, QuantizeOptions(calib_samples=128, calib_seqlen=64, calib_data=str(short)))
    assert 1 <= calib.tokens.shape[0] < 128 and calib.source == "file short.txt"  # uses what there is
    with pytest.raises(SettingsError, match="less than one block"):
        calibration_tokens(tiny, QuantizeOptions(calib_seqlen=8192, calib_data=str(short)))
    with pytest.raises(SettingsError, match="does not exist"):
        calibration_tokens(tiny, QuantizeOptions(calib_data=str(tmp_path / "missing.txt")))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"prompt": "no usable field"}\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="line 2"):
        calibration_tokens(tiny, QuantizeOptions(calib_data=str(bad)))


def test_gsm8k_only_from_the_local_cache(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets"))
    with pytest.raises(SettingsError, match="never downloads it"):
        calibration_tokens(tiny, QuantizeOptions(calib_data="gsm8k"))

    from datasets import Dataset

    snapshot = tmp_path / "hub" / "datasets--openai--gsm8k" / "snapshots" / "abc123" / "main"
    snapshot.mkdir(parents=True)
    rows = {"question": [f"Tom has {i} apples and buys {i} more. How many now?" for i in range(300)],
            "answer": [f"He has {i} + {i} = <<{i}+{i}={2 * i}>>{2 * i} apples.\n#### {2 * i}" for i in range(300)]}
    Dataset.from_dict(rows).to_parquet(str(snapshot / "train-00000-of-00001.parquet"))
    assert gsm8k_files() == [snapshot / "train-00000-of-00001.parquet"]
    calib = calibration_tokens(tiny, QuantizeOptions(calib_samples=4, calib_seqlen=64, calib_data="gsm8k"))
    assert calib.source == "gsm8k (local cache)" and calib.tokens.shape == (4, 64)
    from transformers import AutoTokenizer

    text = AutoTokenizer.from_pretrained(tiny).decode(calib.tokens.flatten())
    assert "<<" not in text and "\\boxed{" in text  # calculator notes stripped, the answer boxed
