#!/usr/bin/env bash
# Reproduce the committed world model: export the world's training set, then train (resumable).
#   npm run train:world                      # full plan, into models/world/
#   npm run train:world -- --plan smoke      # 2-step miniature (what CI runs)
#   npm run train:world -- --base DIR        # only the refine stage, from DIR's weights (e.g. an earlier models/world)
# FATEZERO_TRAIN_DIR: work folder (default .train/world); FATEZERO_PYTHON: a python3 with torch.
set -euo pipefail
cd "$(dirname "$0")/.."
plan=full
base=()
while [ $# -gt 0 ]; do
  case "$1" in
    --plan) plan="${2:?--plan needs full or smoke}"; shift 2 ;;
    --base) base=(--base "${2:?--base needs a model folder}"); shift 2 ;;
    *) echo "train:world: unknown argument $1 (known: --plan full|smoke, --base DIR)" >&2; exit 2 ;;
  esac
done
work="${FATEZERO_TRAIN_DIR:-.train/world}"
[ "$plan" = smoke ] && work="${FATEZERO_TRAIN_DIR:-.train/world-smoke}"
out=models/world
[ "$plan" = smoke ] && out="$work/model"
# Debian's python3-torch is what the project supports; a python3 earlier on PATH may lack torch.
python="${FATEZERO_PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c "import torch, numpy" 2>/dev/null; then python="$candidate"; break; fi
  done
fi
[ -n "$python" ] || { echo "train:world needs Python 3 with PyTorch and NumPy (Debian: apt install python3-torch python3-numpy)" >&2; exit 2; }
if [ ! -f "$work/data/meta.json" ]; then
  clips=2000
  [ "$plan" = smoke ] && clips=2
  node bin/fatezero.js world-training-data --out "$work" --clips "$clips" $([ "$plan" = smoke ] && echo --miniature)
fi
exec "$python" train/train_world.py --work "$work" --out "$out" --plan "$plan" "${base[@]}"
