"""Where a model may be loaded from, and that remote code stays off unless a setting turns it on.

``engine.models.resolve_model(..., allowed_dirs=[...])`` (what the teacher panel's engine factory uses) must keep
local folders inside the allowed ones after symlinks and ``..`` are resolved; hub ids stay allowed; without
``allowed_dirs`` (the operator's command line) any folder works as before. Real folders and symlinks in a
temporary directory; the hub id is served from a real Hugging Face cache laid out on disk, offline.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
from pathlib import Path

import pytest

from engine.errors import ModelUnavailableError
from engine.models import ENV_MODEL_DIRS, allowed_model_dirs, check_allowed, resolve_model
from engine.settings import EngineSettings

ROOT = Path(__file__).resolve().parents[1]


def _model(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "qwen2"}')
    return folder


@pytest.fixture()
def dirs(tmp_path, monkeypatch):
    """A cache, one extra allowed folder (in TUTOR_MODEL_DIRS), and a folder outside both; each holds a model."""
    cache, allowed, outside = tmp_path / "cache", tmp_path / "models", tmp_path / "elsewhere"
    monkeypatch.setenv("TUTOR_CACHE_DIR", str(cache))
    monkeypatch.setenv(ENV_MODEL_DIRS, str(allowed))
    for folder in (cache / "models" / "cached", allowed / "mine", outside / "secret"):
        _model(folder)
    return cache, allowed, outside


def _refused(model: str, allowed) -> ModelUnavailableError:
    with pytest.raises(ModelUnavailableError) as info:
        resolve_model(model, allowed_dirs=allowed)
    return info.value


def test_a_folder_inside_an_allowed_folder_loads(dirs):
    cache, allowed, _ = dirs
    ok = allowed_model_dirs()
    assert resolve_model(str(allowed / "mine"), allowed_dirs=ok) == (allowed / "mine").resolve()
    assert resolve_model(str(cache / "models" / "cached"), allowed_dirs=ok) == (cache / "models" / "cached").resolve()


def test_an_absolute_path_outside_is_refused_naming_the_allowed_folders(dirs):
    cache, allowed, outside = dirs
    err = _refused(str(outside / "secret"), allowed_model_dirs())
    message = str(err)
    assert str(cache.resolve()) in message and str(allowed.resolve()) in message
    assert ENV_MODEL_DIRS in message and "restart" in message
    _refused("/etc", allowed_model_dirs())
    _refused("/", allowed_model_dirs())


def test_a_missing_folder_outside_gets_the_same_refusal(dirs):
    """The refusal comes before any existence check, so the panel cannot probe which folders exist."""
    _, _, outside = dirs
    there = str(_refused(str(outside / "secret"), allowed_model_dirs()))
    missing = str(_refused(str(outside / "no-such-folder"), allowed_model_dirs()))
    assert there.split(" is outside")[1] == missing.split(" is outside")[1]


def test_dot_dot_traversal_is_resolved_before_the_check(dirs, monkeypatch):
    _, allowed, outside = dirs
    ok = allowed_model_dirs()
    _refused(str(allowed / ".." / "elsewhere" / "secret"), ok)
    _refused(str(allowed / "mine" / ".." / ".." / ".." / ".." / "etc"), ok)
    monkeypatch.chdir(allowed / "mine")
    _refused("../../elsewhere/secret", ok)
    _refused("../../../../../../../../etc", ok)
    monkeypatch.chdir(allowed)
    _refused("mine/../../elsewhere/secret", ok)
    # ".." that stays inside is fine, and the resolved folder is what gets loaded.
    assert resolve_model(str(allowed / "mine" / ".." / "mine"), allowed_dirs=ok) == (allowed / "mine").resolve()


def test_a_symlink_out_of_an_allowed_folder_is_refused(dirs):
    _, allowed, outside = dirs
    (allowed / "link").symlink_to(outside / "secret", target_is_directory=True)
    (allowed / "up").symlink_to(outside, target_is_directory=True)
    ok = allowed_model_dirs()
    _refused(str(allowed / "link"), ok)
    _refused(str(allowed / "up" / "secret"), ok)
    # A symlink that stays inside is followed, and the target is returned.
    (allowed / "alias").symlink_to(allowed / "mine", target_is_directory=True)
    assert resolve_model(str(allowed / "alias"), allowed_dirs=ok) == (allowed / "mine").resolve()


def test_an_allowed_folder_that_is_itself_a_symlink_still_works(tmp_path, monkeypatch):
    real = _model(tmp_path / "real" / "m")
    (tmp_path / "via").symlink_to(tmp_path / "real", target_is_directory=True)
    monkeypatch.setenv("TUTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(ENV_MODEL_DIRS, str(tmp_path / "via"))
    assert resolve_model(str(tmp_path / "via" / "m"), allowed_dirs=allowed_model_dirs()) == real.resolve()


def test_a_sibling_with_the_same_prefix_is_not_inside(tmp_path):
    """``/x/models-evil`` starts with the string ``/x/models`` but is not inside it."""
    _model(tmp_path / "models-evil")
    with pytest.raises(ModelUnavailableError):
        check_allowed(tmp_path / "models-evil", [tmp_path / "models"])
    assert check_allowed(tmp_path / "models" / "x", [tmp_path / "models"]) == (tmp_path / "models" / "x").resolve()


def test_tutor_model_dirs_parsing(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv(ENV_MODEL_DIRS, os.pathsep.join([str(a), "", "  ", "~/models", str(b), str(a), "rel/x", ""]))
    assert allowed_model_dirs() == (
        (tmp_path / "cache").resolve(), a.resolve(), (tmp_path / "home" / "models").resolve(), b.resolve(),
        (tmp_path / "rel" / "x").resolve(),
    )
    # Empty entries (a trailing separator, an empty variable) never mean "the current folder".
    monkeypatch.setenv(ENV_MODEL_DIRS, os.pathsep)
    assert allowed_model_dirs() == ((tmp_path / "cache").resolve(),)
    monkeypatch.delenv(ENV_MODEL_DIRS)
    assert Path.cwd().resolve() not in allowed_model_dirs()
    assert allowed_model_dirs(extra=[a]) == ((tmp_path / "cache").resolve(), a.resolve())


def test_the_startup_models_own_folder_is_allowed(dirs):
    """The operator chose it on the command line: re-applying it from the panel (say, a new KV ratio) works."""
    _, _, outside = dirs
    ok = allowed_model_dirs(startup_model=str(outside / "secret"))
    assert resolve_model(str(outside / "secret"), allowed_dirs=ok) == (outside / "secret").resolve()
    assert allowed_model_dirs(startup_model="default") == allowed_model_dirs()
    assert allowed_model_dirs(startup_model="Qwen/Qwen2.5-0.5B") == allowed_model_dirs()


def test_without_allowed_dirs_the_command_line_loads_any_folder(dirs):
    _, _, outside = dirs
    assert resolve_model(str(outside / "secret")) == outside / "secret"


def test_an_allowed_folder_without_config_json_says_so(dirs):
    _, allowed, _ = dirs
    (allowed / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match="no config.json"):
        resolve_model(str(allowed / "empty"), allowed_dirs=allowed_model_dirs())


def test_hub_ids_are_still_accepted(dirs, monkeypatch):
    """A hub id resolves to its snapshot in the app's cache (laid out as huggingface_hub keeps it; offline)."""
    from huggingface_hub import constants

    from engine.hub import hub_cache

    commit = "c0ffee" + "0" * 34
    repo = hub_cache("huggingface") / "models--org--tiny"
    _model(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    folder = resolve_model("org/tiny", allowed_dirs=allowed_model_dirs())
    assert folder == repo / "snapshots" / commit and (folder / "config.json").is_file()


def test_hub_ids_with_dot_dot_are_not_downloaded(dirs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for model in ("org/..", "a/..b", "org/name/../.."):
        with pytest.raises(ModelUnavailableError, match="neither 'default'"):
            resolve_model(model)


def test_the_panels_engine_factory_refuses_a_folder_outside(dirs):
    from engine.factory import create_engine

    _, _, outside = dirs
    with pytest.raises(ModelUnavailableError, match="outside the folders"):
        create_engine(EngineSettings(backend="transformers", model=str(outside / "secret")),
                      allowed_dirs=allowed_model_dirs())


def test_the_ungated_preview_reads_no_model_folder_outside_the_allowed_ones(dirs):
    import json

    from engine.catalog import load_catalog
    from engine.fake import FakeEngine
    from engine.switcher import EngineSwitcher
    from ui.engine_panel import EngineControls
    from ui.teacher import TeacherGate

    _, _, outside = dirs
    (outside / "secret" / "config.json").write_text(json.dumps({
        "model_type": "qwen2", "hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14,
        "num_key_value_heads": 2, "intermediate_size": 4864, "vocab_size": 151936}))
    switcher = EngineSwitcher(FakeEngine(), EngineSettings(backend="fake"), lambda s, p=None: FakeEngine())
    controls = EngineControls(switcher, TeacherGate("pw"), load_catalog())  # a student's tab: never unlocked
    locked = {"unlocked": False} if "unlocked" in inspect.signature(controls.preview).parameters else {}
    readout = asyncio.run(controls.preview(model="custom", custom=str(outside / "secret"), model_format="auto",
                                           ratio=0.5, session_len=4096, **locked))
    assert "24 layers" not in readout, readout  # the folder's architecture must not be read for the page


# --- trust_remote_code --------------------------------------------------------------------------------------------

def test_trust_remote_code_is_off_by_default_everywhere_it_is_set():
    import app
    from engine.quantize import QuantizeOptions

    assert EngineSettings().trust_remote_code is False
    assert QuantizeOptions().trust_remote_code is False
    args = app.serve_parser(__import__("argparse").ArgumentParser()).parse_args([])
    assert app.settings_from_args(args).trust_remote_code is False


def test_the_teacher_panel_never_turns_on_remote_code(tmp_path):
    """Whatever the teacher applies, the settings the factory gets keep trust_remote_code off."""
    from engine.catalog import load_catalog
    from engine.fake import FakeEngine
    from engine.switcher import EngineSwitcher
    from ui.engine_panel import EngineControls
    from ui.teacher import TeacherGate

    built: list[EngineSettings] = []

    def factory(settings, progress=None):
        built.append(settings)
        return FakeEngine(model=settings.model)

    switcher = EngineSwitcher(FakeEngine(), EngineSettings(backend="fake"), factory, drain_seconds=0)
    controls = EngineControls(switcher, TeacherGate("pw", step=0), load_catalog())
    remote = [e.id for e in load_catalog() if e.trust_remote_code]
    for model, custom in [("custom", str(tmp_path)), *[(entry, "") for entry in remote[:2]]]:
        asyncio.run(controls.apply(True, model, custom, "auto", 0.5, 4096, 8, progress=lambda *a, **k: None))
    assert built and all(s.trust_remote_code is False for s in built)


def _spy(monkeypatch, owner, name: str, seen: list) -> None:
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        seen.append(kwargs.get("trust_remote_code", "not passed"))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)


def test_the_transformers_backend_and_calibration_pass_the_setting_through(tiny_model_dir, monkeypatch):
    """Real loads of the tiny model, with transformers' loaders watched: False by default, True only if asked."""
    import transformers

    from engine.factory import create_engine
    from engine.quantize import QuantizeOptions, calibration_tokens

    seen: list = []
    _spy(monkeypatch, transformers.AutoTokenizer, "from_pretrained", seen)
    _spy(monkeypatch, transformers.AutoModelForCausalLM, "from_pretrained", seen)
    engine = create_engine(EngineSettings(backend="transformers", model=str(tiny_model_dir)))
    asyncio.run(engine.close())
    calibration_tokens(tiny_model_dir, QuantizeOptions(calib_samples=1, calib_seqlen=16))
    assert seen and all(flag is False for flag in seen), seen
    seen.clear()
    engine = create_engine(EngineSettings(backend="transformers", model=str(tiny_model_dir), trust_remote_code=True))
    asyncio.run(engine.close())
    assert seen and all(flag is True for flag in seen), seen


def test_lmdeploy_chat_template_lookup_keeps_remote_code_off(tiny_model_dir, monkeypatch):
    """The part of the lmdeploy path that runs on a CPU, with lmdeploy's own template lookup watched."""
    import lmdeploy.model

    from engine import lmdeploy_api

    seen: list = []
    _spy(monkeypatch, lmdeploy.model, "get_chat_template", seen)
    _spy(monkeypatch, lmdeploy.model.HFChatTemplate, "match", seen)
    lmdeploy_api.render_prompt(tiny_model_dir, [{"role": "user", "content": "1+1?"}])
    assert seen and all(flag is False for flag in seen), seen


def test_no_source_passes_a_literal_true_for_remote_code():
    """In addition to the behavioural tests: every ``trust_remote_code=`` in the app's code passes a setting (or
    False), and no signature defaults it to True."""
    offenders = []
    files = [ROOT / "app.py", *(ROOT / "engine").rglob("*.py"), *(ROOT / "ui").rglob("*.py"),
             *(ROOT / "tutor").rglob("*.py"), *(ROOT / "checker").rglob("*.py")]
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "trust_remote_code":
                value = node.value
                if isinstance(value, ast.Constant) and value.value is not False:
                    offenders.append(f"{path.name}:{value.lineno} passes {value.value!r}")
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                named = [*args.posonlyargs, *args.args]
                pairs = list(zip(named[len(named) - len(args.defaults):], args.defaults))
                pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
                for arg, default in pairs:
                    if "remote" in arg.arg and isinstance(default, ast.Constant) and default.value is not False:
                        offenders.append(f"{path.name}:{node.lineno} {node.name}({arg.arg}={default.value!r})")
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and "remote" in node.target.id:
                if isinstance(node.value, ast.Constant) and node.value.value is not False:
                    offenders.append(f"{path.name}:{node.lineno} {node.target.id} = {node.value.value!r}")
    assert not offenders, offenders
