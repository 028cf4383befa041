"""Chat engines behind one interface (``engine.base.Engine``): lmdeploy on a GPU, transformers on the CPU, a fake.

Only ``engine.lmdeploy_api`` imports lmdeploy; import backends through ``engine.factory`` so that a machine
without a GPU never loads CUDA code it cannot use.
"""

from engine.base import Chunk, Engine, EngineInfo, GenParams, Message, new_request_id
from engine.errors import AppError, EngineLoadError, ModelUnavailableError, SettingsError

__all__ = [
    "AppError",
    "Chunk",
    "Engine",
    "EngineInfo",
    "EngineLoadError",
    "GenParams",
    "Message",
    "ModelUnavailableError",
    "SettingsError",
    "new_request_id",
]
