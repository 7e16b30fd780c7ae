"""Windows over a long document: the part the file reader shows, addressed by character offset, and search.

A window holds at most `max_tokens` tokens and ends at a line break when one is near, so paging through a
data file (a `.pdb`, a CSV) never cuts a record in two. Positions are characters of the converted text.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from omne_core.tokens import encoding_for

_MAX_CHARS_PER_TOKEN = 8  # a window reads at most this many characters per token of budget
_CONTEXT_BEFORE_MATCH = 300  # characters shown before a match when its line is longer than that


class TextWindow(BaseModel):
    """Characters `start`..`end` (end excluded) of a `total`-character text, on lines `first_line`..`last_line`."""

    text: str
    start: int
    end: int
    total: int
    first_line: int
    last_line: int
    total_lines: int

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end == self.total

    @property
    def at_end(self) -> bool:
        return self.end >= self.total


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def window_at(text: str, start: int, max_tokens: int) -> TextWindow:
    """The window of at most `max_tokens` tokens that starts at character `start` of `text`."""
    start = max(0, min(start, len(text)))
    probe = text[start : start + max(1, max_tokens) * _MAX_CHARS_PER_TOKEN]
    encoding = encoding_for(None)
    ids = encoding.encode(probe, disallowed_special=())
    length = len(probe)
    if len(ids) > max_tokens:
        _, offsets = encoding.decode_with_offsets(ids[: max_tokens + 1])
        length = offsets[max_tokens]
    if start + length < len(text):
        newline = probe.rfind("\n", 0, length)
        if newline >= length // 2:  # end on a line break unless that gives up more than half the window
            length = newline + 1
    end = start + max(1, length) if text else 0
    return TextWindow(
        text=text[start:end],
        start=start,
        end=end,
        total=len(text),
        first_line=_line_of(text, start),
        last_line=_line_of(text, max(start, end - 1)),
        total_lines=text.count("\n") + (0 if text.endswith("\n") else 1),
    )


def search_pattern(query: str) -> re.Pattern[str] | None:
    """`query` as a case-insensitive literal where any run of whitespace matches any run; None when empty."""
    words = query.split()
    if not words:
        return None
    return re.compile(r"\s+".join(re.escape(word) for word in words), re.IGNORECASE)


class FoundText(BaseModel):
    """Where a search hit: its offset and line, which of how many matches it is, and the next one's offset."""

    offset: int
    line: int
    number: int
    count: int
    next_offset: int | None = None


def find_text(text: str, query: str, start: int = 0) -> FoundText | None:
    """The first match of `query` at or after character `start`, or None."""
    pattern = search_pattern(query)
    if pattern is None:
        return None
    offsets = [match.start() for match in pattern.finditer(text)]
    later = [i for i, offset in enumerate(offsets) if offset >= start]
    if not later:
        return None
    index = later[0]
    return FoundText(
        offset=offsets[index],
        line=_line_of(text, offsets[index]),
        number=index + 1,
        count=len(offsets),
        next_offset=offsets[index + 1] if index + 1 < len(offsets) else None,
    )


def window_start_for(text: str, offset: int) -> int:
    """Where to start a window that shows the match at `offset`: its line's start, unless that line is long."""
    line_start = text.rfind("\n", 0, offset) + 1
    return line_start if offset - line_start <= _CONTEXT_BEFORE_MATCH else offset - _CONTEXT_BEFORE_MATCH
