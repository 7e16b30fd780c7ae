"""What gets indexed for a record, and how a query becomes a lexical (FTS5) query.

The store calls `index_text` for every record it adds, passing up to `CONTEXT_RECORDS` earlier records
of the same session (oldest first), so conversation turns can be indexed with their neighbours.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from .record import MemoryRecord

CONTEXT_RECORDS = 0  # earlier same-session records passed to `index_text`

_WORD = re.compile(r"\w+", re.UNICODE)


class IndexedText(NamedTuple):
    """The text embedded for the vector index, and the text put in the BM25 index."""

    dense: str
    lexical: str


def index_text(record: MemoryRecord, previous: Sequence[MemoryRecord] = ()) -> IndexedText:
    """Index a record by its own text (speaker included for conversation messages)."""
    text = record.text
    speaker = record.metadata.get("speaker")
    if speaker:
        text = f"{speaker}: {text}"
    return IndexedText(dense=text, lexical=text)


def query_text(query: str) -> str:
    """The text embedded for a query."""
    return query


def lexical_query(query: str) -> str | None:
    """An FTS5 MATCH expression: any of the query's words (BM25 ranks by how many and how rare)."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
