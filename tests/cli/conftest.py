"""CLI test fixtures: the embedding model warmed once per session (the CLI's store reuses the process cache)."""

from __future__ import annotations

import pytest

from omne_core.embeddings import LocalEmbedder


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    model = LocalEmbedder()
    model.embed(["warm up"])
    return model
