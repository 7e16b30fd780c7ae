"""Memory test fixtures: every store lives in tmp_path (the session's `embedder` is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from omne_core.config import OmneSettings
from omne_core.memory import MemoryStore
from tests.support.backends import backend_settings


@pytest.fixture
def store_backend(request) -> str:
    """The storage backend under test: `embedded` unless a module runs on both (`tests.support.backends`)."""
    return getattr(request, "param", "embedded")


@pytest.fixture
def settings(request, tmp_path, store_backend) -> OmneSettings:
    return backend_settings(request, tmp_path / "data", store_backend)


@pytest.fixture
async def store(settings, embedder):
    opened = await MemoryStore.open(settings, embedder=embedder)
    yield opened
    await opened.close()
