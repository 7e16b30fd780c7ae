"""The lexical tokens of a text exactly as the embedded backend's FTS5 index reads them (Porter stems).

The embedded backend ranks with FTS5's `porter unicode61 remove_diacritics 2` tokenizer. The PostgreSQL backend
keeps its own inverted index, so it asks that very tokenizer (SQLite ships with Python) for the tokens: an
in-memory FTS5 table per thread and its `fts5vocab` instance view. Same tokens, same counts, hence the same BM25.
Reflection compares a conclusion with its sources through the same stems (`reflection.shared_stems`).
A token never holds whitespace (unicode61 separates on it), so `lexical.add_postings` sends a record's tokens
as one space-separated text.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence

TOKENIZER = "porter unicode61 remove_diacritics 2"  # the embedded backend's (database.py)

_local = threading.local()


def _connection() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(content, tokenize = '{TOKENIZER}')")
        conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        _local.conn = conn
    return conn


def token_counts(texts: Sequence[str]) -> list[Counter[str]]:
    """For each text, its tokens and how often each occurs (the text's length is the sum of the counts)."""
    if not texts:
        return []
    conn = _connection()
    out: list[Counter[str]] = [Counter() for _ in texts]
    with conn:
        conn.executemany("INSERT INTO t(rowid, content) VALUES (?, ?)", ((i + 1, t) for i, t in enumerate(texts)))
        for doc, term, count in conn.execute("SELECT doc, term, count(*) FROM v GROUP BY doc, term"):
            out[doc - 1][term] = count
        conn.execute("DELETE FROM t")
    return out


def query_tokens(terms: Sequence[str]) -> list[str]:
    """The distinct tokens of the query's terms, in order (a term of several tokens gives each of them)."""
    seen: dict[str, None] = {}
    for counts in token_counts(list(terms)):
        for token in counts:
            seen.setdefault(token, None)
    return list(seen)
