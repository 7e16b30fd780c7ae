"""`WebSearch`: a backend plus retries with backoff, and the agent-facing text of the results."""

from __future__ import annotations

import asyncio
import logging
import random

from omne_core.config import SearchBackendName, WebSettings
from omne_core.errors import ConfigurationError

from ..errors import SearchError, SearchRateLimitedError, SearchTimeoutError
from .base import SearchBackend, SearchResult
from .duckduckgo import DuckDuckGoBackend
from .searxng import SearxngBackend

logger = logging.getLogger(__name__)


def search_backend_from_settings(settings: WebSettings) -> SearchBackend:
    """The backend chosen by `settings.search_backend` (DuckDuckGo or SearXNG)."""
    if settings.search_backend == SearchBackendName.SEARXNG:
        if not settings.searxng_url:
            raise ConfigurationError("web.search_backend is 'searxng' but web.searxng_url is not set.")
        return SearxngBackend(
            settings.searxng_url, timeout_s=settings.search_timeout_s, user_agent=settings.user_agent
        )
    return DuckDuckGoBackend(
        url=settings.duckduckgo_url, region=settings.duckduckgo_region, timeout_s=settings.search_timeout_s
    )


class WebSearch:
    """Searches with retries on rate limits and timeouts (exponential backoff with jitter)."""

    def __init__(
        self, backend: SearchBackend, *, max_results: int = 8, retries: int = 3, backoff_s: float = 2.0
    ) -> None:
        self.backend = backend
        self.max_results = max_results
        self.retries = retries
        self.backoff_s = backoff_s

    @classmethod
    def from_settings(cls, settings: WebSettings, backend: SearchBackend | None = None) -> WebSearch:
        return cls(
            backend or search_backend_from_settings(settings),
            max_results=settings.search_max_results,
            retries=settings.search_retries,
            backoff_s=settings.search_backoff_s,
        )

    async def search(self, query: str, max_results: int | None = None) -> list[SearchResult]:
        """Results for `query`; raises `SearchError` once retries are used up or on a non-retryable error."""
        limit = max_results or self.max_results
        for attempt in range(self.retries + 1):
            try:
                return await self.backend.search(query, limit)
            except (SearchRateLimitedError, SearchTimeoutError) as exc:
                if attempt == self.retries:
                    raise
                delay = self.backoff_s * 2**attempt
                delay += random.uniform(0, delay / 4)
                logger.info(
                    "%s search attempt %d failed (%s); retrying in %.2f s",
                    self.backend.name,
                    attempt + 1,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def run(self, query: str, max_results: int | None = None) -> str:
        """The agent-facing answer: numbered results; raises `SearchError` with a message for the agent."""
        query = query.strip()
        if not query:
            raise SearchError("the query is empty.")
        try:
            results = await self.search(query, max_results)
        except (SearchRateLimitedError, SearchTimeoutError) as exc:
            attempts = self.retries + 1
            raise type(exc)(f"{exc} Gave up after {attempts} attempts; try again later or use another query.") from exc
        if not results:
            return f"No results found for '{query}' ({self.backend.name})."
        lines = [f"Search results for '{query}' ({self.backend.name}):"]
        for number, hit in enumerate(results, start=1):
            lines.append(f"{number}. [{hit.title}]({hit.url})")
            if hit.snippet:
                lines.append(f"   {hit.snippet}")
        return "\n".join(lines)
