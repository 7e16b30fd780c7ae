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
# llama.cpp built for any x86-64 with AVX2, not for the building CPU: a native build (-march=native) used AMX,
# which this VM's CPU lists but does not run (Illegal instruction). --no-cache-dir: pip would reuse a native
# wheel it cached before. Installed once per venv (already satisfied afterwards).
echo "==> building llama-cpp-python for any x86-64 with AVX2 (~5 min)"
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
  .venv/bin/pip install --quiet --no-cache-dir "llama-cpp-python[server]>=0.3.8"
echo "==> installing omne[local,postgres,maf,dev]"
.venv/bin/pip install --quiet -e ".[local,postgres,maf,dev]"
echo "$want" > "$stamp"
