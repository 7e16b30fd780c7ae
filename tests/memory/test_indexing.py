"""What a record is indexed as, and lexical queries that FTS5 accepts and ranks as intended (no model needed)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from omne_core.memory.indexing import date_words, index_text, lexical_query, speaker_line
from omne_core.memory.record import MemoryKind, MemoryRecord, MemoryScope

SESSION = MemoryScope(user_id="u", session_id="s")


def msg(text: str, speaker: str | None = None, kind: MemoryKind = MemoryKind.MESSAGE, **kw) -> MemoryRecord:
    metadata = {"speaker": speaker} if speaker else {}
    return MemoryRecord(kind=kind, text=text, scope=SESSION, metadata=metadata, **kw)


def test_speaker_prefix_added_once():
    assert speaker_line(msg("I got a puppy", "Ana")) == "Ana: I got a puppy"
    assert speaker_line(msg("ana: I got a puppy", "Ana")) == "ana: I got a puppy"  # already prefixed
    assert speaker_line(msg("  no speaker  ")) == "no speaker"
    assert (
        speaker_line(
            msg("odd metadata", kind=MemoryKind.MESSAGE).model_copy(update={"metadata": {"speaker": 3}})
        )
        == "odd metadata"
    )


def test_message_indexed_with_the_turn_it_answers():
    question = msg("Where did you go last weekend?", "Ben")
    answer = msg("Hiking near Lake Bled", "Ana", event_time=datetime(2023, 5, 8, 13, 56, tzinfo=UTC))
    indexed = index_text(answer, [msg("unrelated older turn", "Ana"), question])
    assert indexed.dense == "Ana: Hiking near Lake Bled\nBen: Where did you go last weekend?"
    lines = indexed.lexical.split("\n")
    assert lines[0] == "8 May 2023"
    assert lines.count("Ana: Hiking near Lake Bled") == 2  # own words weigh more than the context's
    assert lines.count("Ben: Where did you go last weekend?") == 1
    assert "unrelated" not in indexed.lexical  # only the immediately preceding turn


def test_first_turn_and_non_messages_have_no_context():
    first = index_text(msg("hello there", "Ana"))
    assert first.dense == "Ana: hello there" and "\n" not in first.dense
    fact = msg("Ana owns a dog", kind=MemoryKind.FACT)
    assert index_text(fact, [msg("Ben: what pets?", "Ben")]).dense == "Ana owns a dog"
    chunk_before = msg("chapter one text", kind=MemoryKind.DOCUMENT_CHUNK)
    assert index_text(msg("reply", "Ana"), [chunk_before]).dense == "Ana: reply"


def test_date_words():
    assert date_words(datetime(2024, 12, 1, tzinfo=UTC)) == "1 December 2024"
    assert date_words(None) == ""


def test_lexical_query_drops_stop_words_but_never_everything():
    assert lexical_query("What did Caroline research?") == '"caroline" OR "research"'
    assert lexical_query("what is it") == '"what" OR "is" OR "it"'  # nothing else left: keep them
    assert lexical_query("?! ...") is None
    assert lexical_query("cats cats CATS") == '"cats"'


@pytest.mark.parametrize("query", ["NOT near OR AND", 'say "hi" (now)*', "col:umn ^start", "naïve café 東京"])
def test_lexical_query_is_valid_fts5(query):
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(content, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    db.execute("INSERT INTO t(rowid, content) VALUES (1, ?)", (query,))
    match = lexical_query(query)
    assert match is not None
    assert db.execute("SELECT rowid FROM t WHERE t MATCH ?", (match,)).fetchall() == [(1,)]


def test_own_words_outrank_the_same_words_in_context():
    """BM25 over the indexed text: a turn that says it beats the turn that merely follows it."""
    said = msg("I started pottery classes on Saturday", "Ana")
    follow = msg("Nice, enjoy it!", "Ben")
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(content, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    db.execute("INSERT INTO t(rowid, content) VALUES (1, ?)", (index_text(said).lexical,))
    db.execute("INSERT INTO t(rowid, content) VALUES (2, ?)", (index_text(follow, [said]).lexical,))
    db.execute("INSERT INTO t(rowid, content) VALUES (3, ?)", ("Ben: something else entirely",))
    rows = db.execute(
        "SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t)", (lexical_query("pottery class"),)
    ).fetchall()
    assert [r for (r,) in rows] == [1, 2]
