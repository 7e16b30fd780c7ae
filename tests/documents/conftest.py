"""Document test fixtures: conversion settings (the session's `embedder` is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from omne_core.config import DocumentSettings


@pytest.fixture
def settings() -> DocumentSettings:
    return DocumentSettings(per_file_timeout_s=60)
