"""Web search against DuckDuckGo- and SearXNG-shaped servers on 127.0.0.1.

Code path covered for DuckDuckGo: our `DuckDuckGoBackend` -> `ddgs`' own DuckDuckGo HTML engine
(its primp HTTP client POSTing the form, its lxml XPath result parser, its ad filter) with only the
endpoint URL changed to the local server, plus our rate-limit detection and `/l/?uddg=` unwrapping.
Not covered: whether the live html.duckduckgo.com still serves this page layout.
"""

from __future__ import annotations

import time

import pytest

from omne_core.config import SearchBackendName, WebSettings
from omne_tools.errors import SearchRateLimitedError, SearchUnavailableError
from omne_tools.search import (
    DuckDuckGoBackend,
    SearchBackend,
    SearchResult,
    SearxngBackend,
    WebSearch,
    search_backend_from_settings,
)
from omne_tools.toolset import web_search_tool

from .agent_view import tool_text


def ddg(local_site, path: str, timeout_s: float = 5.0) -> DuckDuckGoBackend:
    return DuckDuckGoBackend(url=local_site.url(path), timeout_s=timeout_s)


async def test_duckduckgo_results_parsed_from_html_endpoint(local_site):
    results = await ddg(local_site, "/ddg/html/").search("python", 10)
    assert local_site.queries[-1] == "python"  # the query was POSTed as the `q` form field
    assert [r.url for r in results] == [
        "https://www.python.org/",  # unwrapped from //duckduckgo.com/l/?uddg=...
        "https://en.wikipedia.org/wiki/Python_(programming_language)",
        "https://docs.python.org/3/tutorial/",
    ]  # the y.js advertisement is dropped
    assert results[0].title == "Welcome to python.org"
    assert results[0].snippet == "The official home of the python Programming Language"


async def test_max_results_respected(local_site):
    results = await ddg(local_site, "/ddg/html/").search("python", 2)
    assert len(results) == 2


async def test_rate_limit_retried_with_backoff_then_succeeds(local_site):
    search = WebSearch(ddg(local_site, "/ddg-flaky/html/"), retries=3, backoff_s=0.05)
    answer = await search.run("python")
    assert local_site.hits["/ddg-flaky/html/"] == 3  # two 202 answers, then results
    assert answer.startswith("Search results for 'python' (duckduckgo):")
    assert "1. [Welcome to python.org](https://www.python.org/)" in answer


async def test_rate_limit_exhausted_gives_error_string(local_site):
    before = local_site.hits["/ddg-ratelimit/html/"]
    search = WebSearch(ddg(local_site, "/ddg-ratelimit/html/"), retries=2, backoff_s=0.05)
    with pytest.raises(SearchRateLimitedError):
        await search.search("python")
    assert local_site.hits["/ddg-ratelimit/html/"] - before == 3
    with pytest.raises(SearchRateLimitedError):
        await search.run("python")  # the tool form raises a ToolError; the tool wrapper turns it into text
    answer = await tool_text(web_search_tool(search), query="python")
    assert answer.startswith("Search error: DuckDuckGo rate-limited the search (HTTP 202")
    assert "Gave up after 3 attempts" in answer


async def test_timeout_retried_then_error_string(local_site):
    search = WebSearch(ddg(local_site, "/ddg-slow/html/", timeout_s=0.5), retries=1, backoff_s=0.05)
    started = time.monotonic()
    answer = await tool_text(web_search_tool(search), query="python")
    assert "did not answer within 0.5 s" in answer and "Gave up after 2 attempts" in answer
    assert time.monotonic() - started < 6


async def test_no_results_and_empty_query(local_site):
    search = WebSearch(ddg(local_site, "/ddg-empty/html/"))
    assert await search.run("xyzzy") == "No results found for 'xyzzy' (duckduckgo)."
    assert await tool_text(web_search_tool(search), query="   ") == "Search error: the query is empty."


async def test_unreachable_engine_fails_at_once_without_retries():
    """Connection refused (nothing listens on port 9 of 127.0.0.1) is not retried."""
    search = WebSearch(DuckDuckGoBackend(url="http://127.0.0.1:9/html/", timeout_s=5), retries=3, backoff_s=5)
    started = time.monotonic()
    answer = await tool_text(web_search_tool(search), query="python")
    assert answer.startswith("Search error: DuckDuckGo search failed:")
    assert time.monotonic() - started < 4


async def test_searxng_backend(local_site):
    results = await SearxngBackend(local_site.url("/searx")).search("omne", 5)
    assert results == [
        SearchResult(title="About omne", url="https://example.org/a", snippet="First hit."),
        SearchResult(title="Second", url="https://example.org/b", snippet="Second hit."),
    ]


async def test_searxng_rate_limit_and_disabled_json(local_site):
    with pytest.raises(SearchRateLimitedError):
        await SearxngBackend(local_site.url("/searx-429")).search("omne", 5)
    with pytest.raises(SearchUnavailableError, match="enable `json`"):
        await SearxngBackend(local_site.url("/searx-nojson")).search("omne", 5)


async def test_backend_chosen_by_settings(local_site):
    searx = WebSettings(search_backend=SearchBackendName.SEARXNG, searxng_url=local_site.url("/searx"))
    search = WebSearch.from_settings(searx)
    assert isinstance(search.backend, SearxngBackend)
    assert "1. [About omne](https://example.org/a)" in await search.run("omne")
    assert isinstance(search_backend_from_settings(WebSettings()), DuckDuckGoBackend)
    with pytest.raises(ValueError, match="searxng_url"):
        search_backend_from_settings(WebSettings(search_backend=SearchBackendName.SEARXNG))


async def test_custom_backend_plugs_in():
    class Fixed(SearchBackend):
        name = "fixed"

        async def search(self, query: str, max_results: int) -> list[SearchResult]:
            return [SearchResult(title=query.upper(), url="https://example.org/", snippet="s")][:max_results]

    assert "1. [HELLO](https://example.org/)" in await WebSearch(Fixed()).run("hello")
