"""SearXNG search through its JSON API (`/search?format=json`); the instance must enable the json format."""

from __future__ import annotations

import httpx

from ..errors import SearchRateLimitedError, SearchTimeoutError, SearchUnavailableError
from .base import SearchBackend, SearchResult


class SearxngBackend(SearchBackend):
    """A SearXNG instance (self-hosted or public), e.g. `http://127.0.0.1:8888`."""

    name = "searxng"

    def __init__(self, base_url: str, *, timeout_s: float = 15.0, user_agent: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.user_agent = user_agent

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        headers = {"Accept": "application/json"}
        if self.user_agent:
            headers["User-Agent"] = self.user_agent
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, headers=headers, trust_env=False) as client:
                response = await client.get(
                    f"{self.base_url}/search", params={"q": query, "format": "json", "pageno": 1}
                )
        except httpx.TimeoutException as exc:
            raise SearchTimeoutError(
                f"SearXNG at {self.base_url} did not answer within {self.timeout_s:g} s."
            ) from exc
        except httpx.HTTPError as exc:
            raise SearchUnavailableError(
                f"SearXNG at {self.base_url} is unreachable: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code == 429:
            raise SearchRateLimitedError(f"SearXNG at {self.base_url} rate-limited the search (HTTP 429).")
        if response.status_code == 403:
            raise SearchUnavailableError(
                f"SearXNG at {self.base_url} refused the JSON API (HTTP 403): enable `json` in search.formats."
            )
        if response.status_code != 200:
            raise SearchUnavailableError(f"SearXNG at {self.base_url} answered HTTP {response.status_code}.")
        try:
            payload = response.json()
            items = payload["results"]
            results = [
                SearchResult(
                    title=str(i.get("title") or i["url"]),
                    url=str(i["url"]),
                    snippet=str(i.get("content") or ""),
                )
                for i in items
                if isinstance(i, dict) and i.get("url")
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise SearchUnavailableError(
                f"SearXNG at {self.base_url} sent an unexpected answer: {exc}"
            ) from exc
        return results[:max_results]
