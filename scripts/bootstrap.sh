#!/usr/bin/env bash
# Create .venv if missing and install Omne with its offline extras. Safe to run again: it reinstalls
# only when pyproject.toml changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
./scripts/ensure_chromium.sh  # a system package: checked on every run, not only when pyproject.toml changes
stamp=.venv/.omne-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, at the exact version that is a local CPU build here: any other pulls CUDA wheels.
echo "==> installing torch==2.13.0 (CPU)"
.venv/bin/pip install --quiet "torch==2.13.0"
echo "==> installing omne[local,postgres,maf,dev] (builds llama-cpp-python from source the first time: ~5 min)"
.venv/bin/pip install --quiet -e ".[local,postgres,maf,dev]"
echo "$want" > "$stamp"
