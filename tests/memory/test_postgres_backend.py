"""The PostgreSQL backend against a real server: BM25 identical to the embedded FTS5 ranking, filters that never
starve the vector search, one transaction per write, in-place migrations, a database restart, masked passwords."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from omne_core.config import load_settings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, VectorSpaceChangedError
from omne_core.memory.backends import ChangeSet, HistoryEntry, IndexTexts, NewRecord, VectorWrite
from omne_core.memory.backends.embedded.database import Database
from omne_core.memory.filters import RecordFilter
from omne_core.memory.indexing import any_of, query_terms
from omne_core.memory.results import ChangeOp
from tests.support.postgres import requires_postgres

pytestmark = [pytest.mark.postgres, requires_postgres]

WORDS = (
    "run running runs ran runner café cafe naïve resume résumé Lyon lyon moved moving garden gardening paint "
    "painted painting the a of and to in dog dogs cat cats car cars trip trips hiking hike hiked book booked"
).split()
SPACES = (" ", " ", " ", "\t", "\n", "\u00a0", "\u3000", " - ", "__")


def unit(rng: np.random.Generator, d: int = 16) -> list[float]:
    v = rng.standard_normal(d)
    return (v / np.linalg.norm(v)).tolist()


class NamedSpace:
    """Names a vector space (a backend never embeds)."""

    def __init__(self, name: str, dimension: int) -> None:
        self.name, self.dimension = name, dimension


async def open_backend(url, schema, dimension=16, embedder="test-16", store=None, **memory):
    from omne_core.memory.backends.postgres import PostgresBackend

    settings = load_settings(store={"backend": "postgres", "postgres_url": url, "postgres_schema": schema,
                                    **(store or {})}, memory=memory)  # fmt: skip
    return await PostgresBackend.open(settings, NamedSpace(embedder, dimension))


async def one_record_store(url: str, schema: str, text: str) -> MemoryRecord:
    """A store holding one record of user `u` (with a vector), closed again; the record."""
    backend = await open_backend(url, schema)
    try:
        record = MemoryRecord(kind=MemoryKind.FACT, text=text, scope=MemoryScope(user_id="u"))
        await add(backend, [new(record, embedding=unit(np.random.default_rng(0)))])
        assert await backend.pending_vectors(10) == []
        return record
    finally:
        await backend.close()


def new(record: MemoryRecord, text: str | None = None, embedding=None) -> NewRecord:
    text = record.text if text is None else text
    return NewRecord(record, record.content_hash(), IndexTexts(text, text), embedding)


async def add(backend, items: list[NewRecord], history: bool = True):
    """Commit the inserts (each logged as an add); returns (stored record, created) per item."""
    result = await backend.commit(ChangeSet(actor="test", inserts=items))
    return [(o.record, o.created) for o in result.inserted]


@pytest.fixture(params=["from-the-records", "from-the-index"])
def selective_rows(request, monkeypatch) -> int:
    """How a filtered search runs: from the records a narrow filter allows (the default for up to 5,000 of them),
    or from the whole index with the filter checked after (what a wider filter takes)."""
    from omne_core.memory.backends.postgres import backend as pg_backend

    if request.param == "from-the-index":
        monkeypatch.setattr(pg_backend, "_SELECTIVE_ROWS", 0)
    return pg_backend._SELECTIVE_ROWS


async def test_bm25_ranks_exactly_as_fts5(postgres_server, postgres_schema, tmp_path, selective_rows):
    rnd = random.Random(5)
    users = [f"user-{i}" for i in range(3)]
    records = [
        MemoryRecord(
            kind=MemoryKind.MESSAGE,
            # words apart by any whitespace (the postings travel as one text of space-separated tokens per record)
            text="".join(rnd.choice(WORDS) + rnd.choice(SPACES) for _ in range(rnd.randint(1, 30))),
            scope=MemoryScope(user_id=rnd.choice(users), session_id=rnd.choice(["s1", "s2"])),
        )
        for _ in range(400)
    ]
    records.append(MemoryRecord(kind=MemoryKind.FACT, text="???", scope=MemoryScope(user_id=users[0])))  # no tokens
    sqlite = Database(tmp_path / "fts.sqlite3")
    with sqlite.write_lock, sqlite.transaction() as conn:
        for r in records:
            sqlite.insert(conn, r, r.text, r.text)
    backend = await open_backend(postgres_server.url, postgres_schema, lexical_max_matches=None)
    try:
        await add(backend, [new(r) for r in records])
        queries = ["running in Lyon", "café résumé", "dogs and cats hiking", "painted the garden", "run runs",
                   "the", "booked trips", "zzz nothing"]

        async def compare() -> int:
            compared = 0
            for query in queries:
                terms = query_terms(query)
                for user, session in [(u, s) for u in users for s in (None, "s1")]:
                    where = RecordFilter.build(MemoryScope(user_id=user, session_id=session))
                    expected = sqlite.lexical_search(any_of(terms), where, 30)
                    got = await backend.lexical(terms, where, 30)
                    assert [rid for rid, _ in got] == [rid for rid, _ in expected], query
                    for (_, a), (_, b) in zip(got, expected, strict=True):
                        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
                    compared += len(expected)
            return compared

        assert await compare() > 400
        # removed from both: still the same ranking, and no posting outlives its record (no foreign key cascades)
        gone = rnd.sample(records, 130)
        with sqlite.write_lock, sqlite.transaction() as conn:
            sqlite.remove(conn, [r.id for r in gone])
        await backend.commit(ChangeSet(actor="test", removals=gone))
        assert await compare() > 250
        s = f'"{postgres_schema}"'
        orphans = f"SELECT count(*) FROM {s}.postings p WHERE NOT EXISTS (SELECT 1 FROM {s}.records r WHERE r.seq = p.seq)"
        assert postgres_server.admin(orphans) == [(0,)]
        foreign_keys = f"SELECT count(*) FROM pg_constraint WHERE conrelid = '{s}.postings'::regclass AND contype = 'f'"
        assert postgres_server.admin(foreign_keys) == [(0,)]
    finally:
        await backend.close()


async def test_a_selective_filter_never_starves_the_vector_search(postgres_server, postgres_schema, selective_rows):
    rng = np.random.default_rng(3)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    alice, bob = MemoryScope(user_id="alice", session_id="big"), MemoryScope(user_id="bob")
    records = [MemoryRecord(kind=MemoryKind.MESSAGE, text=f"alice {i}", scope=alice, event_time=base) for i in range(300)]
    rare = [
        MemoryRecord(kind=MemoryKind.FACT, text=f"rare {i}", scope=MemoryScope(user_id="alice", session_id="rare"),
                     event_time=base + timedelta(days=30))
        for i in range(6)
    ]
    others = [MemoryRecord(kind=MemoryKind.MESSAGE, text=f"bob {i}", scope=bob) for i in range(300)]
    vectors = {r.id: unit(rng) for r in records + rare + others}
    backend = await open_backend(postgres_server.url, postgres_schema)
    try:
        await add(backend, [new(r, embedding=vectors[r.id]) for r in records + rare + others])
        query = unit(rng)

        def brute(candidates: list[MemoryRecord], n: int) -> list[str]:
            sims = {r.id: float(np.dot(vectors[r.id], query)) for r in candidates}
            return sorted(sims, key=sims.get, reverse=True)[:n]

        for where, allowed in [
            (RecordFilter.build(MemoryScope(user_id="alice", session_id="rare")), rare),
            (RecordFilter.build(MemoryScope(user_id="alice"), kinds=[MemoryKind.FACT]), rare),
            (RecordFilter.build(MemoryScope(user_id="alice"), since=base + timedelta(days=1)), rare),
        ]:
            got = await backend.dense(query, where, 5)
            assert [rid for rid, _ in got] == brute(allowed, 5)
        # unfiltered but for the user: the HNSW path, which must still keep bob's records out
        got = await backend.dense(query, RecordFilter.build(MemoryScope(user_id="alice")), 10)
        assert len(got) == 10 and all(rid in {r.id for r in records + rare} for rid, _ in got)
        overlap = len({rid for rid, _ in got} & set(brute(records + rare, 10)))
        assert overlap >= 8  # approximate search: nearly all of the true ten
    finally:
        await backend.close()


async def test_the_default_dense_fetch_fits_the_session_hnsw_list_and_a_deeper_one_widens_its_transaction_alone(
    postgres_server, postgres_schema, monkeypatch
):
    from omne_core.memory.backends.postgres import dense
    from omne_core.memory.backends.postgres.pool import SESSION_EF_SEARCH

    fetched: list[tuple[int, int]] = []  # (asked, found) per HNSW query
    hnsw_top = dense.hnsw_top

    async def counted(conn, schema, embedding, fetch, where):
        found = await hnsw_top(conn, schema, embedding, fetch, where)
        fetched.append((fetch, len(found)))
        return found

    monkeypatch.setattr(dense, "hnsw_top", counted)
    rng = np.random.default_rng(5)
    scope = MemoryScope(user_id="alice")
    records = [MemoryRecord(kind=MemoryKind.MESSAGE, text=f"turn {i}", scope=scope) for i in range(700)]
    backend = await open_backend(postgres_server.url, postgres_schema, store={"postgres_pool_size": 1})
    try:
        await add(backend, [new(r, embedding=unit(rng)) for r in records])
        memory, where = backend.settings.memory, RecordFilter.build(scope)
        got = await backend.dense(unit(rng), where, memory.dense_candidates)  # what a default search asks for
        default_fetch = memory.dense_candidates * memory.candidate_overfetch
        assert default_fetch <= SESSION_EF_SEARCH and fetched == [(default_fetch, default_fetch)]
        assert len(got) == memory.dense_candidates
        deeper = (SESSION_EF_SEARCH + 100) // memory.candidate_overfetch + 1  # a fetch past the session's list
        got = await backend.dense(unit(rng), where, deeper)
        asked, found = fetched[-1]
        assert asked > SESSION_EF_SEARCH and found == asked and len(got) == deeper  # a longer list: all found
        async with backend._connection() as conn:  # the pool's one connection: back at the session's value
            cur = await conn.execute("SHOW hnsw.ef_search")
            assert int((await cur.fetchone())[0]) == SESSION_EF_SEARCH
    finally:
        await backend.close()


async def test_a_change_set_commits_whole_or_not_at_all(postgres_server, postgres_schema):
    from omne_core.memory.backends import Supersession
    from omne_core.memory.errors import MemoryNotFoundError

    backend = await open_backend(postgres_server.url, postgres_schema)
    scope = MemoryScope(user_id="u")
    rng = np.random.default_rng(1)
    kept = MemoryRecord(kind=MemoryKind.FACT, text="kept gardening fact", scope=scope)
    lost = MemoryRecord(kind=MemoryKind.FACT, text="lost gardening fact", scope=scope)
    try:
        await add(backend, [new(kept, embedding=unit(rng))])
        failing = ChangeSet(
            actor="test", inserts=[new(lost, embedding=unit(rng))],
            supersessions=[Supersession(new=0, old_ids=[kept.id, "no-such-record"])],
            history=[HistoryEntry(ChangeOp.UPDATE, "test", kept.id, "u", version=2)],
        )  # fmt: skip
        with pytest.raises(MemoryNotFoundError):
            await backend.commit(failing)  # the unknown id rolls back the insert and the supersession
        assert set(await backend.get_many([kept.id, lost.id])) == {kept.id}
        assert (await backend.get(kept.id)).status.value == "active"
        assert await backend.history(lost.id) == [] and [c.op for c in await backend.history(kept.id)] == [ChangeOp.ADD]
        where = RecordFilter.build(scope)
        assert await backend.lexical(["lost"], where, 5) == []
        assert [rid for rid, _ in await backend.lexical(["gardening"], where, 5)] == [kept.id]
        assert [rid for rid, _ in await backend.dense(unit(rng), where, 5)] == [kept.id]
        counts = await backend.counts(where)
        assert counts.pending_index == 0 and counts.by_status == {"active": 1}
    finally:
        await backend.close()


async def test_an_older_schema_is_upgraded_in_place_by_the_next_open(postgres_server, postgres_schema):
    import psycopg

    from omne_core.memory.backends.postgres import schema as pg_schema

    record = await one_record_store(postgres_server.url, postgres_schema, "written at version one")
    backend = await open_backend(postgres_server.url, postgres_schema)
    assert await backend.schema_version() == str(pg_schema.LATEST)
    await backend.close()

    # the next release's open: the steps so far, and one more
    newer = pg_schema.Migration(
        pg_schema.LATEST + 1, "a test step", ("ALTER TABLE {s}.records ADD COLUMN note text NOT NULL DEFAULT 'v2'",)
    )
    steps = (*pg_schema.MIGRATIONS, newer)

    async def migrate_once() -> list[int]:
        async with await psycopg.AsyncConnection.connect(postgres_server.url) as conn:
            return await pg_schema.migrate(conn, postgres_schema, steps)

    results = await asyncio.gather(migrate_once(), migrate_once())  # two openers at once: applied once
    assert sorted(results) == [[], [newer.version]]
    assert postgres_server.admin(f'SELECT id, note FROM "{postgres_schema}".records') == [(record.id, "v2")]
    assert await migrate_once() == []  # current: nothing applied
    # this code knows only the versions before the test step: a schema newer than the code is refused, untouched
    with pytest.raises(pg_schema.SchemaVersionError, match=f"version {newer.version}"):
        await open_backend(postgres_server.url, postgres_schema)
    assert postgres_server.admin(f'SELECT count(*) FROM "{postgres_schema}".records') == [(1,)]


async def test_links_of_a_store_written_before_the_link_index_are_found_through_it_after_the_upgrade(
    postgres_server, postgres_schema
):
    backend = await open_backend(postgres_server.url, postgres_schema)
    scope = MemoryScope(user_id="u")
    source = MemoryRecord(kind=MemoryKind.MESSAGE, text="I moved to Lyon", scope=scope)
    other = MemoryRecord(kind=MemoryKind.MESSAGE, text="noise", scope=scope)
    fact = MemoryRecord(kind=MemoryKind.FACT, text="lives in Lyon", scope=scope, source_ids=[source.id, "gone"])
    await add(backend, [new(r, embedding=unit(np.random.default_rng(i))) for i, r in enumerate((source, other, fact))])
    await backend.close()
    # as version 1 left it: no link indexes, no metadata index
    postgres_server.admin(f'DROP INDEX "{postgres_schema}".records_sources, "{postgres_schema}".records_superseded_by,'
                          f' "{postgres_schema}".records_metadata')  # fmt: skip
    postgres_server.admin(f'DELETE FROM "{postgres_schema}".schema_version WHERE version > 1')
    backend = await open_backend(postgres_server.url, postgres_schema)
    try:
        assert [r.id for r in await backend.linking(source.id)] == [fact.id]
        assert await backend.linking(other.id) == [] and [r.id for r in await backend.linking("gone")] == [fact.id]
        async with backend._connection() as conn, conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")  # a tiny table: ask whether an index can serve it
            plan = await (await conn.execute(backend.rows.q(
                "EXPLAIN SELECT r.seq FROM {s}.records r WHERE (r.body->'source_ids') @> %s::jsonb"
                " OR (r.body->>'superseded_by') = %s"), ('["x"]', "x"))).fetchall()  # fmt: skip
            labelled = await (await conn.execute(backend.rows.q(
                "EXPLAIN SELECT r.seq FROM {s}.records r WHERE (r.body->'metadata') @> %s::jsonb"), ('{"p": 1}',))).fetchall()  # fmt: skip
        plan_text = "\n".join(line for (line,) in plan)
        assert "records_sources" in plan_text and "records_superseded_by" in plan_text, plan_text
        assert "records_metadata" in "\n".join(line for (line,) in labelled)  # migration 4 built it again
    finally:
        await backend.close()


async def test_a_new_vector_index_is_built_with_the_configured_hnsw_parameters_and_an_existing_one_kept(
    postgres_server, postgres_schema
):
    async def built() -> list[str]:
        async with backend._connection() as conn:
            row = await (await conn.execute(
                "SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relname = 'vectors_hnsw'", (postgres_schema,))).fetchone()  # fmt: skip
        return sorted(row[0])

    backend = await open_backend(postgres_server.url, postgres_schema,
                                 store={"postgres_hnsw_m": 10, "postgres_hnsw_ef_construction": 40})  # fmt: skip
    try:
        assert await built() == ["ef_construction=40", "m=10"]
    finally:
        await backend.close()
    backend = await open_backend(postgres_server.url, postgres_schema)  # the defaults: the index keeps its own
    try:
        assert await built() == ["ef_construction=40", "m=10"]
    finally:
        await backend.close()


async def test_embedder_change_marks_every_record_pending(postgres_server, postgres_schema):
    record = await one_record_store(postgres_server.url, postgres_schema, "vector of the old model")
    backend = await open_backend(postgres_server.url, postgres_schema, dimension=8, embedder="other-8")
    try:
        assert [r.id for r in await backend.pending_vectors(10)] == [record.id]
        await backend.write_vectors([VectorWrite(record.id, "the new text", unit(np.random.default_rng(1), 8), 1)])
        assert await backend.pending_vectors(10) == []
        assert len((await backend.embeddings("u", [record.id]))[record.id]) == 8
    finally:
        await backend.close()


async def test_database_restart_next_call_succeeds_and_nothing_acknowledged_is_lost(postgres_server, postgres_schema, caplog):
    from omne_core.memory.backends.postgres import PostgresUnavailableError

    caplog.set_level(logging.DEBUG)  # the pool's reconnection attempts are logged: never with the password

    if not postgres_server.restartable:
        pytest.skip("the server named by OMNE_TEST_POSTGRES_URL is not restarted by tests")
    url = postgres_server.url_with_password("s3cret-pw")  # trust auth: accepted, and never to be printed
    backend = await open_backend(url, postgres_schema)
    scope = MemoryScope(user_id="u")
    rng = np.random.default_rng(2)
    acknowledged = []
    try:
        for i in range(5):
            r = MemoryRecord(kind=MemoryKind.FACT, text=f"before restart {i}", scope=scope)
            await add(backend, [new(r, embedding=unit(rng))])
            acknowledged.append(r.id)
        await asyncio.to_thread(postgres_server.stop, "immediate")  # as a crash: no checkpoint
        try:
            with pytest.raises(PostgresUnavailableError) as down:
                await backend.get_many(acknowledged)
            assert "s3cret-pw" not in str(down.value) and "**********" in str(down.value)
        finally:
            await asyncio.to_thread(postgres_server.start)
        # the next call gets a fresh connection; every acknowledged record survived the crash
        assert set(await backend.get_many(acknowledged)) == set(acknowledged)
        r = MemoryRecord(kind=MemoryKind.FACT, text="after restart", scope=scope)
        await add(backend, [new(r, embedding=unit(rng))])
        assert len(await backend.list_records(RecordFilter.build(scope), None)) == 6
    finally:
        await backend.close()
    assert "s3cret-pw" not in caplog.text


async def test_unreachable_server_is_a_clear_error_without_the_password(tmp_path):
    from omne_core.memory.backends.postgres import PostgresUnavailableError

    url = f"postgresql://omne:hunter2-secret@/omne?host={tmp_path}/nowhere&connect_timeout=2"
    with pytest.raises(PostgresUnavailableError) as err:
        await open_backend(url, "s")
    message = str(err.value)
    assert "hunter2-secret" not in message and "is unavailable" in message and "nowhere" in message


async def test_a_stalled_writer_holding_the_users_lock_is_a_clear_error_within_the_wait_not_a_hang(
    postgres_server, postgres_schema
):
    import json
    import time

    import psycopg

    from omne_core.memory.backends.postgres.pool import PostgresBusyError

    backend = await open_backend(postgres_server.url, postgres_schema, store={"postgres_wait_s": 1.5})
    record = MemoryRecord(kind=MemoryKind.FACT, text="waits for the lock", scope=MemoryScope(user_id="u"))
    stalled = psycopg.connect(postgres_server.url)  # a writer of user u, stopped inside its transaction
    try:
        stalled.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7092))", (json.dumps([postgres_schema, "u"]),))
        started = time.monotonic()
        with pytest.raises(PostgresBusyError, match="waited more than 1.5 s for a lock"):
            await add(backend, [new(record, embedding=unit(np.random.default_rng(0)))])
        assert time.monotonic() - started < 15
        assert await backend.get(record.id) is None  # nothing written
        other = MemoryRecord(kind=MemoryKind.FACT, text="another user's write", scope=MemoryScope(user_id="v"))
        assert (await add(backend, [new(other, embedding=unit(np.random.default_rng(1)))]))[0][1]  # not blocked
        stalled.rollback()
        assert (await add(backend, [new(record, embedding=unit(np.random.default_rng(0)))]))[0][1]
    finally:
        stalled.close()
        await backend.close()


async def test_an_exhausted_pool_is_a_clear_error_within_the_wait(postgres_server, postgres_schema):
    from omne_core.memory.backends.postgres import PostgresUnavailableError

    backend = await open_backend(postgres_server.url, postgres_schema, store={"postgres_wait_s": 1, "postgres_pool_size": 1})
    try:
        async with backend._connection():  # the pool's one connection, held
            with pytest.raises(PostgresUnavailableError, match="no free connection .* within 1 s: all 1 of the pool"):
                await backend.get("some-id")
        assert await backend.get("some-id") is None  # given back: served again
    finally:
        await backend.close()


async def test_a_store_used_from_other_threads_event_loops_leaves_no_pool_behind(postgres_server, postgres_schema):
    import threading

    from omne_core.memory.backends.postgres import pool

    backend = await open_backend(postgres_server.url, postgres_schema)
    pools_before = set(pool._pools)
    found: list[object] = []
    record = MemoryRecord(kind=MemoryKind.FACT, text="seen from threads", scope=MemoryScope(user_id="u"))
    await add(backend, [new(record, embedding=unit(np.random.default_rng(0)))])

    def use() -> None:
        found.append(asyncio.run(backend.get(record.id)))

    try:
        for _ in range(3):  # successive threads (a finished loop's id is reused by the next one's)
            thread = threading.Thread(target=use)
            thread.start()
            await asyncio.to_thread(thread.join, 60)
        assert [r.id for r in found] == [record.id] * 3  # type: ignore[attr-defined]
        assert set(pool._pools) == pools_before  # no pool of a finished loop left open
    finally:
        await backend.close()
    assert not [key for key in pool._pools if key[0] == postgres_server.url and key[1] is asyncio.get_running_loop()]


async def test_concurrent_writers_store_a_record_once_and_nul_is_refused(postgres_server, postgres_schema):
    from omne_core.memory.errors import MemoryValidationError

    writers = [await open_backend(postgres_server.url, postgres_schema) for _ in range(4)]  # as four processes
    scope = MemoryScope(user_id="u", session_id="s")
    rng = np.random.default_rng(4)
    try:
        same_id = MemoryRecord(kind=MemoryKind.FACT, text="one id, two writers", scope=scope)
        same_text = [MemoryRecord(kind=MemoryKind.FACT, text="same words, two ids", scope=scope) for _ in range(2)]
        results = await asyncio.gather(
            add(writers[0], [new(same_id, embedding=unit(rng))]),
            add(writers[1], [new(same_id.model_copy(), embedding=unit(rng))]),
            *(add(w, [new(r, embedding=unit(rng))]) for w, r in zip(writers[2:], same_text, strict=True)),
        )
        outcomes = [r[0] for r in results]
        assert sorted(created for _, created in outcomes[:2]) == [False, True]
        assert sorted(created for _, created in outcomes[2:]) == [False, True]
        assert outcomes[2][0].id == outcomes[3][0].id  # the duplicate resolved to the record stored first
        assert len(await writers[0].list_records(RecordFilter.build(scope), None)) == 2
        assert len(await writers[0].history(outcomes[2][0].id)) == 1  # logged once

        hostile = MemoryRecord(kind=MemoryKind.FACT, text="nul \x00 inside", scope=scope)
        with pytest.raises(MemoryValidationError, match="NUL"):
            await add(writers[0], [new(hostile, embedding=unit(rng))])
        assert await writers[0].get(hostile.id) is None
    finally:
        for w in writers:
            await w.close()


async def test_a_process_whose_vector_space_another_rebuilt_writes_nothing(postgres_server, postgres_schema):
    """Two processes on one store, the second of another embedder (or Omne version): its open rebuilds the vectors,
    and the first process's writes (records, vectors) are refused with a clear error, nothing of them written; its
    reads of the vectors (a search, diversity's vectors) are refused too, not answered from another space."""
    old = await open_backend(postgres_server.url, postgres_schema, embedder="old-16")
    rng = np.random.default_rng(3)
    first = MemoryRecord(kind=MemoryKind.FACT, text="kept", scope=MemoryScope(user_id="u"))
    await add(old, [new(first, embedding=unit(rng))])
    newer = await open_backend(postgres_server.url, postgres_schema, embedder="new-16")
    try:
        late = MemoryRecord(kind=MemoryKind.FACT, text="from the old process", scope=MemoryScope(user_id="u"))
        with pytest.raises(VectorSpaceChangedError, match="made for 'new-16'.*embeds for 'old-16'"):
            await add(old, [new(late, embedding=unit(rng))])
        with pytest.raises(VectorSpaceChangedError):
            await old.write_vectors([VectorWrite(first.id, "kept", unit(rng), 1)])
        where = RecordFilter.build(MemoryScope(user_id="u"))  # the same dimension: only the space's name tells
        with pytest.raises(VectorSpaceChangedError, match="embeds for 'old-16': no search compares"):
            await old.dense(unit(rng), where, 5)
        with pytest.raises(VectorSpaceChangedError, match="embeds for 'old-16': its vectors are not compared"):
            await old.embeddings("u", [first.id])
        assert await newer.get(late.id) is None
        assert [r.id for r in await newer.pending_vectors(10)] == [first.id]  # the old vector was not written back
        await newer.write_vectors([VectorWrite(first.id, "kept", unit(rng), 1)])  # the newer process writes as usual
        await add(newer, [new(late, embedding=unit(rng))])
        assert (await newer.get(late.id)) is not None and await newer.pending_vectors(10) == []
    finally:
        await old.close()
        await newer.close()


async def test_a_search_in_a_vector_space_of_another_dimension_says_why(postgres_server, postgres_schema):
    """The other process's embedder has another dimension: the first process's search fails with the same clear
    error (not the database's "different vector dimensions")."""
    old = await open_backend(postgres_server.url, postgres_schema, embedder="old-16", dimension=16)
    record = MemoryRecord(kind=MemoryKind.FACT, text="kept", scope=MemoryScope(user_id="u"))
    await add(old, [new(record, embedding=unit(np.random.default_rng(0)))])
    newer = await open_backend(postgres_server.url, postgres_schema, embedder="new-8", dimension=8)
    try:
        await newer.write_vectors([VectorWrite(record.id, "kept", unit(np.random.default_rng(1), 8), 1)])
        where = RecordFilter.build(MemoryScope(user_id="u"))
        with pytest.raises(VectorSpaceChangedError, match="made for 'new-8'.*embeds for 'old-16': no search compares"):
            await old.dense(unit(np.random.default_rng(2)), where, 5)
        assert [rid for rid, _ in await newer.dense(unit(np.random.default_rng(3), 8), where, 5)] == [record.id]
    finally:
        await old.close()
        await newer.close()
