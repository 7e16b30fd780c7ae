"""Web tool settings: browser safety limits, downloads and the search backend."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field

from .section import SettingsSection


class SearchBackendName(StrEnum):
    DUCKDUCKGO = "duckduckgo"
    SEARXNG = "searxng"


class WebSettings(SettingsSection):
    """Browser and search settings. Private, loopback and link-local addresses are refused unless the
    URL's host name is listed in `allowed_hosts` (matched literally: allowing "127.0.0.1" does not allow
    "localhost")."""

    allowed_hosts: list[str] = Field(default_factory=list)  # hosts exempt from the private-address block
    allow_file_urls: bool = False
    max_page_bytes: int = 10 * 1024 * 1024  # HTML and text pages
    max_download_bytes: int = 50 * 1024 * 1024  # PDF, XLSX, ... converted by the document converter
    max_redirects: int = 10
    request_timeout_s: float = 20.0  # whole fetch: every redirect hop and the body
    viewport_chars: int = 8000
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) OmneBrowser/0.1"
    download_dir: Path | None = None  # None: <data_dir>/downloads
    search_backend: SearchBackendName = SearchBackendName.DUCKDUCKGO
    duckduckgo_url: str = "https://html.duckduckgo.com/html/"
    duckduckgo_region: str = "us-en"
    searxng_url: str | None = None
    search_max_results: int = 8
    search_retries: int = 3  # retries after the first attempt, on rate limits and timeouts only
    search_backoff_s: float = 2.0  # first retry delay; doubles each retry
    search_timeout_s: float = 15.0
