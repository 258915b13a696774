#!/usr/bin/env bash
# Creates or updates the project's Python environment, .venv/ at the repository root, from the pinned
# requirement files: python/requirements-jupyter.txt (JupyterLab 4.6, Notebook 7, ipywidgets 8, nbconvert,
# nbclient, jupyter_client 8, jupyter_kernel_test: what the kernel, widget, notebook and Lab tests and
# `fatezero figures` / `export-html` run) and python/requirements-train.txt (torch and numpy for train/).
# Tests and the training script find it as .venv/bin/python and .venv/bin/jupyter (FATEZERO_PYTHON overrides).
#
# Usage: bash python/setup.sh          (PYTHON=python3.x to choose the interpreter a new venv is made from)
# Idempotent: when .venv/ was made from the same interpreter and requirement files (a stamp of their hash), it
# returns at once; otherwise `pip install` brings the venv to the pins (it does not remove packages nobody pins
# any more: delete .venv/ for a clean one).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.venv"
REQUIREMENTS=("$ROOT/python/requirements-jupyter.txt" "$ROOT/python/requirements-train.txt")
STAMP="$VENV/.fatezero-requirements"

for file in "${REQUIREMENTS[@]}"; do
  [ -f "$file" ] || { echo "python/setup.sh: $file is missing" >&2; exit 1; }
done

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "" 2>/dev/null; then
  PYTHON="${PYTHON:-python3}"
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "python/setup.sh: Python >= 3.10 is needed, got " + sys.version)'
  echo "python/setup.sh: creating $VENV with $("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi

want="$({ "$VENV/bin/python" -c 'import sys; print(sys.version)'; cat "${REQUIREMENTS[@]}"; } | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "python/setup.sh: $VENV is up to date"
  exit 0
fi

started=$(date +%s)
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
  -r "$ROOT/python/requirements-jupyter.txt" -r "$ROOT/python/requirements-train.txt"
"$VENV/bin/python" -m pip check --disable-pip-version-check
echo "$want" > "$STAMP"
echo "python/setup.sh: $VENV updated in $(( $(date +%s) - started )) s ($("$VENV/bin/jupyter" lab --version | sed 's/^/JupyterLab /'))"
