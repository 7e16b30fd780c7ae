"""Typed errors of the tools. Tools raise them; the one tool wrapper (`toolset.agent_tool`) turns them into
text for the agent (`ToolError.agent_text`)."""

from __future__ import annotations

from omne_core.errors import ToolError

__all__ = [
    "BlockedUrlError",
    "BrowserStateError",
    "FetchError",
    "FetchTimeoutError",
    "FileReadError",
    "LogicExpertError",
    "PageTooLargeError",
    "PathNotAllowedError",
    "PathNotFoundError",
    "SearchError",
    "SearchRateLimitedError",
    "SearchTimeoutError",
    "SearchUnavailableError",
    "ToolError",
    "ToolErrorText",
]


class ToolErrorText(str):
    """The text a tool wrapper returns for a `ToolError` (what the model reads), marked so that an agent running
    the tool knows the call failed without reading the text (a result may itself start with "Error:")."""


class BlockedUrlError(ToolError):
    """The URL's scheme, host or resolved address is not allowed (SSRF guard)."""


class FetchError(ToolError):
    """The page could not be fetched (DNS failure, connection refused, bad redirect, ...)."""


class FetchTimeoutError(FetchError):
    """The page did not arrive within the time limit."""


class PageTooLargeError(FetchError):
    """The response is larger than the configured cap."""


class BrowserStateError(ToolError):
    """The browser cannot do that now (no page open, unknown link number, nothing to go back to)."""


class PathNotAllowedError(ToolError):
    """The path is outside every configured root (a `../` escape or a symlink pointing outside)."""


class SearchError(ToolError):
    """A web search failed."""

    label = "Search error"


class SearchRateLimitedError(SearchError):
    """The search engine answered with a rate-limit response (e.g. DuckDuckGo's HTTP 202)."""


class SearchTimeoutError(SearchError):
    """The search engine did not answer in time."""


class SearchUnavailableError(SearchError):
    """The search engine is unreachable or answered with an unusable response."""


class PathNotFoundError(ToolError):
    """No file or folder with that name exists under the allowed roots."""


class FileReadError(ToolError):
    """The file exists but could not be converted (corrupt, unsupported, too large, ...)."""


class LogicExpertError(ToolError):
    """The logic expert gave no answer (empty or oversized problem, timeout, model failure)."""

    label = "Logic expert error"
