"""The text web browser: SSRF guard, guarded fetching, HTML to markdown, viewport, browser state."""

from .browser import BrowserPage, DocumentConverter, TextBrowser, document_converter
from .fetch import FetchedResource, Fetcher
from .guard import GuardedTransport, UrlGuard
from .html import RenderedPage, render_html
from .viewport import Viewport

__all__ = [
    "BrowserPage",
    "DocumentConverter",
    "FetchedResource",
    "Fetcher",
    "GuardedTransport",
    "RenderedPage",
    "TextBrowser",
    "UrlGuard",
    "Viewport",
    "document_converter",
    "render_html",
]
