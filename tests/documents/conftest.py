"""Document test fixtures: the embedding model (for ingestion into a real store) is loaded once."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedder():
    from omne_core.embeddings import LocalEmbedder

    model = LocalEmbedder()
    model.embed(["warm up"])
    return model
