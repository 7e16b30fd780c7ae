"""Document test fixtures: conversion settings, and the embedding model (for ingestion into a real store) loaded once."""

from __future__ import annotations

import pytest

from omne_core.config import DocumentSettings


@pytest.fixture(scope="session")
def embedder():
    from omne_core.embeddings import LocalEmbedder

    model = LocalEmbedder()
    model.embed(["warm up"])
    return model


@pytest.fixture
def settings() -> DocumentSettings:
    return DocumentSettings(per_file_timeout_s=60)
