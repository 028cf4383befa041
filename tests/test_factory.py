"""Backend choice: what ``auto`` picks on each kind of machine, and clear refusals of impossible choices."""

import pytest

from engine.errors import EngineLoadError
from engine.factory import choose_backend
from engine.settings import EngineSettings


@pytest.mark.parametrize(
    "settings, cuda, lmdeploy, llamacpp, expected",
    [
        (EngineSettings(), True, True, True, "lmdeploy"),
        (EngineSettings(device="cpu"), True, True, True, "llamacpp"),
        (EngineSettings(), False, True, True, "llamacpp"),
        (EngineSettings(), False, True, False, "transformers"),
        (EngineSettings(model="/models/other"), False, True, True, "transformers"),
        (EngineSettings(backend="transformers"), True, True, True, "transformers"),
        (EngineSettings(backend="fake"), False, False, False, "fake"),
    ],
)
def test_auto_and_explicit_choices(settings, cuda, lmdeploy, llamacpp, expected):
    assert choose_backend(settings, cuda=cuda, lmdeploy=lmdeploy, llamacpp=llamacpp) == expected


def test_impossible_choices_say_how_to_fix():
    with pytest.raises(EngineLoadError, match="NVIDIA GPU"):
        choose_backend(EngineSettings(backend="lmdeploy"), cuda=False, lmdeploy=True, llamacpp=True)
    with pytest.raises(EngineLoadError, match="llama-cpp-python"):
        choose_backend(EngineSettings(backend="llamacpp"), cuda=False, lmdeploy=True, llamacpp=False)
    with pytest.raises(EngineLoadError, match="default model"):
        choose_backend(EngineSettings(backend="llamacpp", model="/x"), cuda=False, lmdeploy=True, llamacpp=True)
