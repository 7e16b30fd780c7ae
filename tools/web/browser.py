"""A text web browser for agents, in the manner of AutoGen's text browser and Magentic-One's surfers.

Pages become markdown shown through a fixed viewport; links are numbered; non-HTML responses (PDF,
XLSX, ...) are downloaded and converted by the document converter. Every result starts with a header:
address, title, viewport position and whether the page was seen before.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from omne_core.config import DocumentSettings, OmneSettings, WebSettings

from ..errors import BrowserStateError, FetchError
from .fetch import FetchedResource, Fetcher
from .html import render_html
from .viewport import Viewport

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient

DocumentConverter = Callable[[Path], Awaitable[str]]
"""Converts a downloaded file to markdown (the default uses `omne_core.documents.convert_file`)."""

_VIEWPORT_LINK = re.compile(r"\]\[(\d+)\]")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_HISTORY = 50  # pages kept for `back`; older ones are dropped
_SCRIPT_SUFFIXES = {"php", "asp", "aspx", "jsp", "cgi", "pl", "py", "htm", "html"}


def document_converter(
    settings: OmneSettings | DocumentSettings | None = None,
    *,
    vision_client: ChatCompletionClient | None = None,
) -> DocumentConverter:
    """A `DocumentConverter` backed by `omne_core.documents.convert_file` (imported on first download)."""

    async def convert(path: Path) -> str:
        from omne_core.documents import convert_file

        document = await convert_file(path, settings, vision_client=vision_client)
        return document.text

    return convert


@dataclass
class BrowserPage:
    """One entry of the browser history: the rendered page and where the viewport is."""

    url: str
    title: str
    viewport: Viewport
    links: list[str] = field(default_factory=list)
    status_code: int = 200
    reason: str = "OK"
    redirects: list[str] = field(default_factory=list)
    download_path: Path | None = None
    previous_visit: float | None = None  # when this address was last shown before this visit


def _download_name(resource: FetchedResource) -> str:
    """A safe file name for a download, with an extension that matches its media type."""
    name = ""
    if resource.content_disposition:
        message = Message()
        message["content-disposition"] = resource.content_disposition
        name = message.get_filename() or ""
    if not name:
        name = unquote(PurePosixPath(urlsplit(resource.url).path).name)
    name = _UNSAFE_NAME.sub("_", PurePosixPath(name.replace("\\", "/")).name).strip("._") or "download"
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    keep_suffix = suffix and mimetypes.guess_type(name)[0] and suffix.lower() not in _SCRIPT_SUFFIXES
    guessed = mimetypes.guess_extension(resource.media_type) if resource.media_type else None
    if not keep_suffix and guessed and guessed != ".bin":
        suffix = guessed.lstrip(".")
    return f"{stem[:80]}.{suffix}" if suffix else stem[:80]


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name in the Content-Type header
        return body.decode("utf-8", errors="replace")


class TextBrowser:
    """A stateful text browser: visit, page up/down, find, find next, follow link, back.

    Methods return the text the agent sees; failures raise `ToolError` subclasses (the browser stays on
    the page it was on). Calls are serialised with a lock, so parallel tool calls cannot interleave.
    """

    def __init__(
        self,
        settings: WebSettings | None = None,
        *,
        download_dir: Path,
        converter: DocumentConverter | None = None,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.settings = settings or WebSettings()
        self.download_dir = Path(download_dir)
        self._converter = converter or document_converter()
        self._fetcher = fetcher or Fetcher(self.settings)
        self.history: list[BrowserPage] = []
        self._last_shown: dict[str, float] = {}
        self._lock = asyncio.Lock()

    @property
    def page(self) -> BrowserPage:
        if not self.history:
            raise BrowserStateError("No page is open yet: visit a URL first.")
        return self.history[-1]

    # -- navigation ------------------------------------------------------------------------------
    async def visit(self, url: str) -> str:
        """Open `url` and show its first viewport."""
        async with self._lock:
            page = await self._load(url.strip())
            self._push(page, requested=url.strip())
            return self.render()

    async def follow_link(self, number: int) -> str:
        """Open the page behind link `[number]` of the current page."""
        async with self._lock:
            target = self.page.links[number - 1] if 1 <= number <= len(self.page.links) else None
            if target is None:
                raise BrowserStateError(
                    f"There is no link [{number}] on this page (it has {len(self.page.links)} links)."
                )
            page = await self._load(target)
            self._push(page, requested=target)
            return self.render()

    async def back(self) -> str:
        """Return to the previous page in the history, where its viewport was."""
        async with self._lock:
            if len(self.history) < 2:
                raise BrowserStateError("There is no previous page to go back to.")
            self.history.pop()
            page = self.history[-1]
            page.previous_visit = self._last_shown.get(page.url)
            self._last_shown[page.url] = time.time()
            return self.render()

    # -- viewport --------------------------------------------------------------------------------
    async def page_down(self) -> str:
        async with self._lock:
            moved = self.page.viewport.page_down()
            return self.render(note=None if moved else "Already at the last page of this document.")

    async def page_up(self) -> str:
        async with self._lock:
            moved = self.page.viewport.page_up()
            return self.render(note=None if moved else "Already at the first page of this document.")

    async def find(self, query: str) -> str:
        """Scroll to the first viewport from the current one on (wrapping) that contains `query`."""
        async with self._lock:
            if self.page.viewport.find(query):
                return self.render(note=f"Found '{query}'.")
            return f"The search string '{query}' was not found on this page ({self.page.viewport.position.lower().rstrip('.')})."

    async def find_next(self) -> str:
        """Scroll to the next viewport that contains the last `find` query."""
        async with self._lock:
            viewport = self.page.viewport
            if viewport.find_query is None:
                raise BrowserStateError("Nothing to find next: use find on page first.")
            if viewport.find_next():
                return self.render(note=f"Found '{viewport.find_query}'.")
            return f"The search string '{viewport.find_query}' was not found on this page."

    # -- rendering -------------------------------------------------------------------------------
    def header(self) -> str:
        page = self.page
        lines = [
            f"Address: {page.url}",
            f"Title: {page.title or '(untitled)'}",
            f"Viewport position: {page.viewport.position}",
        ]
        if page.previous_visit is None:
            lines.append("Seen before: no, this is your first visit to this page.")
        else:
            lines.append(
                f"Seen before: yes, you previously visited this page {round(time.time() - page.previous_visit)} seconds ago."
            )
        if page.redirects:
            lines.append("Redirected from: " + " -> ".join(page.redirects))
        if not 200 <= page.status_code < 300:
            lines.append(f"HTTP status: {page.status_code} {page.reason}")
        if page.download_path is not None:
            lines.append(f"Downloaded file: {page.download_path}")
        return "\n".join(lines)

    def render(self, note: str | None = None) -> str:
        """Header, a separator, the current viewport, then the URLs of the links shown in it."""
        page = self.page
        content = page.viewport.content
        numbers = dict.fromkeys(int(n) for n in _VIEWPORT_LINK.findall(content))
        links = [f"[{n}]: {page.links[n - 1]}" for n in numbers if 1 <= n <= len(page.links)]
        parts = [self.header()]
        if note:
            parts.append(note)
        parts.append("=======================")
        parts.append(content)
        if links:
            parts.append("\nLinks in this viewport (use follow_link with the number):\n" + "\n".join(links))
        return "\n".join(parts)

    # -- loading ---------------------------------------------------------------------------------
    def _push(self, page: BrowserPage, *, requested: str) -> None:
        now = time.time()
        page.previous_visit = self._last_shown.get(page.url) or self._last_shown.get(requested)
        self._last_shown[page.url] = self._last_shown[requested] = now
        self.history.append(page)
        del self.history[:-MAX_HISTORY]

    async def _load(self, url: str) -> BrowserPage:
        if not url:
            raise FetchError("No URL given.")
        if "://" not in url:
            url = "https://" + url
        resource = await self._fetcher.fetch(url)
        size = self.settings.viewport_chars
        common: dict[str, Any] = {
            "url": resource.url,
            "status_code": resource.status_code,
            "reason": resource.reason,
            "redirects": resource.redirects,
        }
        if resource.is_html:
            # bs4 + markdownify take ~1 s per MB of HTML: keep the event loop free meanwhile
            rendered = await asyncio.to_thread(
                render_html, resource.body, resource.url, charset=resource.charset
            )
            return BrowserPage(
                title=rendered.title,
                viewport=Viewport(rendered.markdown, size),
                links=rendered.links,
                **common,
            )
        if resource.is_text:
            text = _decode(resource.body, resource.charset)
            title = PurePosixPath(urlsplit(resource.url).path).name or resource.url
            return BrowserPage(title=title, viewport=Viewport(text, size), **common)
        title = _download_name(resource)
        path = self._save_download(resource, title)
        try:
            markdown = await self._converter(path)
        except Exception as exc:  # the converter's own typed errors vary; the agent needs a clear message
            raise FetchError(
                f"Downloaded {resource.url} ({resource.media_type or 'unknown type'}) to {path}, "
                f"but could not convert it: {type(exc).__name__}: {exc}"
            ) from exc
        return BrowserPage(title=title, viewport=Viewport(markdown, size), download_path=path, **common)

    def _save_download(self, resource: FetchedResource, name: str) -> Path:
        """Write the body under the download directory; the content hash in the name avoids clashes."""
        digest = hashlib.sha256(resource.body).hexdigest()[:10]
        stem, dot, suffix = name.rpartition(".")
        name = f"{stem}-{digest}.{suffix}" if dot else f"{name}-{digest}"
        self.download_dir.mkdir(parents=True, exist_ok=True)
        path = self.download_dir / name
        if not path.exists():
            path.write_bytes(resource.body)
        return path
