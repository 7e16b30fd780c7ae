"""What gets indexed for a record, and how a query becomes a lexical (FTS5) query.

A conversation turn is short and often only makes sense with the turn it answers, so a `message` record is
indexed with the previous message of its session. The store calls `index_text` for every record it adds,
passing up to `CONTEXT_RECORDS` earlier records of the same session (oldest first).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from ..records import MemoryKind, MemoryRecord

CONTEXT_RECORDS = 1  # earlier same-session records passed to `index_text`
OWN_TEXT_WEIGHT = 2  # the record's own words count this many times in BM25 (a BM25F field weight)

_WORD = re.compile(r"\w+", re.UNICODE)

# English function words: they match almost every record, so they only add noise to an OR query.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves s t d ll m re ve""".split()
)


class IndexedText(NamedTuple):
    """The text embedded for the vector index, and the text put in the BM25 index."""

    dense: str
    lexical: str


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscore), in order."""
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """The words of `text` that are not stop words."""
    return [w for w in words(text) if w not in STOP_WORDS]


def speaker_line(record: MemoryRecord) -> str:
    """`speaker: text` for a record with a `speaker` in its metadata (unless the text already starts so)."""
    speaker = record.metadata.get("speaker")
    text = record.text.strip()
    if not isinstance(speaker, str) or not speaker.strip():
        return text
    speaker = speaker.strip()
    if text.lower().startswith(f"{speaker.lower()}:"):
        return text
    return f"{speaker}: {text}"


def date_words(when: datetime | None) -> str:
    """A date as words BM25 can match ("8 May 2023"), so "what happened in May 2023" finds it."""
    if when is None:
        return ""
    return f"{when.day} {when.strftime('%B %Y')}"


def conversation_context(record: MemoryRecord, previous: Sequence[MemoryRecord]) -> str:
    """The message a `message` record answers: the latest earlier message of its session, if any."""
    if record.kind is not MemoryKind.MESSAGE or not previous:
        return ""
    before = previous[-1]
    return speaker_line(before) if before.kind is MemoryKind.MESSAGE else ""


def index_text(record: MemoryRecord, previous: Sequence[MemoryRecord] = ()) -> IndexedText:
    """Dense: own line, then the turn it answers. Lexical: the event date, own line (weighted), that turn."""
    own = speaker_line(record)
    context = conversation_context(record, previous)
    dense = f"{own}\n{context}" if context else own
    parts = [date_words(record.event_time), *([own] * OWN_TEXT_WEIGHT), context]
    return IndexedText(dense=dense, lexical="\n".join(p for p in parts if p))


def query_text(query: str) -> str:
    """The text embedded for a query."""
    return query.strip()


def query_terms(query: str) -> list[str]:
    """The query's distinct content words; its stop words only when it has nothing else."""
    return list(dict.fromkeys(content_words(query))) or list(dict.fromkeys(words(query)))


def phrase(term: str) -> str:
    """One FTS5 phrase for a term (quotes doubled)."""
    return '"' + term.replace('"', '""') + '"'


def any_of(terms: Sequence[str]) -> str | None:
    """An FTS5 MATCH expression for documents holding any of the terms; None for no terms."""
    if not terms:
        return None
    return " OR ".join(phrase(t) for t in terms)


def rarest_terms(terms: Sequence[str], document_counts: dict[str, int], budget: int) -> list[str]:
    """The terms to score when BM25 may look at about `budget` matching rows: drop the most frequent terms
    (the lowest IDF, the least weight in BM25) while the rest still match more than `budget` rows. The rarest
    term is always kept. Order is preserved."""
    kept = sorted(terms, key=lambda t: document_counts.get(t, 0))
    while len(kept) > 1 and sum(document_counts.get(t, 0) for t in kept) > budget:
        kept.pop()
    return [t for t in terms if t in kept]
