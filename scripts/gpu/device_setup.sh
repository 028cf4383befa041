#!/usr/bin/env bash
# Runs ON the GPU machine, from the repo root, in a call that carries .gpu (see README.md here). Installs lmdeploy
# (the shared .gpu/setup.sh) and pytest into /tmp/gpu-site, once per machine; /tmp survives while the machine is
# warm, so later calls need only `. /tmp/gpu_env.sh`. pygments/packaging are installed only if the image lacks
# them, so the image's own versions (which its transformers was installed with) stay in charge.
set -euo pipefail
bash .gpu/setup.sh
# shellcheck disable=SC1091
. /tmp/gpu_env.sh
wheels=(.gpu/extra/pytest-*.whl .gpu/extra/pluggy-*.whl .gpu/extra/iniconfig-*.whl)
for mod in pygments packaging; do
  python3 -c "import $mod" 2>/dev/null || wheels+=(.gpu/extra/"$mod"-*.whl)
done
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu-site "${wheels[@]}"
python3 -c "import lmdeploy, pytest, torch, transformers; print('lmdeploy', lmdeploy.__version__, '| pytest',
pytest.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__)"
