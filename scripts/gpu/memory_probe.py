"""GPU memory at several KV-cache ratios: loads a model under lmdeploy at each ratio and prints JSON lines.

    python3 scripts/gpu/memory_probe.py MODEL_DIR [RATIO ...]     (default ratios: 0.2 0.5)

Each line: the ratio, lmdeploy's own figures from the backend's memory readout, and torch's view of the GPU
(used/total MiB) while the engine is loaded. Runs on the GPU machine (scripts/gpu/session.sh, step memory).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> int:
    import torch

    from engine.lmdeploy_backend import LmdeployEngine
    from engine.settings import EngineSettings

    model = Path(sys.argv[1])
    for ratio in [float(r) for r in sys.argv[2:]] or [0.2, 0.5]:
        free_before, total = torch.cuda.mem_get_info()
        engine = LmdeployEngine(model, EngineSettings(model=str(model), cache_max_entry_count=ratio))
        loop = asyncio.new_event_loop()
        readout = loop.run_until_complete(engine.memory_readout())
        free, total = torch.cuda.mem_get_info()
        print(json.dumps({"model": model.name, "weight_format": engine.info.weight_format,
                          "cache_max_entry_count": ratio, "gpu_total_mib": total >> 20,
                          "gpu_used_by_engine_mib": (free_before - free) >> 20, "lmdeploy": readout}), flush=True)
        loop.run_until_complete(engine.close())
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
