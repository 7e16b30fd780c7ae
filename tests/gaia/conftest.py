"""GAIA test fixtures: a GAIA-format directory with real attachments, written fresh per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from .gaia_fixture import write_gaia_fixture


@pytest.fixture
def gaia_root(tmp_path: Path) -> Path:
    return write_gaia_fixture(tmp_path / "GAIA")
