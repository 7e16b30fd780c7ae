"""Fixtures of the tool tests: the local site on 127.0.0.1 and web settings that allow exactly that host."""

from __future__ import annotations

import pytest

from omne_core.config import WebSettings

from .toolsite import LocalSite, ServerThread


@pytest.fixture(scope="session")
def local_site() -> LocalSite:
    server = ServerThread()
    site = server.start()
    yield site
    server.stop()


@pytest.fixture
def web_settings() -> WebSettings:
    """127.0.0.1 allowed explicitly (nothing else private), small caps and a short time limit."""
    return WebSettings(
        allowed_hosts=["127.0.0.1"],
        max_page_bytes=200_000,
        max_download_bytes=1_000_000,
        request_timeout_s=2.0,
        viewport_chars=2000,
        max_redirects=5,
    )
