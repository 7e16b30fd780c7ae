"""Test-wide settings: everything offline, every data directory under tmp_path."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_omne_env(tmp_path, monkeypatch):
    """No test reads the developer's omne.toml, data directory or API keys."""
    for name in list(os.environ):
        if name.startswith("OMNE_") or name in {"OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "LLAMA_CLOUD_API_KEY", "HF_TOKEN"}:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMNE_CONFIG", str(tmp_path / "omne.toml"))
    monkeypatch.setenv("OMNE_DATA_DIR", str(tmp_path / "omne-data"))
    yield
