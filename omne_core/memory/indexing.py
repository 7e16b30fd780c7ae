"""What gets indexed for a record, and how a query becomes a lexical (FTS5) query.

A conversation turn is short and often only makes sense with the turn it answers, so a `message` record is
indexed with the previous message of its session. The store calls `index_text` for every record it adds,
passing up to `CONTEXT_RECORDS` earlier records of the same session (oldest first).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from ..records import MemoryKind, MemoryRecord

CONTEXT_RECORDS = 1  # earlier same-session records passed to `index_text`
# What the dense texts are, as part of the vector space's name (`backends.open_backend`): a store whose vectors
# were made from texts of another format is re-embedded when it opens, its texts derived again (`MemoryStore.repair`).
DENSE_FORMAT = "capitalised-names-out"
OWN_TEXT_WEIGHT = 2  # the record's own words count this many times in BM25 (a BM25F field weight)

_WORD = re.compile(r"\w+", re.UNICODE)
_INNER_CAPITAL = re.compile(r"(?<=[^\s.?!])\s+([A-Z]\w*)")  # a capitalised word not starting a sentence

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


def speakers_of(record: MemoryRecord) -> list[str]:
    """Who said the record (`speaker`), or, for a conclusion, who said what it was derived from (`speakers`)."""
    speaker, speakers = record.metadata.get("speaker"), record.metadata.get("speakers")
    named = [speaker] if isinstance(speaker, str) else []
    if isinstance(speakers, list):
        named += [s for s in speakers if isinstance(s, str)]
    return named


def without_names(text: str, names: Iterable[str]) -> str:
    """`text` with the people's names left out (each name, each of its words, with a possessive "'s"), for the
    dense side: a conversation names its speakers in nearly every turn and question, so a name would pull a query
    towards all of that person's turns instead of what it asks about. Who is asked about is BM25's and the
    speaker prior's job. Only the names go: "Ana: hi" becomes ": hi" (the turn stays marked as one; LoCoMo dev
    recall@10 0.859 this way, 0.852 with the colon gone too). A name counts only where written with its capital
    ("Thanks, Hope!", "HOPE"), so a speaker named with a common word keeps that word ("I hope so") in every text.
    The text itself when nothing else would be left."""
    parts = {p for name in names for p in (name.strip(), *name.split()) if len(p) > 1 and p.lower() not in STOP_WORDS}
    if not parts:
        return text
    alternatives = "|".join(_capitalised(p) for p in sorted(parts, key=len, reverse=True))
    kept = re.sub(rf"(?<!\w)(?:{alternatives})(?:(?i:['’]s))?(?!\w)", " ", text)
    kept = "\n".join(" ".join(line.split()) for line in kept.split("\n"))
    return kept if any(ch.isalnum() for ch in kept) else text


def _capitalised(name: str) -> str:
    """A pattern matching `name` with its first letter in capitals and the rest in any case."""
    return re.escape(name[0].upper()) + (f"(?i:{re.escape(name[1:])})" if len(name) > 1 else "")


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
    """Dense: own line, then the turn it answers, without the names of their speakers (`without_names`). Lexical:
    the event date, own line (weighted), that turn."""
    own = speaker_line(record)
    context = conversation_context(record, previous)
    names = [*speakers_of(record), *(speakers_of(previous[-1]) if context else [])]
    dense = without_names(f"{own}\n{context}" if context else own, names)
    parts = [date_words(record.event_time), *([own] * OWN_TEXT_WEIGHT), context]
    return IndexedText(dense=dense, lexical="\n".join(p for p in parts if p))


def query_text(query: str, names: Iterable[str] = ()) -> str:
    """The text embedded for a query: without the names of the speakers it names (as the records' dense texts)."""
    return without_names(query.strip(), names)


def name_words(query: str) -> set[str]:
    """The query's content words that may name someone: those written with a capital somewhere in it ("Did Hope
    call?" names Hope, "What do I hope for?" does not), or every one in a query written without capitals."""
    if query == query.lower():
        return set(content_words(query))
    return {w.lower() for w in _WORD.findall(query) if w[0].isupper()} - STOP_WORDS


def is_named(name: str, query_names: set[str]) -> bool:
    """Whether a query names someone: its `name_words` hold any word of the name but a stop word."""
    return bool({w for w in words(name) if w not in STOP_WORDS} & query_names)


def named_speakers(query: str, records: Iterable[MemoryRecord]) -> list[str]:
    """The speakers of `records` the query names (`is_named`), each once."""
    query_names = name_words(query)
    return list(dict.fromkeys(name for r in records for name in speakers_of(r) if is_named(name, query_names)))


def name_guess(query: str) -> list[str]:
    """The query's capitalised words after its first (a guess at the names it holds, checked later against the
    records' speakers: the query is encoded with and without them in one batch)."""
    return list(dict.fromkeys(m.group(1) for m in _INNER_CAPITAL.finditer(query)))


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
