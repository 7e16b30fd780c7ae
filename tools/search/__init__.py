"""Web search: a `SearchBackend` interface, DuckDuckGo and SearXNG backends, and `WebSearch` with retries."""

from .base import SearchBackend, SearchResult
from .duckduckgo import DuckDuckGoBackend
from .searxng import SearxngBackend
from .web_search import WebSearch, search_backend_from_settings

__all__ = [
    "DuckDuckGoBackend",
    "SearchBackend",
    "SearchResult",
    "SearxngBackend",
    "WebSearch",
    "search_backend_from_settings",
]
