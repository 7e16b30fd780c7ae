#!/usr/bin/env bash
# mypy on the source tree: strict on omne_core, default mode on the other packages.
# The folders tools/ and eval/ install as omne_tools and omne_eval (pyproject package-dir), which mypy cannot
# follow through the editable install's import hook, so it reads the packages through a folder of symlinks named
# like the installed packages (kept under .mypy_cache, so the cache sees the same paths each run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$root/.venv/bin/python}
shim=$root/.mypy_cache/packages
mkdir -p "$shim"
for pair in omne_core:omne_core omne_cli:omne_cli omne_assistant:omne_assistant omne_tools:tools omne_eval:eval \
    omne_server:omne_server; do
  ln -sfn "$root/${pair#*:}" "$shim/${pair%%:*}"
done
cd "$shim"
args=(--config-file "$root/pyproject.toml" --cache-dir "$root/.mypy_cache")
"$py" -m mypy "${args[@]}" --strict -p omne_core
"$py" -m mypy "${args[@]}" -p omne_tools -p omne_assistant -p omne_eval -p omne_server -p omne_cli
