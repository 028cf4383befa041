"""Everything under tests/gpu needs CUDA: mark it ``gpu`` and skip it on machines without a GPU (CI).

Run these on the GPU machine (scripts/gpu/README.md). The probe imports torch only, never lmdeploy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from engine.factory import cuda_available

    mine = [item for item in items if HERE in Path(item.path).resolve().parents]
    cuda = cuda_available() if mine else True
    for item in mine:
        item.add_marker(pytest.mark.gpu)
        if not cuda:
            item.add_marker(pytest.mark.skip(reason="needs CUDA: run on the GPU machine (scripts/gpu/README.md)"))
