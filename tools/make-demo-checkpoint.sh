#!/usr/bin/env bash
# Makes the built-in demo checkpoint (checkpoints/demo-shapes) from nothing: the synthetic shapes set, the
# `small` preset trained from random weights on the CPU, and its evaluation on the held-out test images.
#   bash tools/make-demo-checkpoint.sh [WORK_DIR]     (default: runs/demo; nothing outside it is written
#                                                      until the last step copies the checkpoint)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-runs/demo}
mkdir -p "$work"
dotnet build src/Training -c Release -v q -nologo
captioner() { dotnet src/Training/bin/Release/net10.0/captioner.dll "$@"; }

captioner synth-data --out "$work/synth" --images 24000 --seed 1
captioner train --data "$work/synth/captions_train.json" --val-data "$work/synth/captions_val.json" \
    --preset small --out "$work/run" --precision fp32 --device cpu --seed 1 \
    --epochs 15 --lr 3e-3 --warmup 0.05 --batch-size 32 --augment flip,affine --workers 1 --val-captions 200
captioner evaluate --checkpoint "$work/run/best" --data "$work/synth/captions_test.json" --out "$work/eval" --device cpu
cp "$work/run/best/config.json" "$work/run/best/model.safetensors" checkpoints/demo-shapes/
echo "made in $SECONDS s"
