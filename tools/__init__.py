"""Omne's agent tools: web search, a text web browser, a file reader and a logic expert, as AutoGen tools.

`build_toolset(settings, model_client=..., logic_client=..., file_roots=[...])` returns them all as
`FunctionTool`s; the classes below can also be used on their own.
"""

from .errors import (
    BlockedUrlError,
    BrowserStateError,
    FetchError,
    FetchTimeoutError,
    FileReadError,
    LogicExpertError,
    PageTooLargeError,
    PathNotAllowedError,
    PathNotFoundError,
    SearchError,
    SearchRateLimitedError,
    SearchTimeoutError,
    SearchUnavailableError,
    ToolError,
)
from .files import DocumentQuestionAnswerer, FileReader, FileRoots
from .logic_expert import LogicExpert
from .search import DuckDuckGoBackend, SearchBackend, SearchResult, SearxngBackend, WebSearch
from .toolset import (
    agent_tool,
    browser_tools,
    build_toolset,
    file_reader_tool,
    logic_expert_tool,
    web_search_tool,
)
from .web import TextBrowser, UrlGuard

__all__ = [
    "BlockedUrlError",
    "BrowserStateError",
    "DocumentQuestionAnswerer",
    "DuckDuckGoBackend",
    "FetchError",
    "FetchTimeoutError",
    "FileReadError",
    "FileReader",
    "FileRoots",
    "LogicExpert",
    "LogicExpertError",
    "PageTooLargeError",
    "PathNotAllowedError",
    "PathNotFoundError",
    "SearchBackend",
    "SearchError",
    "SearchRateLimitedError",
    "SearchResult",
    "SearchTimeoutError",
    "SearchUnavailableError",
    "SearxngBackend",
    "TextBrowser",
    "ToolError",
    "UrlGuard",
    "WebSearch",
    "agent_tool",
    "browser_tools",
    "build_toolset",
    "file_reader_tool",
    "logic_expert_tool",
    "web_search_tool",
]
