"""The PostgreSQL backend against a real server: BM25 identical to the embedded FTS5 ranking, filters that never
starve the vector search, one transaction per write, in-place migrations, a database restart, masked passwords."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope
from omne_core.memory.database import Database
from omne_core.memory.filters import RecordFilter
from omne_core.memory.indexing import any_of, query_terms
from tests.support.postgres import requires_postgres

pytestmark = [pytest.mark.postgres, requires_postgres]

WORDS = (
    "run running runs ran runner café cafe naïve resume résumé Lyon lyon moved moving garden gardening paint "
    "painted painting the a of and to in dog dogs cat cats car cars trip trips hiking hike hiked book booked"
).split()


def unit(rng: np.random.Generator, d: int = 16) -> list[float]:
    v = rng.standard_normal(d)
    return (v / np.linalg.norm(v)).tolist()


async def open_backend(url, schema, dimension=16, embedder="test-16"):
    from omne_core.memory.backends.postgres.backend import PostgresBackend

    return await PostgresBackend.open(url, schema, embedder, dimension)


def new(record: MemoryRecord, text: str | None = None, embedding=None):
    from omne_core.memory.backends.postgres.backend import NewRecord

    text = record.text if text is None else text
    return NewRecord(record, text, text, embedding)


async def test_bm25_ranks_exactly_as_fts5(postgres_server, postgres_schema, tmp_path):
    from omne_core.memory.backends.postgres.lexical import query_weights

    rnd = random.Random(5)
    users = [f"user-{i}" for i in range(3)]
    records = [
        MemoryRecord(
            kind=MemoryKind.MESSAGE,
            text=" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 30))),
            scope=MemoryScope(user_id=rnd.choice(users), session_id=rnd.choice(["s1", "s2"])),
        )
        for _ in range(400)
    ]
    records.append(MemoryRecord(kind=MemoryKind.FACT, text="???", scope=MemoryScope(user_id=users[0])))  # no tokens
    sqlite = Database(tmp_path / "fts.sqlite3")
    with sqlite.write_lock, sqlite.transaction() as conn:
        for r in records:
            sqlite.insert(conn, r, r.text, r.text)
    backend, _ = await open_backend(postgres_server.url, postgres_schema)
    try:
        async with backend.transaction() as conn:
            await backend.insert(conn, [new(r) for r in records])
        queries = ["running in Lyon", "café résumé", "dogs and cats hiking", "painted the garden", "run runs",
                   "the", "booked trips", "zzz nothing"]
        compared = 0
        for query in queries:
            terms = query_terms(query)
            for user in users:
                where = RecordFilter.build(MemoryScope(user_id=user))
                expected = sqlite.lexical_search(any_of(terms), where, 30)
                got = await backend.lexical(query_weights(terms), where, 30, 4)
                assert [rid for rid, _ in got] == [rid for rid, _ in expected], query
                for (_, a), (_, b) in zip(got, expected, strict=True):
                    assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
                compared += len(expected)
        assert compared > 200
    finally:
        await backend.close()


async def test_a_selective_filter_never_starves_the_vector_search(postgres_server, postgres_schema):
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
    backend, _ = await open_backend(postgres_server.url, postgres_schema)
    try:
        async with backend.transaction() as conn:
            await backend.insert(conn, [new(r, embedding=vectors[r.id]) for r in records + rare + others])
        query = unit(rng)

        def brute(candidates: list[MemoryRecord], n: int) -> list[str]:
            sims = {r.id: float(np.dot(vectors[r.id], query)) for r in candidates}
            return sorted(sims, key=sims.get, reverse=True)[:n]

        for where, allowed in [
            (RecordFilter.build(MemoryScope(user_id="alice", session_id="rare")), rare),
            (RecordFilter.build(MemoryScope(user_id="alice"), kinds=[MemoryKind.FACT]), rare),
            (RecordFilter.build(MemoryScope(user_id="alice"), since=base + timedelta(days=1)), rare),
        ]:
            got = await backend.dense(query, where, 5, 4)
            assert [rid for rid, _ in got] == brute(allowed, 5)
        # unfiltered but for the user: the HNSW path, which must still keep bob's records out
        got = await backend.dense(query, RecordFilter.build(MemoryScope(user_id="alice")), 10, 4)
        assert len(got) == 10 and all(rid in {r.id for r in records + rare} for rid, _ in got)
        overlap = len({rid for rid, _ in got} & set(brute(records + rare, 10)))
        assert overlap >= 8  # approximate search: nearly all of the true ten
    finally:
        await backend.close()


async def test_record_vector_postings_and_history_commit_together(postgres_server, postgres_schema):
    from omne_core.memory.results import ChangeOp

    backend, _ = await open_backend(postgres_server.url, postgres_schema)
    scope = MemoryScope(user_id="u")
    rng = np.random.default_rng(1)
    kept = MemoryRecord(kind=MemoryKind.FACT, text="kept gardening fact", scope=scope)
    lost = MemoryRecord(kind=MemoryKind.FACT, text="lost gardening fact", scope=scope)
    try:
        async with backend.transaction() as conn:
            await backend.insert(conn, [new(kept, embedding=unit(rng))])
            await backend.log(conn, ChangeOp.ADD, "test", kept.id, "u", version=1, after=kept)
        with pytest.raises(RuntimeError, match="midway"):
            async with backend.transaction() as conn:
                await backend.insert(conn, [new(lost, embedding=unit(rng))])
                await backend.log(conn, ChangeOp.ADD, "test", lost.id, "u", version=1, after=lost)
                raise RuntimeError("midway")
        assert set(await backend.get_many([kept.id, lost.id])) == {kept.id}
        assert await backend.history(lost.id) == [] and len(await backend.history(kept.id)) == 1
        where = RecordFilter.build(scope)
        assert [rid for rid, _ in await backend.lexical({"lost": 1}, where, 5, 4)] == []
        assert [rid for rid, _ in await backend.lexical({"garden": 1}, where, 5, 4)] == [kept.id]
        assert await backend.document_counts(["garden", "lost"]) == {"garden": 1, "lost": 0}
        assert [rid for rid, _ in await backend.dense(unit(rng), where, 5, 4)] == [kept.id]
        counts = await backend.counts(where)
        assert counts["pending"] == 0 and counts["by_status"] == {"active": 1}
    finally:
        await backend.close()


async def test_an_older_schema_is_upgraded_in_place_by_the_next_open(postgres_server, postgres_schema):
    import psycopg

    from omne_core.memory.backends.postgres import schema as pg_schema

    backend, _ = await open_backend(postgres_server.url, postgres_schema)
    record = MemoryRecord(kind=MemoryKind.FACT, text="written at version one", scope=MemoryScope(user_id="u"))
    async with backend.transaction() as conn:
        await backend.insert(conn, [new(record, embedding=unit(np.random.default_rng(0)))])
    await backend.close()

    newer = pg_schema.Migration(
        pg_schema.LATEST + 1, "a test step", ("ALTER TABLE {s}.records ADD COLUMN note text NOT NULL DEFAULT 'v2'",)
    )
    steps = (*pg_schema.MIGRATIONS, newer)

    async def migrate_once() -> list[int]:
        async with await psycopg.AsyncConnection.connect(postgres_server.url) as conn:
            return await pg_schema.migrate(conn, postgres_schema, steps)

    results = await asyncio.gather(migrate_once(), migrate_once())  # two openers at once: applied once
    assert sorted(results) == [[], [newer.version]]
    rows = postgres_server.admin(f'SELECT note FROM "{postgres_schema}".records')
    assert rows == [("v2",)]
    assert await pg_schema.migrate(await psycopg.AsyncConnection.connect(postgres_server.url, autocommit=True),
                                   postgres_schema, steps) == []  # already current: nothing applied
    # this code knows only the versions before the test step: a schema newer than the code is refused, untouched
    with pytest.raises(pg_schema.SchemaVersionError, match=f"version {newer.version}"):
        await open_backend(postgres_server.url, postgres_schema)
    assert postgres_server.admin(f'SELECT count(*) FROM "{postgres_schema}".records') == [(1,)]


async def test_embedder_change_marks_every_record_pending(postgres_server, postgres_schema):
    backend, rebuilt = await open_backend(postgres_server.url, postgres_schema)
    assert rebuilt is False  # a new store has nothing to embed
    record = MemoryRecord(kind=MemoryKind.FACT, text="vector of the old model", scope=MemoryScope(user_id="u"))
    async with backend.transaction() as conn:
        await backend.insert(conn, [new(record, embedding=unit(np.random.default_rng(0)))])
    await backend.close()
    backend, rebuilt = await open_backend(postgres_server.url, postgres_schema, dimension=8, embedder="other-8")
    try:
        assert rebuilt is True
        assert [r.id for _, r in await backend.pending(10)] == [record.id]
        async with backend.transaction() as conn:
            await backend.set_vectors(conn, {record.id: unit(np.random.default_rng(1), 8)})
        assert await backend.pending(10) == []
    finally:
        await backend.close()


def with_password(url: str, password: str) -> str:
    return url.replace("postgresql://postgres:@", f"postgresql://postgres:{password}@", 1)


async def test_database_restart_next_call_succeeds_and_nothing_acknowledged_is_lost(postgres_server, postgres_schema):
    from omne_core.memory.backends.postgres.pool import PostgresUnavailableError

    if not postgres_server.restartable:
        pytest.skip("the server named by OMNE_TEST_POSTGRES_URL is not restarted by tests")
    url = with_password(postgres_server.url, "s3cret-pw")  # trust auth: accepted, and never to be printed
    backend, _ = await open_backend(url, postgres_schema)
    scope = MemoryScope(user_id="u")
    rng = np.random.default_rng(2)
    acknowledged = []
    try:
        for i in range(5):
            r = MemoryRecord(kind=MemoryKind.FACT, text=f"before restart {i}", scope=scope)
            async with backend.transaction() as conn:
                await backend.insert(conn, [new(r, embedding=unit(rng))])
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
        async with backend.transaction() as conn:
            await backend.insert(conn, [new(r, embedding=unit(rng))])
        assert len(await backend.list_records(RecordFilter.build(scope), None)) == 6
    finally:
        await backend.close()


async def test_unreachable_server_is_a_clear_error_without_the_password(tmp_path):
    from omne_core.memory.backends.postgres.pool import PostgresUnavailableError

    url = f"postgresql://omne:hunter2-secret@/omne?host={tmp_path}/nowhere&connect_timeout=2"
    with pytest.raises(PostgresUnavailableError) as err:
        await open_backend(url, "s")
    message = str(err.value)
    assert "hunter2-secret" not in message and "is unavailable" in message and "nowhere" in message


async def test_concurrent_writers_store_a_record_once_and_nul_is_refused(postgres_server, postgres_schema):
    from omne_core.memory.errors import MemoryValidationError

    backend, _ = await open_backend(postgres_server.url, postgres_schema)
    scope = MemoryScope(user_id="u", session_id="s")
    rng = np.random.default_rng(4)
    try:
        async def add(record: MemoryRecord):
            async with backend.transaction() as conn:
                [(stored, created)] = await backend.insert(conn, [new(record, embedding=unit(rng))])
                await asyncio.sleep(0.05)  # hold the transaction open while the other writer tries
            return stored, created

        same_id = MemoryRecord(kind=MemoryKind.FACT, text="one id, two writers", scope=scope)
        same_text = [MemoryRecord(kind=MemoryKind.FACT, text="same words, two ids", scope=scope) for _ in range(2)]
        results = await asyncio.gather(add(same_id), add(same_id.model_copy()), *(add(r) for r in same_text))
        assert sorted(created for _, created in results[:2]) == [False, True]
        assert sorted(created for _, created in results[2:]) == [False, True]
        assert results[2][0].id == results[3][0].id  # the duplicate resolved to the record stored first
        assert len(await backend.list_records(RecordFilter.build(scope), None)) == 2

        hostile = MemoryRecord(kind=MemoryKind.FACT, text="nul \x00 inside", scope=scope)
        with pytest.raises(MemoryValidationError, match="NUL"):
            await add(hostile)
        assert await backend.get(hostile.id) is None
    finally:
        await backend.close()
