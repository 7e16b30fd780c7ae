"""DuckDuckGo search through `ddgs`' DuckDuckGo HTML engine, with a configurable endpoint.

`ddgs` posts the query to DuckDuckGo's HTML endpoint (`html.duckduckgo.com/html/`) with its
browser-impersonating `primp` client and parses the result page with lxml XPath. We use that engine
as is, only (1) pointing it at `WebSettings.duckduckgo_url` (tests serve DuckDuckGo-style pages from
127.0.0.1) and (2) turning DuckDuckGo's rate-limit answers (HTTP 202, 403, 429 or the "anomaly"
challenge page), which `ddgs` would report as "no results", into `SearchRateLimitedError`.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ddgs.engines.duckduckgo import Duckduckgo
from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

from ..errors import SearchRateLimitedError, SearchTimeoutError, SearchUnavailableError
from .base import SearchBackend, SearchResult

DUCKDUCKGO_HTML_URL = "https://html.duckduckgo.com/html/"
_RATE_LIMIT_STATUS = {202, 403, 429}
_CHALLENGE_MARKERS = ("anomaly-modal", "bots use DuckDuckGo too")


class _DuckDuckGoHtmlEngine(Duckduckgo):
    """`ddgs`' DuckDuckGo engine with a configurable URL and explicit rate-limit errors."""

    def __init__(self, search_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)  # type: ignore[arg-type]  # primp takes float seconds
        self.search_url = search_url

    def request(self, *args: Any, **kwargs: Any) -> str:
        response = self.http_client.request(*args, **kwargs)
        if response.status_code in _RATE_LIMIT_STATUS:
            raise RatelimitException(f"HTTP {response.status_code} from {self.search_url}")
        if response.status_code != 200:
            raise DDGSException(f"HTTP {response.status_code} from {self.search_url}")
        text = response.text
        if any(marker in text for marker in _CHALLENGE_MARKERS):
            raise RatelimitException(f"bot challenge page from {self.search_url}")
        return text


def unwrap_redirect(url: str) -> str:
    """The target of a DuckDuckGo `/l/?uddg=` redirect link; other URLs unchanged."""
    if url.startswith("//"):
        url = "https:" + url
    parts = urlsplit(url)
    if parts.netloc.endswith("duckduckgo.com") and parts.path == "/l/":
        target = parse_qs(parts.query).get("uddg")
        if target:
            return unquote(target[0])
    return url


class DuckDuckGoBackend(SearchBackend):
    """DuckDuckGo web search (no API key) through the `ddgs` library's HTML engine."""

    name = "duckduckgo"

    def __init__(
        self, *, url: str = DUCKDUCKGO_HTML_URL, region: str = "us-en", timeout_s: float = 15.0
    ) -> None:
        self.url = url
        self.region = region
        self.timeout_s = timeout_s

    def _search_sync(self, query: str) -> list[SearchResult]:
        engine = _DuckDuckGoHtmlEngine(self.url, self.timeout_s)
        try:
            hits = engine.search(query, region=self.region) or []
        except RatelimitException as exc:
            raise SearchRateLimitedError(f"DuckDuckGo rate-limited the search ({exc}).") from exc
        except TimeoutException as exc:
            raise SearchTimeoutError(f"DuckDuckGo did not answer within {self.timeout_s:g} s.") from exc
        except DDGSException as exc:
            raise SearchUnavailableError(f"DuckDuckGo search failed: {exc}") from exc
        return [
            SearchResult(title=h.title, url=unwrap_redirect(h.href), snippet=h.body) for h in hits if h.href
        ]

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        try:
            results = await asyncio.wait_for(asyncio.to_thread(self._search_sync, query), self.timeout_s + 5)
        except TimeoutError as exc:
            raise SearchTimeoutError(f"DuckDuckGo did not answer within {self.timeout_s:g} s.") from exc
        return results[:max_results]
