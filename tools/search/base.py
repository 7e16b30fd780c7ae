"""The search backend interface: one async `search` returning titles, URLs and snippets."""

from __future__ import annotations

from abc import ABC, abstractmethod

from pydantic import BaseModel


class SearchResult(BaseModel):
    """One web search hit."""

    title: str
    url: str
    snippet: str = ""


class SearchBackend(ABC):
    """A web search engine. Implementations raise `SearchRateLimitedError`, `SearchTimeoutError` or
    `SearchUnavailableError` (from `omne_tools.errors`) so that `WebSearch` can retry or report them."""

    name: str = "search"

    @abstractmethod
    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        """Up to `max_results` hits for `query`, best first; an empty list when nothing matched."""
