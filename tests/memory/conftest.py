"""Memory test fixtures: the embedding model is loaded once per session; every store lives in tmp_path."""

from __future__ import annotations

import pytest

from omne_core.config import OmneSettings, load_settings
from omne_core.embeddings import LocalEmbedder
from omne_core.memory import MemoryStore


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    model = LocalEmbedder()
    model.embed(["warm up"])
    return model


@pytest.fixture
def settings(tmp_path) -> OmneSettings:
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
async def store(settings, embedder):
    opened = await MemoryStore.open(settings, embedder=embedder)
    yield opened
    await opened.close()
