#!/usr/bin/env bash
# Every figure of the CPU performance comparison in one window, one after another on one machine:
# the machine's limits (numpy/OpenBLAS GEMM and read bandwidth; libtorch's matmul rate is in the bench),
# ours (`captioner bench`, fp32 and bf16-mixed, CPU kernels off and on) with the MKL Intel path on and
# off, then the peers (PyTorch eager, ONNX Runtime from C#) when their prerequisites are here: a missing
# one is reported, not fatal. The load average is logged before each part (the machine is shared).
# Usage: tools/Peers/side-by-side.sh [OUTDIR=artifacts/side-by-side] [REPEATS=2]
# TORCH_DTYPES=fp32,bf16 adds the PyTorch peer in fp32 (Debian's python3-torch took 12 s per caption at batch 1 here).
# MKL_OFF=0 leaves out our fp32 runs with the MKL Intel path off (about a quarter of the time).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$root/artifacts/side-by-side}" && cd "${1:-$root/artifacts/side-by-side}" && pwd)
repeats=${2:-2}
peers=$root/tools/Peers
py=/usr/bin/python3
pyenv=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
log() { echo "## $* | $(date -u +%H:%M:%S) UTC | load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/run.log"; }
cd "$root"
: >"$out/run.log"
dotnet build -c Release src/Training >"$out/build.log" 2>&1 || { echo "build failed: $out/build.log"; exit 1; }
captioner=(dotnet run --no-build -c Release --project src/Training -- bench --preset vit-b16-gpt2 --batch-sizes 1,8,32 --tokens 20
  --threads 2 --seed-captions 0 --leak-captions 0 --repeats "$repeats" --warmup 1)

log "machine limits (numpy)"
if "$py" -c 'import numpy' 2>/dev/null; then
  "${pyenv[@]}" "$py" "$peers/machine_limits.py" --sizes 1024,2048 --repeats 3 | tee "$out/limits.jsonl"
else
  echo "machine limits: skipped, /usr/bin/python3 has no numpy (apt-get install python3-numpy libopenblas0-pthread)" | tee -a "$out/run.log"
fi

log "ours: MKL Intel path as configured (${CAPTIONER_MKL_INTEL_PATH:-default}), fp32 and bf16-mixed, CPU kernels off and on"
"${captioner[@]}" --dtypes bf16-mixed --cpu-kernels both --out "$out/ours.md" | tee "$out/ours.txt"

if [ "${MKL_OFF:-1}" != 0 ]; then
  log "ours: MKL Intel path off, fp32, CPU kernels off and on"
  CAPTIONER_MKL_INTEL_PATH=0 "${captioner[@]}" --dtypes fp32 --cpu-kernels both --agreement-images 1 --out "$out/ours-mkl-off.md" | tee "$out/ours-mkl-off.txt"
fi

log "peer: PyTorch eager"
if "$py" -c 'import torch' 2>/dev/null; then
  "${pyenv[@]}" "$py" "$peers/peer_torch.py" --batches 1,8,32 --dtypes "${TORCH_DTYPES:-bf16}" --seed-captions 0 --repeats "$repeats" --threads 2 | tee "$out/peer-torch.jsonl"
else
  echo "peer PyTorch: not run, /usr/bin/python3 has no torch (apt-get install python3-torch libopenblas0-pthread)" | tee -a "$out/run.log"
fi

log "peer: ONNX Runtime (C#)"
onnx=$out/onnx
if [ ! -f "$onnx/step.onnx" ] && "$py" -c 'import torch' 2>/dev/null; then
  "${pyenv[@]}" "$py" "$peers/peer_onnx_export.py" "$onnx" >"$out/onnx-export.log" 2>&1 || echo "peer ONNX Runtime: the export failed ($out/onnx-export.log)" | tee -a "$out/run.log"
fi
if [ ! -f "$onnx/step.onnx" ]; then
  echo "peer ONNX Runtime: not run, no exported model (needs python3-torch for peer_onnx_export.py)" | tee -a "$out/run.log"
elif ! dotnet build -c Release "$peers/peer_ort" >"$out/peer-ort-build.log" 2>&1; then
  echo "peer ONNX Runtime: not run, peer_ort did not build (Microsoft.ML.OnnxRuntime 1.31.1 not restorable? $out/peer-ort-build.log)" | tee -a "$out/run.log"
else
  dotnet run --no-build -c Release --project "$peers/peer_ort" -- "$onnx" 20 1,8,32 2 "$repeats" | tee "$out/peer-ort.jsonl"
fi
log "done"
