"""A fixed-size viewport over a page's text: page up/down and find/find-next (wildcards with `*`)."""

from __future__ import annotations

import re

_LINK_REF = re.compile(r"\]\[\d+\]")
_NON_WORD = re.compile(r"\W+")
_QUERY_TOKEN = re.compile(r"\w+|\*")


def split_pages(text: str, size: int) -> list[tuple[int, int]]:
    """(start, end) bounds of viewports of about `size` characters, each ending on whitespace."""
    if not text:
        return [(0, 0)]
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        while end < len(text) and text[end - 1] not in " \t\r\n":
            end += 1
        bounds.append((start, end))
        start = end
    return bounds


def _normalise(text: str) -> str:
    return " " + " ".join(_NON_WORD.split(_LINK_REF.sub("]", text))).strip().lower() + " "


def _query_pattern(query: str) -> re.Pattern[str] | None:
    """Words of `query` as a case-insensitive pattern over normalised text; `*` matches anything."""
    tokens = _QUERY_TOKEN.findall(query.lower())
    if all(token == "*" for token in tokens):
        return None
    pattern = " "
    for token in tokens:
        pattern = pattern.rstrip(" ") + ".*" if token == "*" else pattern + re.escape(token) + " "
    return re.compile(pattern)


class Viewport:
    """Which part of a text the agent sees, and the state of the last find."""

    def __init__(self, text: str, size: int) -> None:
        self.text = text
        self.pages = split_pages(text, max(1, size))
        self.current = 0
        self.find_query: str | None = None
        self.find_hit: int | None = None

    @property
    def content(self) -> str:
        start, end = self.pages[self.current]
        return self.text[start:end]

    @property
    def position(self) -> str:
        return f"Showing page {self.current + 1} of {len(self.pages)}."

    def page_down(self) -> bool:
        """Move down one viewport; False when already on the last one."""
        if self.current + 1 >= len(self.pages):
            return False
        self.current += 1
        return True

    def page_up(self) -> bool:
        """Move up one viewport; False when already on the first one."""
        if self.current == 0:
            return False
        self.current -= 1
        return True

    def find(self, query: str) -> bool:
        """Jump to the first viewport at or after the current one (wrapping) that contains `query`."""
        if query == self.find_query and self.find_hit == self.current:
            return self.find_next()
        self.find_query = query
        return self._jump_from(self.current)

    def find_next(self) -> bool:
        """Jump to the next viewport after the last hit that contains the last query."""
        if self.find_query is None:
            return False
        start = 0 if self.find_hit is None else (self.find_hit + 1) % len(self.pages)
        return self._jump_from(start)

    def _jump_from(self, start: int) -> bool:
        pattern = _query_pattern(self.find_query or "")
        if pattern is None:
            self.find_hit = None
            return False
        order = list(range(start, len(self.pages))) + list(range(0, start))
        spill = max(200, 4 * len(self.find_query or ""))
        for index in order:
            begin, end = self.pages[index]
            if pattern.search(_normalise(self.text[begin:end])) or (
                # a match that starts here and runs on into the next viewport
                pattern.search(_normalise(self.text[begin : end + spill]))
                and not pattern.search(_normalise(self.text[end : end + spill]))
            ):
                self.current = self.find_hit = index
                return True
        self.find_hit = None
        return False
