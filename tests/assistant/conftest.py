"""Assistant test fixtures: a real memory store under tmp_path (only the model is scripted)."""

from __future__ import annotations

import pytest

from omne_core.config import load_settings
from omne_core.memory import MemoryStore


@pytest.fixture
def settings():
    return load_settings()  # data dir under tmp_path (see tests/conftest.py)


@pytest.fixture
async def store(settings):
    memory = await MemoryStore.open(settings)
    yield memory
    await memory.close()
