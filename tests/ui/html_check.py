"""Reading a served page as a browser's parser does: its elements with their attributes, and its visible text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]


@dataclass
class Page:
    elements: list[Element] = field(default_factory=list)
    text: str = ""

    def tags(self, name: str) -> list[Element]:
        return [e for e in self.elements if e.tag == name]

    def forms(self) -> list[str]:
        return [e.attrs.get("action", "") for e in self.tags("form")]

    def links(self) -> list[str]:
        return [e.attrs.get("href", "") for e in self.tags("a")]


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.page.elements.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self._text.append(data)


def parse(html: str) -> Page:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    parser.page.text = "".join(parser._text)
    return parser.page


def record_ids(page: Page) -> list[str]:
    """The ids of the record pages a page links to, in order (repeats kept)."""
    out = []
    for link in page.links():
        parts = urlsplit(link)
        if parts.path == "/ui/record":
            out += parse_qs(parts.query).get("id", [])
    return out


def injected(page: Page) -> list[str]:
    """What a hostile text could have smuggled in: script-capable elements, event handlers, javascript: URLs, and
    anything loaded from another origin."""
    found = []
    for element in page.elements:
        if element.tag in {"script", "iframe", "object", "embed", "img", "svg", "math", "base", "meta"} and not (
            element.tag == "meta" and set(element.attrs) <= {"charset", "name", "content"}
            and element.attrs.get("name") in (None, "viewport", "referrer")
        ):
            found.append(f"<{element.tag}>")
        for name, value in element.attrs.items():
            if name.startswith("on"):
                found.append(f"{element.tag}[{name}]")
            if name in {"href", "src", "action", "formaction", "srcset"}:
                lowered = value.strip().lower()
                if lowered.startswith(("javascript:", "data:", "vbscript:")) or "//" in lowered.split("?")[0]:
                    found.append(f"{element.tag}[{name}={value[:40]}]")
            if name == "style":
                found.append(f"{element.tag}[style]")
    return found
