"""What a record is indexed as, and lexical queries that FTS5 accepts and ranks as intended (no model needed)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from omne_core.memory.indexing import (
    any_of,
    date_words,
    index_text,
    name_guess,
    named_speakers,
    query_terms,
    query_text,
    rarest_terms,
    speaker_line,
    without_names,
)
from omne_core.records import MemoryKind, MemoryRecord, MemoryScope

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
    assert indexed.dense == ": Hiking near Lake Bled\n: Where did you go last weekend?"  # names: `without_names`
    lines = indexed.lexical.split("\n")
    assert lines[0] == "8 May 2023"
    assert lines.count("Ana: Hiking near Lake Bled") == 2  # own words weigh more than the context's
    assert lines.count("Ben: Where did you go last weekend?") == 1
    assert "unrelated" not in indexed.lexical  # only the immediately preceding turn


def test_first_turn_and_non_messages_have_no_context():
    first = index_text(msg("hello there", "Ana"))
    assert first.dense == ": hello there" and "\n" not in first.dense
    fact = msg("Ana owns a dog", kind=MemoryKind.FACT)
    assert index_text(fact, [msg("Ben: what pets?", "Ben")]).dense == "Ana owns a dog"  # no speaker metadata
    chunk_before = msg("chapter one text", kind=MemoryKind.DOCUMENT_CHUNK)
    assert index_text(msg("reply", "Ana"), [chunk_before]).dense == ": reply"


def test_the_dense_text_leaves_the_speakers_names_out_and_the_lexical_text_keeps_them():
    question = msg("Ana, where did you and Ben's sister go?", "Ben")
    answer = msg("Ben, we hiked with ANA's cousin Anabel near Lake Bled", "Ana")
    indexed = index_text(answer, [question])
    assert indexed.dense == ": , we hiked with cousin Anabel near Lake Bled\n: , where did you and sister go?"
    assert indexed.lexical.count("Ana: Ben, we hiked with ANA's cousin") == 2 and "Ben: Ana, where" in indexed.lexical
    fact = msg("Ana Lopez moved to Porto; Lopez loves it", kind=MemoryKind.FACT).model_copy(
        update={"metadata": {"speakers": ["Ana Lopez", 7]}}
    )
    assert index_text(fact).dense == "moved to Porto; loves it"  # a conclusion: its sources' speakers, each word


def test_a_name_counts_only_where_written_with_its_capital_so_a_common_word_name_keeps_the_word():
    text = "I hope so, Hope! HOPE's plan gives me hope's warmth"
    assert without_names(text, ["Hope"]) == "I hope so, ! plan gives me hope's warmth"
    assert without_names("ana and Ana met ANA", ["ana"]) == "ana and met"  # the name's own case does not matter
    turn = index_text(msg("I hope the hike goes well, Grace", "Hope"), [msg("Hope, any hope for sun? Grace", "Grace")])
    assert turn.dense == ": I hope the hike goes well,\n: , any hope for sun?"


def test_without_names_keeps_a_text_that_would_be_left_empty_and_ignores_stop_word_names():
    assert without_names("Ana", ["Ana"]) == "Ana" and without_names("Ana!", ["Ana"]) == "Ana!"
    assert without_names("I will go", ["Will", "I", ""]) == "I will go"  # no stop word, no one-letter name
    assert without_names("Ana.*(x) met Bo", ["Ana.*(x)"]) == "met Bo"  # a name is text, not a pattern


def test_a_query_is_encoded_without_the_speakers_it_names():
    records = [msg("hi", "Melanie"), msg("yo", "Caroline"), msg("a conclusion", kind=MemoryKind.FACT)]
    query = "What did Melanie and melanie's friend Sweden-born Jon paint?"
    assert named_speakers(query, records) == ["Melanie"]
    # a name written without its capital stays: it may be a word ("hope")
    assert query_text(query, named_speakers(query, records)) == "What did and melanie's friend Sweden-born Jon paint?"
    assert query_text("  plain question  ") == "plain question"
    hope = [msg("hi", "Hope")]
    assert named_speakers("What do I hope for?", hope) == [] and named_speakers("Did Hope call?", hope) == ["Hope"]
    assert named_speakers("did hope call", hope) == ["Hope"]  # a query typed without capitals: any word may name
    assert name_guess("When did Melanie go to Sweden? And Jon?") == ["Melanie", "Sweden", "Jon"]


def test_date_words():
    assert date_words(datetime(2024, 12, 1, tzinfo=UTC)) == "1 December 2024"
    assert date_words(None) == ""


def lexical_query(query: str) -> str | None:
    """The MATCH expression a search uses when no term is left out by the BM25 budget."""
    return any_of(query_terms(query))


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


# -- context through a real store (SQLite + chroma + MiniLM) ---------------------------------------------------


async def _lexical_text(store, record_id: str) -> str:
    conn = store.backend.db.conn()
    (seq,) = conn.execute("SELECT seq FROM records WHERE id = ?", (record_id,)).fetchone()
    (dense,) = conn.execute("SELECT dense_text FROM records WHERE id = ?", (record_id,)).fetchone()
    (lexical,) = conn.execute("SELECT content FROM records_fts WHERE rowid = ?", (seq,)).fetchone()
    return dense + "\n" + lexical


async def test_store_indexes_a_turn_with_the_turn_it_answers(store):
    question, answer = await store.add(
        [msg("Which city did you move to?", "Ben"), msg("Porto, last spring", "Ana")]
    )
    assert "Which city did you move to?" in await _lexical_text(store, answer.id)
    [top, *_] = await store.search("Ben asked which city", MemoryScope(user_id="u"))
    assert top.record.id in {question.id, answer.id}


async def test_hard_delete_purges_the_turn_from_its_followers_index(store):
    first, secret, reply = await store.add(
        [msg("Any news?", "Ben"), msg("My PIN is 4512 zebra", "Ana"), msg("Noted, thanks", "Ben")]
    )
    assert "zebra" in await _lexical_text(store, reply.id)
    await store.delete(secret.id, hard=True)
    text = await _lexical_text(store, reply.id)
    assert "zebra" not in text and "4512" not in text
    assert "Any news?" in text  # the follower now answers the turn before the purged one
    hits = await store.search("zebra 4512", MemoryScope(user_id="u"))
    assert all(h.lexical_score is None for h in hits)  # no record matches the purged words any more


async def test_updating_a_turn_reindexes_it_with_its_own_predecessor(store):
    first, second, third = await store.add(
        [msg("Tea or coffee?", "Ben"), msg("Coffee", "Ana"), msg("Black?", "Ben")]
    )
    updated = await store.update(second.id, text="Coffee, always with oat milk")
    own = await _lexical_text(store, updated.id)
    assert (
        "Tea or coffee?" in own and "Black?" not in own
    )  # its context is the turn before it, not the last one
    assert "oat milk" in await _lexical_text(store, third.id)  # the follower sees the new words


def test_rarest_terms_leaves_out_the_most_frequent_until_the_budget_holds():
    counts = {"apple": 5000, "monday": 30000, "zebra": 10}
    assert rarest_terms(["monday", "apple", "zebra"], counts, 20_000) == ["apple", "zebra"]
    assert rarest_terms(["monday", "apple", "zebra"], counts, 100) == ["zebra"]
    assert rarest_terms(["monday", "apple", "zebra"], counts, 10**6) == ["monday", "apple", "zebra"]
    assert rarest_terms(["monday"], counts, 1) == ["monday"]  # the rarest term always stays
