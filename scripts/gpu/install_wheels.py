"""Runs ON the GPU machine: installs the wheels of a folder into a target folder, skipping every distribution the
image already has (so its own versions, which torch and lmdeploy were installed with, stay in charge).

    python3 scripts/gpu/install_wheels.py .whl /tmp/gpu-site
"""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

folder, target = Path(sys.argv[1]), sys.argv[2]
missing = []
for wheel in sorted(folder.glob("*.whl")):
    dist = wheel.name.split("-")[0]
    try:
        importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        missing.append(str(wheel))
print(f"installing {len(missing)} of {len(list(folder.glob('*.whl')))} wheels:", " ".join(Path(m).name for m in missing))
if missing:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                    "--upgrade", "--target", target, *missing], check=True)
