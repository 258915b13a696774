#!/usr/bin/env bash
# Reproduce the committed world model: export the world's training set, then train (resumable).
#   npm run train:world                      # full plan, into models/world/
#   npm run train:world -- --plan smoke      # 2-step miniature (what CI runs)
#   npm run train:world -- --base DIR        # only the refine stage, from DIR's weights (e.g. an earlier models/world)
#   npm run train:world -- --plan v2 --base models/world --out DIR   # the v2 refine stage from the committed model
#   npm run train:world -- --precision bf16   # bf16 autocast on the CPU's matrix units (default: fp32, measured faster)
#   npm run train:world -- --pack-gpu        # export for the gpu plan (into .train/world-gpu), then pack it for
#                                            # one call of a lent GPU machine (train/gpu.py)
# FATEZERO_TRAIN_DIR: work folder (default .train/world, .train/world-gpu for the gpu plans, -smoke for the
# miniatures); FATEZERO_PYTHON: a python3 with torch (default: the project's .venv from python/setup.sh);
# FATEZERO_GPU_PACK: where --pack-gpu writes (default .gpu-train). OpenMP threads wait passively: GNU OpenMP's
# default spin-wait made 2 threads 4-5x slower than 1 on a busy machine (docs/world-model.md).
set -euo pipefail
cd "$(dirname "$0")/.."
plan=full
base=()
pack_gpu=
out=
precision=()
while [ $# -gt 0 ]; do
  case "$1" in
    --plan) plan="${2:?--plan needs full, smoke, gpu or gpu-smoke}"; shift 2 ;;
    --base) base=(--base "${2:?--base needs a model folder}"); shift 2 ;;
    --pack-gpu) pack_gpu=1; shift ;;
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --precision) precision=(--precision "${2:?--precision needs auto, fp32 or bf16}"); shift 2 ;;
    *) echo "train:world: unknown argument $1 (known: --plan full|v2|smoke|gpu|gpu-smoke, --base DIR, --out DIR, --precision auto|fp32|bf16, --pack-gpu)" >&2; exit 2 ;;
  esac
done
# The smoke plans train a miniature of the model on two clips; the gpu plans run on a GPU machine (train/gpu.py).
[ -n "$pack_gpu" ] && [ "$plan" = full ] && plan=gpu
miniature=
gpu=
case "$plan" in
  full|v2) ;;
  smoke) miniature=1 ;;
  gpu) gpu=1 ;;
  gpu-smoke) miniature=1 gpu=1 ;;
  *) echo "train:world: --plan $plan is not one of full, v2, smoke, gpu, gpu-smoke" >&2; exit 2 ;;
esac
if [ -n "$gpu" ] && [ -z "$pack_gpu" ]; then
  echo "train:world: --plan $plan trains on a lent GPU machine: pack it with --pack-gpu, then run train/gpu.py there" >&2
  exit 2
fi
if [ -n "$pack_gpu" ] && [ -z "$gpu" ]; then
  echo "train:world: --pack-gpu packs the gpu or gpu-smoke plan, not --plan $plan" >&2
  exit 2
fi
if [ -n "$pack_gpu" ] && [ ${#base[@]} -gt 0 ]; then
  echo "train:world: --base starts the CPU plan's refine stage; the gpu plan trains from scratch (drop --base or --pack-gpu)" >&2
  exit 2
fi
work=".train/world${gpu:+-gpu}${miniature:+-smoke}"
[ "$plan" = v2 ] && work=.train/world-v2
work="${FATEZERO_TRAIN_DIR:-$work}"
if [ -z "$out" ]; then
  out=models/world
  [ -n "$miniature" ] && out="$work/model"
fi
# Debian's python3-torch is what the project supports; a python3 earlier on PATH may lack torch.
python="${FATEZERO_PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in .venv/bin/python python3 /usr/bin/python3; do
    if "$candidate" -c "import torch, numpy" 2>/dev/null; then python="$candidate"; break; fi
  done
fi
[ -n "$python" ] || { echo "train:world needs Python 3 with PyTorch and NumPy: run bash python/setup.sh (the project's pinned environment)" >&2; exit 2; }
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
if [ ! -f "$work/data/meta.json" ]; then
  clips=2000
  [ -n "$miniature" ] && clips=2
  node bin/fatezero.js world-training-data --out "$work" --clips "$clips" ${miniature:+--miniature} ${gpu:+--gpu}
fi
[ -n "$pack_gpu" ] && exec "$python" train/gpu.py pack --work "$work" ${FATEZERO_GPU_PACK:+--pack "$FATEZERO_GPU_PACK"}
exec "$python" train/train_world.py --work "$work" --out "$out" --plan "$plan" "${base[@]}" "${precision[@]}"
