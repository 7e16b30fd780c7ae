# The README's two commands: `make demo` (main job, offline) and `make test` (the whole suite).
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test lint bench

setup:
	./scripts/bootstrap.sh

demo: setup
	.venv/bin/omne demo

# mypy first (strict on omne_core), so the test runner's summary stays the last line; -rs names every skip's reason
# (e.g. the browser tests without Chromium).
test: setup
	./scripts/typecheck.sh
	.venv/bin/python -m pytest -q -rs -p no:cacheprovider

lint: setup
	.venv/bin/ruff check .
	./scripts/typecheck.sh
