#!/usr/bin/env bash
# One command for the CPU comparison with ONNX Runtime: prepares the models (a seeded random-init
# ViT-S/16 and, when present, the trained Fashion-MNIST model), exports each to ONNX with the
# PyTorch reference, then runs `bin/tomestream bench --vs-onnx` on all of them in one process.
# Extra arguments go to the harness, e.g. --batches 8 --threads 2 --seconds 10.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

if ! python3 -c "import torch, onnx, safetensors" 2>/dev/null; then
  echo "vs-onnx: needs python3 with torch, onnx and safetensors" >&2
  echo "  pip install torch onnx safetensors   (or: apt-get install python3-torch python3-onnx)" >&2
  exit 2
fi

mkdir -p work
models=()
prepare() {  # prepare NAME SOURCE_DIR: a copy under work/ with model.onnx beside the weights
  local dir="work/$1"
  mkdir -p "$dir"
  for f in config.json model.safetensors; do
    [ "$2/$f" -ef "$dir/$f" ] || cp "$2/$f" "$dir/$f"
  done
  if [ ! -f "$dir/model.onnx" ] || [ "$dir/model.safetensors" -nt "$dir/model.onnx" ]; then
    python3 tools/reference/export_onnx.py --model "$dir" --out "$dir/model.onnx" >&2
  fi
  models+=(--model "$dir")
}

if [ ! -f work/vit-s16-rand/model.safetensors ]; then
  python3 tools/reference/make_random_model.py --arch vit_small_patch16_224 --out work/vit-s16-rand >&2
fi
prepare vit-s16-rand work/vit-s16-rand
trained=${TOMESTREAM_TRAINED_MODEL:-models/fmnist-vit-49}
if [ -f "$trained/model.safetensors" ]; then
  prepare "$(basename "$trained")" "$trained"
else
  echo "vs-onnx: no trained model at $trained; comparing on ViT-S/16 only" >&2
fi

exec bin/tomestream bench --vs-onnx "${models[@]}" "$@"
