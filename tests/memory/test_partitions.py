"""The per-user vector index and the filtered search paths.

Candidate lists are tiny here (2 per index, no over-fetch) so a filter that the unfiltered fast path cannot
satisfy falls back to the filtered query, as it does at scale for a session, kind or time filter.
"""

from __future__ import annotations

import sqlite3

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaClientSettings

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore, indexing
from omne_core.memory.filters import RecordFilter

ALICE = MemoryScope(user_id="alice")


@pytest.fixture
def tight(settings):
    settings.memory.dense_candidates = 2
    settings.memory.lexical_candidates = 2
    settings.memory.candidate_overfetch = 1
    return settings


def apples(n: int, session: str) -> MemoryRecord:
    return MemoryRecord(
        kind=MemoryKind.FACT,
        text=f"apple orchard note {n}: the apples were picked",
        scope=MemoryScope(user_id="alice", session_id=session),
    )


async def test_selective_session_filter_falls_back_to_filtered_queries(tight, embedder):
    async with await MemoryStore.open(tight, embedder=embedder) as store:
        stored = await store.add([apples(n, "a") for n in range(10)] + [apples(n, "b") for n in range(10, 13)])
        in_b = {r.id for r in stored if r.scope.session_id == "b"}
        query_vector = embedder.embed(["apple orchard apples"])[0]
        unfiltered = {rid for rid, _ in store.backend.vectors.query("alice", query_vector, 2)}
        assert len(unfiltered - in_b) >= 1  # the fast path alone would come up short: the fallback must run

        hits = await store.search("apple orchard apples", MemoryScope(user_id="alice", session_id="b"), limit=2)

        assert len(hits) == 2
        assert {h.record.id for h in hits} <= in_b
        assert all(h.dense_score is not None and h.lexical_score is not None for h in hits)


async def test_inactive_records_never_crowd_out_active_ones(tight, embedder):
    async with await MemoryStore.open(tight, embedder=embedder) as store:
        deleted = await store.add([apples(n, "a") for n in range(10)])
        kept = await store.add(
            [MemoryRecord(kind=MemoryKind.FACT, text=f"pear tree {n} beside the orchard", scope=ALICE) for n in (1, 2)]
        )
        for record in deleted:
            await store.delete(record.id)

        hits = await store.search("apple orchard note: the apples were picked", ALICE)

        assert {h.record.id for h in hits} == {r.id for r in kept}
        with_deleted = await store.search("apple orchard apples", ALICE, include_inactive=True, limit=12)
        assert len(with_deleted) == 12


async def test_kind_filter_on_a_partition_larger_than_the_candidates(tight, embedder):
    async with await MemoryStore.open(tight, embedder=embedder) as store:
        await store.add([apples(n, "a") for n in range(20)])
        (pref,) = await store.add(
            [MemoryRecord(kind=MemoryKind.PREFERENCE, text="prefers green apples from the orchard", scope=ALICE)]
        )

        hits = await store.search("orchard note: the apples were picked", ALICE, kinds=[MemoryKind.PREFERENCE])

        assert [h.record.id for h in hits] == [pref.id]


async def test_a_scope_union_searches_each_users_partition(store):
    mine, yours, theirs = (
        MemoryRecord(kind=MemoryKind.FACT, text=f"{who} keeps bees on the roof", scope=MemoryScope(user_id=who))
        for who in ("u1", "u2", "u3")
    )
    await store.add([mine, yours, theirs])

    hits = await store.search("bees on the roof", [MemoryScope(user_id="u1"), MemoryScope(user_id="u2")])

    assert {h.record.id for h in hits} == {mine.id, yours.id}
    assert sorted(store.backend.vectors.users()) == ["u1", "u2", "u3"]


async def test_forget_user_drops_the_users_collection_only(store):
    await store.add([MemoryRecord(kind=MemoryKind.FACT, text=f"{who} likes tea", scope=MemoryScope(user_id=who))
                     for who in ("keep", "gone")])

    assert await store.forget_user("gone") == 1

    assert store.backend.vectors.users() == ["keep"]
    assert store.backend.vectors.count("gone") == 0
    assert store.backend.db.outbox() == []  # the dropped collection took the vectors: nothing left to remove later
    assert [h.record.text for h in await store.search("tea", MemoryScope(user_id="keep"))] == ["keep likes tea"]


async def test_a_store_of_the_single_collection_layout_is_migrated_on_open(settings, embedder):
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        (record,) = await store.add([MemoryRecord(kind=MemoryKind.FACT, text="the boat is blue", scope=ALICE)])
    # Rewind the store to the earlier layout: one collection for everyone, named in the meta table.
    client = chromadb.PersistentClient(
        path=str(settings.chroma_path), settings=ChromaClientSettings(anonymized_telemetry=False)
    )
    for collection in client.list_collections():
        client.delete_collection(collection.name)
    legacy = client.create_collection("omne-legacy-all-users", embedding_function=None)
    legacy.add(ids=[record.id], embeddings=[embedder.embed(["the boat is blue"])[0]], metadatas=[{"user_id": "alice"}])
    with sqlite3.connect(settings.data_dir / settings.memory.sqlite_file) as conn:
        conn.execute("UPDATE meta SET value = 'omne-legacy-all-users' WHERE key = 'collection'")

    async with await MemoryStore.open(settings, embedder=embedder) as store:
        assert [h.record.id for h in await store.search("blue boat", ALICE)] == [record.id]
        assert store.backend.vectors.all_ids() == {record.id}
        assert "omne-legacy-all-users" not in [c.name for c in client.list_collections()]


async def test_bm25_restricted_to_owners_ranks_like_the_filtered_index(store):
    texts = ["red kite over the hill", "a red kite and a red barn", "the barn is old", "kite festival in spring"]
    for user in ("big", "small"):
        await store.add([MemoryRecord(kind=MemoryKind.FACT, text=t, scope=MemoryScope(user_id=user)) for t in texts])
    everyone = [seq for seq, _ in store.backend.db.lexical_top('"red" OR "kite"', 100)]
    mine = store.backend.db.matching("seq", everyone, RecordFilter.build(MemoryScope(user_id="small")))

    restricted = store.backend.db.lexical_top('"red" OR "kite"', 100, owners=["small"])

    assert len(mine) == 3 and len(everyone) == 6
    assert [seq for seq, _ in restricted] == [seq for seq in everyone if seq in mine]  # same order
    assert store.backend.db.lexical_top('"red" OR "kite"', 100, owners=["nobody"]) == []


async def test_an_index_without_the_owner_column_is_rebuilt_on_open(settings, embedder):
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        (record,) = await store.add([MemoryRecord(kind=MemoryKind.FACT, text="the boat is blue", scope=ALICE)])
    with sqlite3.connect(settings.data_dir / settings.memory.sqlite_file) as conn:  # the first release's table
        rows = conn.execute("SELECT rowid, content FROM records_fts").fetchall()
        conn.execute("DROP TABLE records_fts")
        conn.execute("CREATE VIRTUAL TABLE records_fts USING fts5(content, tokenize = 'porter unicode61 remove_diacritics 2')")
        conn.executemany("INSERT INTO records_fts(rowid, content) VALUES (?, ?)", rows)

    async with await MemoryStore.open(settings, embedder=embedder) as store:
        [hit] = await store.search("boat", ALICE)
        assert hit.record.id == record.id and hit.lexical_score is not None
        columns = [row[1] for row in store.backend.db.conn().execute("PRAGMA table_info(records_fts)")]
        assert columns == ["content", "owner"]


async def test_a_collection_dropped_by_another_client_is_looked_up_again(store, settings):
    scope = MemoryScope(user_id="x")
    [first] = await store.add([MemoryRecord(kind=MemoryKind.FACT, text="owls hunt at night", scope=scope)])
    assert (await store.search("owls", scope))[0].dense_score is not None  # the handle is cached now
    other = chromadb.PersistentClient(path=str(settings.chroma_path), settings=ChromaClientSettings(anonymized_telemetry=False))
    [name] = [c.name for c in other.list_collections()]
    other.delete_collection(name)

    [hit] = await store.search("owls", scope)  # no error: BM25 still finds it, the vector is gone
    assert hit.record.id == first.id and hit.dense_score is None
    [second] = await store.add([MemoryRecord(kind=MemoryKind.FACT, text="bats hunt at dusk", scope=scope)])
    assert store.backend.vectors.ids("x") == {second.id}


async def test_past_the_bm25_budget_only_the_rarer_terms_are_scored(settings, embedder):
    settings.memory.lexical_max_matches = 3
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        common = await store.add([MemoryRecord(kind=MemoryKind.FACT, text=f"apple pie recipe {n}", scope=ALICE) for n in range(6)])
        [rare] = await store.add([MemoryRecord(kind=MemoryKind.FACT, text="a zebra ate the apple", scope=ALICE)])

        hits = await store.search("apple zebra", ALICE, limit=10)
        assert {h.record.id for h in hits if h.lexical_score is not None} == {rare.id}  # "apple" left out
        assert {h.record.id for h in hits} == {rare.id, *(r.id for r in common)}  # dense still finds them

        store.settings.memory.lexical_max_matches = None
        hits = await store.search("apple zebra", ALICE, limit=10)
        assert len([h for h in hits if h.lexical_score is not None]) == 7


async def test_the_bm25_budget_counts_a_small_users_rows_by_their_share(settings, embedder):
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        await store.add([MemoryRecord(kind=MemoryKind.FACT, text=f"apple tart {n}", scope=MemoryScope(user_id="big"))
                         for n in range(20)])
        mine = await store.add([MemoryRecord(kind=MemoryKind.FACT, text=t, scope=ALICE)
                                for t in ("apple pie", "apple juice", "a zebra ate the apple")])
        # "apple" is in 23 rows, 3 of them alice's; her share (3/23) puts it at 3: within a budget of 4 ...
        store.settings.memory.lexical_max_matches = 4
        hits = await store.search("apple zebra", ALICE)
        assert {h.record.id for h in hits if h.lexical_score is not None} == {r.id for r in mine}
        # ... and over a budget of 2, so only "zebra" is scored then.
        store.settings.memory.lexical_max_matches = 2
        hits = await store.search("apple zebra", ALICE)
        assert {h.record.id for h in hits if h.lexical_score is not None} == {mine[2].id}


async def test_user_collections_are_built_with_the_configured_hnsw_parameters(settings, embedder):
    settings.chroma.hnsw_ef_construction = 48
    settings.chroma.hnsw_sync_threshold = 500
    async with MemoryStore(settings, embedder=embedder) as store:
        await store.add([MemoryRecord(kind=MemoryKind.FACT, text="owls hunt at night", scope=ALICE)])
    other = chromadb.PersistentClient(path=str(settings.chroma_path), settings=ChromaClientSettings(anonymized_telemetry=False))
    [collection] = other.list_collections()
    hnsw = collection.configuration["hnsw"]
    assert (hnsw["space"], hnsw["ef_construction"], hnsw["sync_threshold"]) == ("cosine", 48, 500)


SESSION_B = ["the harvest festival starts at noon", "apples keep best in a cool cellar", "the tractor needs new tyres",
             "cider is pressed from windfall apples", "the orchard gate was left open", "bees pollinate the blossom"]


def exact_ranking(embedder, query: str, records: list[MemoryRecord]) -> list[tuple[str, float]]:
    """Cosine similarity of the query to every record's text, best first: the ground truth for a filter."""
    vectors = np.asarray(embedder.embed([r.text for r in records]), dtype=np.float64)
    query_vector = np.asarray(embedder.embed([query])[0], dtype=np.float64)
    sims = vectors @ query_vector / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query_vector))
    return sorted(((r.id, float(s)) for r, s in zip(records, sims, strict=True)), key=lambda p: -p[1])


@pytest.mark.parametrize("exact_max", [100, 0], ids=["scored-exactly", "chroma-among-ids"])
async def test_a_selective_filter_finds_its_nearest_records_on_both_paths(tight, embedder, exact_max):
    tight.memory.dense_exact_max = exact_max
    async with await MemoryStore.open(tight, embedder=embedder) as store:
        await store.add([apples(n, "a") for n in range(20)])
        in_b = await store.add([MemoryRecord(kind=MemoryKind.FACT, text=t, scope=MemoryScope(user_id="alice",
                                session_id="b")) for t in SESSION_B])
        query = "what happens to the apples after picking"
        where = RecordFilter.build(MemoryScope(user_id="alice", session_id="b"))

        found = await store.backend.dense(embedder.embed([indexing.query_text(query)])[0], where, 3)

        expected = exact_ranking(embedder, query, in_b)[:3]
        assert [rid for rid, _ in found] == [rid for rid, _ in expected]
        assert [s for _, s in found] == pytest.approx([s for _, s in expected], abs=1e-4)


@pytest.mark.parametrize("exact_max", [100, 0], ids=["scored-exactly", "chroma-among-ids"])
async def test_a_filtered_search_skips_records_whose_vector_is_missing(tight, embedder, exact_max, caplog):
    tight.memory.dense_exact_max = exact_max
    async with await MemoryStore.open(tight, embedder=embedder) as store:
        await store.add([apples(n, "a") for n in range(20)])
        in_b = await store.add([MemoryRecord(kind=MemoryKind.FACT, text=t, scope=MemoryScope(user_id="alice",
                                session_id="b")) for t in SESSION_B])
        pending, lost = in_b[1], in_b[3]
        with store.backend.db.transaction() as conn:
            store.backend.db.mark_all_pending(conn, [pending.id])  # its vector is due to be rewritten
        store.backend.vectors.delete("alice", [lost.id])  # gone from chroma behind the store's back

        embedding = embedder.embed([indexing.query_text("apples after picking")])[0]
        found = await store.backend.dense(embedding, RecordFilter.build(MemoryScope(user_id="alice", session_id="b")), 10)

        assert {rid for rid, _ in found} == {r.id for r in in_b} - {pending.id, lost.id}
        if exact_max == 0:  # chroma refused the list naming the lost vector; the store searched the rest
            assert "have no vector yet" in caplog.text
        hits = await store.search("cider pressed from windfall apples", MemoryScope(user_id="alice", session_id="b"))
        assert lost.id in {h.record.id for h in hits}  # BM25 still finds it
