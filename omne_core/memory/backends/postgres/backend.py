"""`PostgresBackend`: records, change history, the BM25 index and the vectors of one store in one PostgreSQL
schema. A record, its vector, its postings and its history row are written in one transaction.

Every method is async and takes a pooled connection for the length of one call (or one `transaction()`); the
pool is shared by the stores of the process that use the same URL (`pool.py`).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection, OperationalError, sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ...database import dump_record
from ...errors import MemoryValidationError
from ...filters import RecordFilter, as_utc, record_ts
from ...record import MemoryRecord
from ...results import ChangeOp, MemoryChange
from ...migrate import HistoryRow, StoredRecord
from . import dense, lexical, schema
from .filters import where_sql
from .pool import PostgresUnavailableError, acquire_pool, check_server, release_pool, unavailable
from .tokens import token_counts

_QUICK_WAIT_S = 2.0  # a pool connection not handed out by then: check the server is there at all
_COLUMNS = "r.seq, r.id, coalesce(a.access_count, 0), a.last_accessed_at, r.body::text"
_FROM = "{s}.records r LEFT JOIN {s}.record_access a ON a.seq = r.seq"


def _load(row: Sequence[Any]) -> MemoryRecord:
    _, _, access_count, last_accessed_at, body = row
    data = json.loads(body)
    data["access_count"] = access_count
    data["last_accessed_at"] = last_accessed_at
    return MemoryRecord.model_validate(data)


def storable(body: str, *texts: str) -> None:
    """PostgreSQL's text and jsonb cannot hold a NUL character: say so before anything is written."""
    if "\\u0000" in body or any("\x00" in t for t in texts):
        raise MemoryValidationError("the record holds a NUL character (\\x00), which PostgreSQL cannot store")


@dataclass(frozen=True)
class NewRecord:
    """A record to insert, with its index texts and its vector (None: embedded later, e.g. a model change)."""

    record: MemoryRecord
    dense_text: str
    lexical_text: str
    embedding: Sequence[float] | None
    content_hash: str | None = None


class PostgresBackend:
    """One store: a schema on a PostgreSQL server (pgvector installed)."""

    def __init__(self, url: str, schema_name: str, pool: AsyncConnectionPool) -> None:
        self.url, self.schema, self._pool = url, schema_name, pool
        self._s = sql.Identifier(schema_name)
        self._closed = False

    @classmethod
    async def open(cls, url: str, schema_name: str, embedder_name: str, dimension: int) -> tuple[PostgresBackend, bool]:
        """Connect (sharing the URL's pool), create or migrate the schema, and make the vector table fit the
        embedding model. Returns the backend and whether every record needs its vector (re-)computed."""
        pool = await acquire_pool(url)
        backend = cls(url, schema_name, pool)
        try:
            async with backend._connection() as conn:
                await schema.migrate(conn, schema_name)
                await conn.execute(
                    sql.SQL("INSERT INTO {s}.meta(key, value) VALUES ('store_id', %s) ON CONFLICT (key) DO NOTHING").format(
                        s=sql.Identifier(schema_name)
                    ),
                    (uuid.uuid4().hex,),
                )
                rebuilt = await schema.ensure_vectors(conn, schema_name, embedder_name, dimension)
        except BaseException:
            await release_pool(url)
            raise
        return backend, rebuilt

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await release_pool(self.url)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        if self._closed:
            raise PostgresUnavailableError("the PostgreSQL memory store is closed")
        try:
            try:
                conn = await self._pool.getconn(timeout=_QUICK_WAIT_S)
            except PoolTimeout:
                # Every connection busy, or the server gone? A direct connection tells at once: a dead server
                # fails the call now; a busy pool is waited for (its own, longer timeout).
                await check_server(self.url, _QUICK_WAIT_S)
                conn = await self._pool.getconn()
        except OperationalError as exc:  # lost or refused connection: say where, never with the password
            raise unavailable(self.url, exc) from exc
        try:
            yield conn
        except OperationalError as exc:
            raise unavailable(self.url, exc) from exc
        finally:
            await self._pool.putconn(conn)

    @asynccontextmanager
    async def _using(self, conn: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
        """`conn` when the caller is inside a transaction of its own, else a pooled connection."""
        if conn is not None:
            yield conn
        else:
            async with self._connection() as own:
                yield own

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction: committed when the block ends, rolled back if it raises."""
        async with self._connection() as conn, conn.transaction():
            yield conn

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(s=self._s)

    # -- reads ---------------------------------------------------------------------------------
    async def get(self, record_id: str) -> MemoryRecord | None:
        found = await self.get_many([record_id])
        return found.get(record_id)

    async def get_many(
        self, ids: Sequence[str], where: RecordFilter | None = None, conn: AsyncConnection | None = None
    ) -> dict[str, MemoryRecord]:
        """Records by id (only those `where` matches)."""
        if not ids:
            return {}
        async with self._using(conn) as conn:
            cur = await conn.execute(
                self._sql(f"SELECT {_COLUMNS} FROM {_FROM} WHERE r.id = ANY(%s)"), (list(dict.fromkeys(ids)),)
            )
            rows = await cur.fetchall()
        out = {}
        for row in rows:
            record = _load(row)
            if where is None or where.matches(record):
                out[record.id] = record
        return out

    async def list_records(
        self, where: RecordFilter, limit: int | None, oldest_first: bool = False
    ) -> list[MemoryRecord]:
        fragment, params = where_sql(where)
        order = sql.SQL("ASC" if oldest_first else "DESC")
        query = sql.SQL("SELECT {cols} FROM {src} WHERE {where} ORDER BY r.ts {o}, r.seq {o}").format(
            cols=sql.SQL(_COLUMNS), src=self._sql(_FROM), where=fragment, o=order
        )
        if limit is not None:
            query += sql.SQL(" LIMIT %s")
            params.append(limit)
        async with self._connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        return [_load(row) for row in rows]

    async def find_duplicates(
        self, records: Sequence[MemoryRecord], hashes: Sequence[str], conn: AsyncConnection | None = None
    ) -> list[MemoryRecord | None]:
        """For each record, the oldest non-deleted record with its content hash in exactly its scope, or None."""
        wanted: dict[str, set[str]] = {}
        for record, digest in zip(records, hashes, strict=True):
            wanted.setdefault(record.scope.user_id, set()).add(digest)
        first: dict[tuple[Any, ...], Sequence[Any]] = {}
        async with self._using(conn) as conn:
            for user_id, digests in wanted.items():
                cur = await conn.execute(
                    self._sql(
                        f"SELECT r.agent_id, r.session_id, r.namespace, r.content_hash, {_COLUMNS} FROM {_FROM}"
                        " WHERE r.user_id = %s AND r.content_hash = ANY(%s) AND r.status != 'deleted' ORDER BY r.seq"
                    ),
                    (user_id, sorted(digests)),
                )
                for agent_id, session_id, namespace, digest, *row in await cur.fetchall():
                    first.setdefault((user_id, agent_id, session_id, namespace, digest), row)
        out: list[MemoryRecord | None] = []
        for record, digest in zip(records, hashes, strict=True):
            s = record.scope
            row = first.get((s.user_id, s.agent_id, s.session_id, s.namespace, digest))
            out.append(_load(row) if row else None)
        return out

    async def in_session(self, record: MemoryRecord, limit: int, *, before: bool) -> list[MemoryRecord]:
        """Up to `limit` records of the record's session added before it (or, if not stored, before now) or
        after it, oldest first."""
        s = record.scope
        if limit <= 0 or s.session_id is None:
            return []
        if before:
            cond, order = "r.seq < coalesce((SELECT seq FROM {s}.records WHERE id = %s), 9223372036854775807)", "DESC"
        else:
            cond, order = "r.seq > (SELECT seq FROM {s}.records WHERE id = %s)", "ASC"
        query = self._sql(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE r.user_id = %s AND r.session_id = %s"
            " AND r.agent_id IS NOT DISTINCT FROM %s AND r.namespace IS NOT DISTINCT FROM %s"
            f" AND {cond} ORDER BY r.seq {order} LIMIT %s"
        )
        async with self._connection() as conn:
            rows = await (
                await conn.execute(query, (s.user_id, s.session_id, s.agent_id, s.namespace, record.id, limit))
            ).fetchall()
        records = [_load(row) for row in rows]
        return records[::-1] if before else records

    async def history(self, record_id: str) -> list[MemoryChange]:
        async with self._connection() as conn:
            rows = await (
                await conn.execute(
                    self._sql(
                        "SELECT seq, record_id, op, actor, at, version, before::text, after::text, details::text"
                        " FROM {s}.history WHERE record_id = %s ORDER BY seq"
                    ),
                    (record_id,),
                )
            ).fetchall()
        return [
            MemoryChange(
                seq=seq, record_id=rid, op=ChangeOp(op), actor=actor, at=at, version=version,
                before=json.loads(before) if before else None, after=json.loads(after) if after else None,
                details=json.loads(details),
            )
            for seq, rid, op, actor, at, version, before, after, details in rows
        ]

    async def counts(self, where: RecordFilter) -> dict[str, Any]:
        """by_kind, by_status, pending (without a vector) and distinct blobs of the records `where` matches."""
        fragment, params = where_sql(where)
        query = sql.SQL(
            "SELECT r.kind, r.status, count(*), count(*) FILTER (WHERE v.seq IS NULL),"
            " array_agg(DISTINCT r.blob_ref) FILTER (WHERE r.blob_ref IS NOT NULL)"
            " FROM {s}.records r LEFT JOIN {s}.vectors v ON v.seq = r.seq WHERE {where} GROUP BY r.kind, r.status"
        ).format(s=self._s, where=fragment)
        async with self._connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        by_kind: Counter[str] = Counter()
        by_status: Counter[str] = Counter()
        blobs: set[str] = set()
        pending = 0
        for kind, status, n, missing, refs in rows:
            by_kind[kind] += n
            by_status[status] += n
            pending += missing
            blobs.update(refs or [])
        return {"by_kind": dict(by_kind), "by_status": dict(by_status), "pending": pending, "blobs": len(blobs)}

    async def user_counts(self) -> dict[str, int]:
        async with self._connection() as conn:
            rows = await (await conn.execute(self._sql("SELECT user_id, count(*) FROM {s}.records GROUP BY user_id"))).fetchall()
        return {user: int(n) for user, n in rows}

    async def count(self) -> int:
        async with self._connection() as conn:
            row = await (await conn.execute(self._sql("SELECT count(*) FROM {s}.records"))).fetchone()
        return int(row[0]) if row else 0

    async def blob_in_use(self, ref: str) -> bool:
        async with self._connection() as conn:
            row = await (
                await conn.execute(self._sql("SELECT 1 FROM {s}.records WHERE blob_ref = %s LIMIT 1"), (ref,))
            ).fetchone()
        return row is not None

    async def pending(self, limit: int) -> list[tuple[str, MemoryRecord]]:
        """(dense text, record) of records without a vector, oldest first."""
        async with self._connection() as conn:
            rows = await (
                await conn.execute(
                    self._sql(
                        f"SELECT r.dense_text, {_COLUMNS} FROM {_FROM} WHERE NOT EXISTS"
                        " (SELECT 1 FROM {s}.vectors v WHERE v.seq = r.seq) ORDER BY r.seq LIMIT %s"
                    ),
                    (limit,),
                )
            ).fetchall()
        return [(row[0], _load(row[1:])) for row in rows]

    async def document_counts(self, tokens: Sequence[str]) -> dict[str, int]:
        async with self._connection() as conn:
            return await lexical.document_counts(conn, self.schema, tokens)

    # -- writes (inside `transaction()`) --------------------------------------------------------
    async def insert(self, conn: AsyncConnection, items: Sequence[NewRecord]) -> list[tuple[MemoryRecord, bool]]:
        """Store records with their postings and vectors, unless already there: for each item, the stored record
        and whether it was created now. A record whose id is stored already, or an exact duplicate (same content
        hash in exactly its scope, not deleted), gives the stored one. Writers of one user wait for each other
        (an advisory lock until commit), so two processes adding the same record store it once."""
        if not items:
            return []
        for user_id in sorted({item.record.scope.user_id for item in items}):
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 7092))", (json.dumps([self.schema, user_id]),)
            )
        by_id = await self.get_many([item.record.id for item in items], conn=conn)
        hashes = [item.content_hash or item.record.content_hash() for item in items]
        duplicates = await self.find_duplicates([item.record for item in items], hashes, conn=conn)
        outcome: list[tuple[MemoryRecord, bool] | int] = []
        fresh: list[NewRecord] = []
        first: dict[Any, int] = {}
        for i, (item, digest, duplicate) in enumerate(zip(items, hashes, duplicates, strict=True)):
            key = (item.record.scope, digest)
            prior = by_id.get(item.record.id) or duplicate
            if prior is not None:
                outcome.append((prior, False))
            elif key in first or item.record.id in first:
                outcome.append(first.get(key, first.get(item.record.id, 0)))
            else:
                first[key] = first[item.record.id] = i
                outcome.append((item.record, True))
                fresh.append(NewRecord(item.record, item.dense_text, item.lexical_text, item.embedding, digest))
        await self._insert_rows(conn, fresh)
        resolved: list[tuple[MemoryRecord, bool]] = []
        for o in outcome:
            if isinstance(o, int):  # an earlier input of this batch: its record, not created again
                earlier = outcome[o]
                assert not isinstance(earlier, int)
                resolved.append((earlier[0], False))
            else:
                resolved.append(o)
        return resolved

    async def _insert_rows(self, conn: AsyncConnection, items: Sequence[NewRecord]) -> None:
        if not items:
            return
        counts = token_counts([item.lexical_text for item in items])
        columns: list[list[Any]] = [[] for _ in range(13)]
        for item in items:
            r, s = item.record, item.record.scope
            body = dump_record(r)
            storable(body, item.dense_text, item.lexical_text)
            values = (
                r.id, s.user_id, s.agent_id, s.session_id, s.namespace, r.kind.value, r.status.value,
                item.content_hash or r.content_hash(), record_ts(r), r.blob_ref, item.dense_text, item.lexical_text,
                body,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        # One statement per batch: the rows as arrays, inserted in input order (seq follows it).
        cur = await conn.execute(
            self._sql(
                "INSERT INTO {s}.records(id, user_id, agent_id, session_id, namespace, kind, status, content_hash,"
                " ts, blob_ref, dense_text, lexical_text, body) SELECT id, u, a, se, ns, k, st, h, ts, b, d, l,"
                " body::jsonb FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
                " %s::text[], %s::text[], %s::float8[], %s::text[], %s::text[], %s::text[], %s::text[])"
                " WITH ORDINALITY AS x(id, u, a, se, ns, k, st, h, ts, b, d, l, body, i) ORDER BY i RETURNING id, seq"
            ),
            columns,
        )
        seq_of = {rid: int(seq) for rid, seq in await cur.fetchall()}
        seqs = [seq_of[item.record.id] for item in items]
        accessed = [
            (seq, item.record.access_count, item.record.last_accessed_at)
            for seq, item in zip(seqs, items, strict=True)
            if item.record.access_count or item.record.last_accessed_at
        ]
        if accessed:
            await conn.cursor().executemany(
                self._sql("INSERT INTO {s}.record_access(seq, access_count, last_accessed_at) VALUES (%s, %s, %s)"),
                accessed,
            )
        await self._write_vectors(
            conn, [(seq, item.embedding) for seq, item in zip(seqs, items, strict=True) if item.embedding is not None]
        )
        await lexical.add_postings(
            conn, self.schema, [(seq, item.record.scope.user_id, c) for seq, item, c in zip(seqs, items, counts, strict=True)]
        )

    async def _write_vectors(self, conn: AsyncConnection, rows: Sequence[tuple[int, Sequence[float]]]) -> None:
        if rows:
            await conn.cursor().executemany(
                self._sql(
                    "INSERT INTO {s}.vectors(seq, embedding) VALUES (%s, %s)"
                    " ON CONFLICT (seq) DO UPDATE SET embedding = excluded.embedding"
                ),
                [(seq, dense.as_vector(vector)) for seq, vector in rows],
            )

    async def set_vectors(self, conn: AsyncConnection, vectors: dict[str, Sequence[float]]) -> None:
        """Write the vectors of stored records (by id): the pending ones, after a model change."""
        if not vectors:
            return
        ids = list(vectors)
        rows = await (await conn.execute(self._sql("SELECT id, seq FROM {s}.records WHERE id = ANY(%s)"), (ids,))).fetchall()
        await self._write_vectors(conn, [(seq, vectors[rid]) for rid, seq in rows])

    async def replace(
        self,
        conn: AsyncConnection,
        record: MemoryRecord,
        texts: tuple[str, str] | None = None,
        embedding: Sequence[float] | None = None,
    ) -> None:
        """Rewrite a record's row; with `texts`, also its postings and (with `embedding`) its vector."""
        body = dump_record(record)
        storable(body, *(texts or ()))
        cur = await conn.execute(
            self._sql(
                "UPDATE {s}.records SET kind = %s, status = %s, content_hash = %s, ts = %s, blob_ref = %s,"
                " body = %s::jsonb WHERE id = %s RETURNING seq"
            ),
            (record.kind.value, record.status.value, record.content_hash(), record_ts(record), record.blob_ref,
             body, record.id),
        )
        row = await cur.fetchone()
        if row is None or texts is None:
            return
        seq = int(row[0])
        dense_text, lexical_text = texts
        await conn.execute(
            self._sql("UPDATE {s}.records SET dense_text = %s, lexical_text = %s WHERE seq = %s"),
            (dense_text, lexical_text, seq),
        )
        await lexical.remove_postings(conn, self.schema, [seq])
        await lexical.add_postings(conn, self.schema, [(seq, record.scope.user_id, token_counts([lexical_text])[0])])
        if embedding is not None:
            await self._write_vectors(conn, [(seq, embedding)])
        else:  # stale: pending until re-embedded
            await conn.execute(self._sql("DELETE FROM {s}.vectors WHERE seq = %s"), (seq,))

    async def remove(self, conn: AsyncConnection, record_ids: Sequence[str]) -> None:
        """Hard delete: rows, postings, vectors, access counts, and the content of their history."""
        if not record_ids:
            return
        rows = await (
            await conn.execute(self._sql("SELECT seq FROM {s}.records WHERE id = ANY(%s)"), (list(record_ids),))
        ).fetchall()
        seqs = [int(seq) for (seq,) in rows]
        await lexical.remove_postings(conn, self.schema, seqs)
        await conn.execute(self._sql("DELETE FROM {s}.records WHERE seq = ANY(%s)"), (seqs,))  # cascades
        await conn.execute(
            self._sql("UPDATE {s}.history SET before = NULL, after = NULL WHERE record_id = ANY(%s)"),
            (list(record_ids),),
        )

    async def forget_history(self, conn: AsyncConnection, user_id: str) -> None:
        await conn.execute(self._sql("DELETE FROM {s}.history WHERE user_id = %s"), (user_id,))

    async def log(
        self,
        conn: AsyncConnection,
        op: ChangeOp,
        actor: str,
        record_id: str | None,
        user_id: str | None,
        *,
        version: int | None = None,
        before: MemoryRecord | None = None,
        after: MemoryRecord | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        await conn.execute(
            self._sql(
                "INSERT INTO {s}.history(record_id, user_id, op, actor, at, version, before, after, details)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb)"
            ),
            (
                record_id, user_id, op.value, actor, datetime.now(UTC), version,
                before.model_dump_json() if before else None, after.model_dump_json() if after else None,
                json.dumps(details or {}),
            ),
        )

    async def touch(self, ids: Sequence[str], when: datetime) -> None:
        """Count an access of each record (no history entry; no fsync wait: counters are not changes)."""
        if not ids:
            return
        async with self.transaction() as conn:
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute(
                self._sql(
                    "INSERT INTO {s}.record_access(seq, access_count, last_accessed_at)"
                    " SELECT seq, 1, %s FROM {s}.records WHERE id = ANY(%s) ORDER BY seq"
                    " ON CONFLICT (seq) DO UPDATE SET access_count = {s}.record_access.access_count + 1,"
                    " last_accessed_at = excluded.last_accessed_at"
                ),
                (as_utc(when), list(ids)),
            )

    # -- candidates ----------------------------------------------------------------------------
    async def dense(
        self, embedding: Sequence[float], where: RecordFilter, n: int, overfetch: int
    ) -> list[tuple[str, float]]:
        """The best `n` (id, cosine similarity) among the records `where` matches."""
        fetch = n * overfetch
        condition = where_sql(where)
        async with self.transaction() as conn:
            found = await dense.hnsw_top(conn, self.schema, embedding, fetch, condition)
            kept = [(rid, sim) for rid, sim, keep in found if keep]
            if len(kept) >= n or len(found) < fetch:
                return kept[:n]
            return await dense.exact(conn, self.schema, embedding, n, condition)

    async def lexical(
        self, weights: dict[str, int], where: RecordFilter, n: int, overfetch: int
    ) -> list[tuple[str, float]]:
        """The best `n` (id, BM25) among the records `where` matches; `weights` from `lexical.query_weights`."""
        if not weights:
            return []
        fetch = n * overfetch
        condition = where_sql(where)
        owners = where.users()
        async with self._connection() as conn:
            found = await lexical.top(conn, self.schema, weights, fetch, owners, condition)
            kept = [(rid, score) for _, rid, score, keep in found if keep]
            if len(kept) >= n or len(found) < fetch:
                return kept[:n]
            return await lexical.filtered(conn, self.schema, weights, n, owners, condition)

    # -- transfer (`omne memory migrate`) ---------------------------------------------------------
    async def _meta(self, key: str) -> str | None:
        async with self._connection() as conn:
            row = await (await conn.execute(self._sql("SELECT value FROM {s}.meta WHERE key = %s"), (key,))).fetchone()
        return row[0] if row else None

    async def store_id(self) -> str:
        found = await self._meta("store_id")
        assert found is not None  # written by `open`
        return found

    async def embedder_name(self) -> str | None:
        return await self._meta("embedder")

    async def get_marker(self, key: str) -> int:
        return int(await self._meta(key) or 0)

    async def export_records(self, after_seq: int, limit: int) -> list[StoredRecord]:
        """Records in insertion order after `after_seq`, with index texts and vectors."""
        async with self._connection() as conn:
            rows = await (
                await conn.execute(
                    self._sql(
                        f"SELECT r.dense_text, r.lexical_text, v.embedding, {_COLUMNS} FROM {_FROM}"
                        " LEFT JOIN {s}.vectors v ON v.seq = r.seq WHERE r.seq > %s ORDER BY r.seq LIMIT %s"
                    ),
                    (after_seq, limit),
                )
            ).fetchall()
        return [
            StoredRecord(
                seq=int(row[3]), record=_load(row[3:]), dense_text=row[0], lexical_text=row[1],
                embedding=None if row[2] is None else row[2].to_list(),
            )
            for row in rows
        ]

    async def export_history(self, after_seq: int, limit: int) -> list[HistoryRow]:
        async with self._connection() as conn:
            rows = await (
                await conn.execute(
                    self._sql(
                        "SELECT seq, record_id, user_id, op, actor, at, version, before::text, after::text,"
                        " details::text FROM {s}.history WHERE seq > %s ORDER BY seq LIMIT %s"
                    ),
                    (after_seq, limit),
                )
            ).fetchall()
        return [HistoryRow(*row) for row in rows]

    async def counts_by_user(self) -> dict[str, int]:
        return await self.user_counts()

    async def history_counts_by_user(self) -> dict[str | None, int]:
        async with self._connection() as conn:
            rows = await (
                await conn.execute(self._sql("SELECT user_id, count(*) FROM {s}.history GROUP BY user_id"))
            ).fetchall()
        return {user: int(n) for user, n in rows}

    async def import_records(self, records: Sequence[StoredRecord]) -> int:
        """Copy records as they are (ids, versions, access counts, vectors); ids already here are skipped.
        Returns how many were new."""
        async with self.transaction() as conn:
            ids = [r.record.id for r in records]
            present = {
                rid for (rid,) in await (
                    await conn.execute(self._sql("SELECT id FROM {s}.records WHERE id = ANY(%s)"), (ids,))
                ).fetchall()
            }
            fresh = [
                NewRecord(r.record, r.dense_text, r.lexical_text, r.embedding)
                for r in records
                if r.record.id not in present
            ]
            await self._insert_rows(conn, fresh)
        return len(fresh)

    async def import_history(self, rows: Sequence[HistoryRow], marker: tuple[str, int]) -> int:
        """Append history rows and move the marker past them, in one transaction (a rerun skips them)."""
        key, last = marker
        async with self.transaction() as conn:
            await conn.cursor().executemany(
                self._sql(
                    "INSERT INTO {s}.history(record_id, user_id, op, actor, at, version, before, after, details)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb)"
                ),
                [(h.record_id, h.user_id, h.op, h.actor, h.at, h.version, h.before, h.after, h.details) for h in rows],
            )
            await conn.execute(
                self._sql(
                    "INSERT INTO {s}.meta(key, value) VALUES (%s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                (key, str(last)),
            )
        return len(rows)


__all__ = ["NewRecord", "PostgresBackend", "PostgresUnavailableError"]
