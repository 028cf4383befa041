#!/usr/bin/env bash
# Runs HERE: downloads into <repo>/.whl/ the py3.12 wheels the app's UI, checker and benchmarks need on the GPU
# machine (gradio, gradio_client, sympy's parsers, ...), at this repo's pinned versions, minus what the GPU image
# already has (torch's and transformers' dependencies). Carry it with carry: [".whl"] and install there with
#   python3 scripts/gpu/install_wheels.py .whl /tmp/gpu-site
# which installs only the distributions the image lacks. Must stay under the 64 MiB a call carries.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dest=$repo/.whl
rm -rf "$dest"; mkdir -p "$dest"
pin() { grep -E "^$1==" "$repo/requirements.txt" || echo "$1"; }
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 --abi abi3 \
  --abi none --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform any -d "$dest" \
  "$(pin gradio)" "$(pin gradio_client)" "$(pin latex2sympy2_extended)" "$(pin math-verify)" \
  "$(pin mdit-py-plugins)" "$(pin markdown-it-py)" "$(pin latex2mathml)" "$(pin psutil)" "$(pin httpx)" \
  "$(pin uvloop)" "$(pin httptools)"
# The GPU image has these (torch, transformers and lmdeploy's own wheels bring them): leave them out.
cd "$dest"
for skip in numpy torch nvidia_ triton sympy mpmath networkx jinja2 MarkupSafe markupsafe fsspec filelock \
            huggingface_hub safetensors tokenizers pydantic pydantic_core typing_extensions typing_inspection \
            packaging PyYAML pyyaml requests urllib3 idna certifi charset_normalizer tqdm setuptools hf_xet; do
  rm -f "$skip"-*.whl
done
du -sh "$dest"; ls "$dest" | wc -l
