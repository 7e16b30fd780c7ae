"""Web tool settings: browser safety limits and the search backend."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class SearchBackendName(StrEnum):
    DUCKDUCKGO = "duckduckgo"
    SEARXNG = "searxng"


class WebSettings(BaseModel):
    allowed_hosts: list[str] = Field(default_factory=list)  # hosts exempt from the private-address block
    allow_file_urls: bool = False
    max_page_bytes: int = 10 * 1024 * 1024
    request_timeout_s: float = 20.0
    viewport_chars: int = 8000
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) OmneBrowser/0.1"
    search_backend: SearchBackendName = SearchBackendName.DUCKDUCKGO
    searxng_url: str | None = None
    search_max_results: int = 8
    search_retries: int = 3
