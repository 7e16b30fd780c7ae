"""HTML to clean markdown with numbered links, so an agent can say "follow link 3"."""

from __future__ import annotations

import codecs
import re
from typing import Any
from urllib.parse import urldefrag, urljoin

from bs4 import BeautifulSoup
from bs4.dammit import EncodingDetector
from markdownify import MarkdownConverter
from pydantic import BaseModel, Field

DROPPED_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "object",
    "embed",
    "head",
)
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


class RenderedPage(BaseModel):
    """A page as the agent reads it: title, markdown where links read `[text][n]`, and link n's URL."""

    title: str = ""
    markdown: str = ""
    links: list[str] = Field(default_factory=list)  # links[n - 1] is the URL of link [n]

    def link(self, number: int) -> str | None:
        return self.links[number - 1] if 1 <= number <= len(self.links) else None


class _NumberedLinkConverter(MarkdownConverter):
    """markdownify converter that numbers http(s) links instead of printing their URLs inline."""

    def __init__(self, base_url: str, **options: Any) -> None:
        super().__init__(heading_style="ATX", bullets="*", **options)
        self.base_url = base_url
        self.links: list[str] = []
        self._numbers: dict[str, int] = {}

    def number_for(self, href: str) -> int | None:
        url, _fragment = urldefrag(urljoin(self.base_url, href.strip()))
        if not url.startswith(("http://", "https://")):
            return None
        if url not in self._numbers:
            self.links.append(url)
            self._numbers[url] = len(self.links)
        return self._numbers[url]

    def convert_a(self, el, text, parent_tags):  # type: ignore[no-untyped-def]
        text = (text or "").strip()
        href = el.get("href")
        if not href or href.strip().startswith("#"):
            return text
        number = self.number_for(href)
        if number is None:
            return text
        return f"[{text or 'link'}][{number}]"

    def convert_img(self, el, text, parent_tags):  # type: ignore[no-untyped-def]
        alt = (el.get("alt") or "").strip()
        src = (el.get("src") or "").strip()
        if "_inline" in parent_tags or not src or src.startswith("data:"):
            return alt
        return f"![{alt}]({urljoin(self.base_url, src)})"


def _usable(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def decode_html(body: bytes, charset: str | None = None) -> str:
    """Decode HTML bytes: the header charset, else the document's declared one, else UTF-8, else cp1252."""
    declared = _usable(charset) or _usable(EncodingDetector.find_declared_encoding(body, is_html=True))
    if declared:
        return body.decode(declared, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def render_html(html: bytes | str, base_url: str, *, charset: str | None = None) -> RenderedPage:
    """Convert an HTML document to markdown with numbered links, dropping scripts, styles and the head."""
    text = html if isinstance(html, str) else decode_html(html, charset)
    soup = BeautifulSoup(text, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    base_tag = soup.find("base", href=True)
    if base_tag is not None:
        base_url = urljoin(base_url, str(base_tag["href"]))
    for tag in soup(DROPPED_TAGS):
        tag.decompose()
    if not title:
        heading = soup.find("h1")
        title = heading.get_text(" ", strip=True) if heading else ""
    converter = _NumberedLinkConverter(base_url)
    body = soup.body or soup
    markdown = converter.convert_soup(body)
    markdown = _BLANK_LINES.sub("\n\n", markdown).strip()
    return RenderedPage(title=title, markdown=markdown, links=converter.links)
