"""`PostgresBackend`: a store's records, change history, BM25 index and vectors in one PostgreSQL schema.

A change set (records, their vectors, postings and history rows, supersessions, replacements, removals) is one
transaction, so nothing needs repairing after a crash: there is no outbox and `index_dirty` is never set.
Writers of one user serialize on an advisory lock and resolve ids and exact duplicates inside the transaction,
so two processes adding the same record store it once. Connections come from a pool shared by every store of
the process on the same URL (`pool.py`); a store's schema is `store.postgres_schema`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection, AsyncCursor, OperationalError, sql
from psycopg.errors import DataException
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ....config import OmneSettings
from ....config.settings import redact_url
from ....records import MemoryRecord, MemoryScope, MemoryStatus
from ... import indexing
from ...errors import MemoryNotFoundError, MemoryValidationError, VectorSpaceChangedError
from ...filters import RecordFilter, as_utc
from ...results import ChangeOp, MemoryChange
from ..base import (
    Candidates,
    ChangeSet,
    CommitResult,
    Encode,
    HistoryEntry,
    IndexCheck,
    InsertOutcome,
    NamedVectorSpace,
    NewRecord,
    RecordCounts,
    UserCounts,
    VectorWrite,
    VersionConflict,
    load_row,
    superseded_version,
)
from . import dense, lexical, schema
from .filters import where_sql
from .pool import (
    SESSION_EF_SEARCH,
    PostgresUnavailableError,
    acquire_pool,
    check_server,
    connect,
    failure,
    release_pool,
    unavailable,
)
from .rows import COLUMNS, FROM, Rows, dump, storable

_QUICK_WAIT_S = 2.0  # a pool connection not handed out by then: check the server is there at all
_COUNTS_TTL_S = 60.0  # how long the records-per-user counts (a search-plan estimate) are reused
_OWNER_PREFILTER_SHARE = 0.5  # as the embedded backend: below this share, term counts are scaled to the users
_SELECTIVE_ROWS = 5000  # a filter allowing at most this many records is searched from its records
_LAST_PART = 8  # the batch's last part, the one written with no encode beside it, is kept this small
_SEARCH_REFUSED = "no search compares its vectors with them"  # what a search in a rebuilt vector space gets


def write_parts(lengths: Sequence[int], size: int) -> list[list[int]]:
    """The batch's positions (given their texts' `lengths`) cut into parts of at most `size` texts of similar
    length, longest first: the model pads a part to its longest text (parts cut in input order padded ~11 % more
    tokens than the model's own length-sorted batches). Each part is written while the next one encodes, so the
    parts end halving down to `_LAST_PART` (say 64, ..., 32, 16, 8): a part's write then never outlasts the
    next, half-size encode by much, and the last write, with nothing encoding beside it, is small. Equal tail
    parts left the model idle while the write of the one before last finished (1.4 points of the add rate, paired at 10k
    records). Each part lists its positions in input order."""
    ordered = sorted(range(len(lengths)), key=lambda i: -lengths[i])  # stable: ties keep input order
    tail: list[int] = []  # the halving parts, last first
    left, part = len(ordered), min(_LAST_PART, size)
    while left and part < size:
        tail.append(min(part, left))
        left -= tail[-1]
        part *= 2
    heads = -(-left // size)  # the rest in as few parts of at most `size` as it takes, of near-equal size
    sizes = [left // heads + (j < left % heads) for j in range(heads)] + tail[::-1]
    cuts = [0, *itertools.accumulate(sizes)]
    return [sorted(ordered[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]


def _history_row(entry: HistoryEntry, now: datetime) -> tuple[Any, ...]:
    return (
        entry.record_id, entry.user_id, entry.op.value, entry.actor, now, entry.version,
        entry.before.model_dump_json() if entry.before else None,
        entry.after.model_dump_json() if entry.after else None,
        json.dumps(entry.details or {}),
    )  # fmt: skip


class PostgresBackend:
    """One store: a schema on a PostgreSQL server with pgvector."""

    name = "postgres"

    def __init__(
        self, url: str, schema_name: str, pool: AsyncConnectionPool, settings: OmneSettings, space: str
    ) -> None:
        self.url, self.schema, self._pool, self.settings = url, schema_name, pool, settings
        self.space = space  # the vector space this process embeds in (`backends.VectorSpace.name`)
        self.rows = Rows(schema_name)
        self._closed = False
        self._loop = asyncio.get_running_loop()  # the pool's: an async pool belongs to the loop it was opened on
        self._wait_s = settings.store.postgres_wait_s
        self._user_counts: tuple[float, dict[str, int]] | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    async def open(cls, settings: OmneSettings, space: NamedVectorSpace) -> PostgresBackend:
        """Connect (sharing the URL's pool), create or migrate the schema, and fit the vector table to the
        embedding model (another model than the table's leaves every record pending: the store re-embeds)."""
        if settings.store.postgres_url is None:
            raise MemoryValidationError("store.postgres_url is not set (OMNE_STORE__POSTGRES_URL)")
        url = settings.store.postgres_url.get_secret_value()
        schema_name = settings.store.postgres_schema
        pool = await acquire_pool(url, max_size=settings.store.postgres_pool_size, wait_s=settings.store.postgres_wait_s)
        backend = cls(url, schema_name, pool, settings, space.name)
        try:
            async with backend._connection() as conn:
                await schema.migrate(conn, schema_name)
                await conn.execute(
                    backend.rows.q("INSERT INTO {s}.meta(key, value) VALUES ('store_id', %s) ON CONFLICT DO NOTHING"),
                    (uuid.uuid4().hex,),
                )
                await schema.ensure_vectors(
                    conn, schema_name, space.name, space.dimension,
                    settings.store.postgres_hnsw_m, settings.store.postgres_hnsw_ef_construction,
                )  # fmt: skip
        except BaseException:
            await release_pool(url, backend._loop)
            raise
        return backend

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await release_pool(self.url, self._loop)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection: pooled on the loop the store was opened on, a connection of its own for the call on any
        other loop (`asyncio.run` in a thread: its loop ends with it, and a pool of it would be left behind). A
        server that went away fails the call at once with a clear error (URL's password masked); a connection
        lost by a restart is replaced before it is handed out; every wait is bounded by `postgres_wait_s`."""
        if self._closed:
            raise PostgresUnavailableError("the PostgreSQL memory store is closed")
        pooled = asyncio.get_running_loop() is self._loop
        conn = await (self._pooled() if pooled else connect(self.url, self._wait_s))
        try:
            yield conn
        except OperationalError as exc:
            raise failure(self.url, exc, self._wait_s) from exc
        finally:
            if pooled:
                await self._pool.putconn(conn)
            else:
                await conn.close()

    async def _pooled(self) -> AsyncConnection:
        try:
            try:
                return await self._pool.getconn(timeout=min(_QUICK_WAIT_S, self._wait_s))
            except PoolTimeout:
                # Every connection busy, or the server gone? A direct connection tells at once: a dead server
                # fails the call now; a busy pool is waited for, up to `postgres_wait_s`.
                await check_server(self.url, _QUICK_WAIT_S)
                return await self._pool.getconn(timeout=self._wait_s)
        except PoolTimeout:
            raise PostgresUnavailableError(
                f"no free connection to PostgreSQL at {redact_url(self.url)} within {self._wait_s:g} s: all "
                f"{self._pool.max_size} of the pool are in use (store.postgres_pool_size, store.postgres_wait_s)"
            ) from None
        except OperationalError as exc:
            raise unavailable(self.url, exc) from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction: committed when the block ends, rolled back if it raises. In pipeline
        mode: statements whose rows nobody reads go with the next read (or the commit), not one round trip each."""
        async with self._connection() as conn, conn.pipeline(), conn.transaction():
            yield conn

    async def _fetch(self, template: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows of one statement over the store's schema (`{s}` in the template), on a pooled connection."""
        async with self._connection() as conn:
            return await (await conn.execute(self.rows.q(template), params)).fetchall()

    async def schema_version(self) -> str:
        async with self._connection() as conn:
            return str(await schema.current_version(conn, self.schema))

    # -- reads ---------------------------------------------------------------------------------
    async def get(self, record_id: str) -> MemoryRecord | None:
        return (await self.get_many([record_id])).get(record_id)

    async def get_many(self, ids: Sequence[str], where: RecordFilter | None = None) -> dict[str, MemoryRecord]:
        if not ids:
            return {}
        async with self._connection() as conn:
            found = await self.rows.by_ids(conn, list(dict.fromkeys(ids)))
        return {rid: r for rid, r in found.items() if where is None or where.matches(r)}

    async def list_records(
        self, where: RecordFilter, limit: int | None, oldest_first: bool = False, after: str | None = None
    ) -> list[MemoryRecord]:
        """Records `where` matches in (ts, seq) order; `after`: only those past this record (keyset paging)."""
        fragment, params = where_sql(where)
        order, past = ("ASC", ">") if oldest_first else ("DESC", "<")
        async with self._connection() as conn:
            if after is not None:
                anchor = await (
                    await conn.execute(self.rows.q("SELECT ts, seq FROM {s}.records WHERE id = %s"), (after,))
                ).fetchone()
                if anchor is None:
                    raise MemoryNotFoundError(after)
                fragment += sql.SQL(f" AND (r.ts, r.seq) {past} (%s, %s)")
                params.extend(anchor)
            query = sql.SQL("SELECT {cols} FROM {src} WHERE {where} ORDER BY r.ts {o}, r.seq {o}").format(
                cols=sql.SQL(COLUMNS), src=self.rows.q(FROM), where=fragment, o=sql.SQL(order)
            )
            if limit is not None:
                query += sql.SQL(" LIMIT %s")
                params.append(limit)
            rows = await (await conn.execute(query, params)).fetchall()
        return [load_row(row) for row in rows]

    async def linking(self, record_id: str) -> list[MemoryRecord]:
        """Records naming `record_id` in `source_ids` or `superseded_by`, oldest first (both indexed: migration 2)."""
        rows = await self._fetch(
            f"SELECT {COLUMNS} FROM {FROM} WHERE (r.body->'source_ids') @> %s::jsonb"
            " OR (r.body->>'superseded_by') = %s ORDER BY r.ts, r.seq",
            (json.dumps([record_id]), record_id),
        )
        return [load_row(row) for row in rows]

    async def user_counts(self) -> list[UserCounts]:
        users: dict[str, UserCounts] = {}
        for user_id, kind, status, n in await self._fetch(
            "SELECT user_id, kind, status, count(*) FROM {s}.records GROUP BY user_id, kind, status"
        ):
            counts = users.setdefault(user_id, UserCounts(user_id))
            counts.by_kind[kind] = counts.by_kind.get(kind, 0) + int(n)
            counts.by_status[status] = counts.by_status.get(status, 0) + int(n)
        return [users[user_id] for user_id in sorted(users)]

    async def ids_starting(self, prefix: str, where: RecordFilter, limit: int) -> list[str]:
        """Up to `limit` ids starting with `prefix` (literally: `starts_with`, no pattern) among the records `where`
        matches, sorted bytewise (the scope's index narrows the rows first)."""
        fragment, params = where_sql(where)
        query = sql.SQL(
            "SELECT r.id FROM {s}.records r WHERE starts_with(r.id, %s) AND {where} ORDER BY r.id COLLATE \"C\" LIMIT %s"
        ).format(s=self.rows.s, where=fragment)
        async with self._connection() as conn:
            rows = await (await conn.execute(query, [prefix, *params, limit])).fetchall()
        return [rid for (rid,) in rows]

    async def find_duplicates(self, records: Sequence[MemoryRecord], hashes: Sequence[str]) -> list[MemoryRecord | None]:
        async with self._connection() as conn:
            return await self.rows.duplicates(conn, records, hashes)

    async def _in_session(self, record: MemoryRecord, limit: int, before: bool) -> list[MemoryRecord]:
        s = record.scope
        if limit <= 0 or s.session_id is None:
            return []
        if before:
            cond, order = "r.seq < coalesce((SELECT seq FROM {s}.records WHERE id = %s), 9223372036854775807)", "DESC"
        else:
            cond, order = "r.seq > (SELECT seq FROM {s}.records WHERE id = %s)", "ASC"
        query = self.rows.q(
            f"SELECT {COLUMNS} FROM {FROM} WHERE r.user_id = %s AND r.session_id = %s"
            " AND r.agent_id IS NOT DISTINCT FROM %s AND r.namespace IS NOT DISTINCT FROM %s"
            f" AND {cond} ORDER BY r.seq {order} LIMIT %s"
        )
        async with self._connection() as conn:
            rows = await (
                await conn.execute(query, (s.user_id, s.session_id, s.agent_id, s.namespace, record.id, limit))
            ).fetchall()
        records = [load_row(row) for row in rows]
        return records[::-1] if before else records

    async def previous_in_session(self, record: MemoryRecord, limit: int) -> list[MemoryRecord]:
        return await self._in_session(record, limit, before=True)

    async def next_in_session(self, record: MemoryRecord, limit: int) -> list[MemoryRecord]:
        return await self._in_session(record, limit, before=False)

    async def history(self, record_id: str) -> list[MemoryChange]:
        return await self._changes("WHERE record_id = %s ORDER BY seq", (record_id,))

    async def activity(self, limit: int) -> list[MemoryChange]:
        return await self._changes("WHERE record_id IS NULL ORDER BY seq DESC LIMIT %s", (limit,))

    async def _changes(self, where: str, params: Sequence[Any]) -> list[MemoryChange]:
        rows = await self._fetch(
            "SELECT seq, record_id, op, actor, at, version, before::text, after::text, details::text"
            " FROM {s}.history " + where,
            params,
        )
        return [
            MemoryChange(
                seq=seq, record_id=rid, op=ChangeOp(op), actor=actor, at=at, version=version,
                before=json.loads(before) if before else None, after=json.loads(after) if after else None,
                details=json.loads(details),
            )
            for seq, rid, op, actor, at, version, before, after, details in rows
        ]  # fmt: skip

    async def counts(self, where: RecordFilter) -> RecordCounts:
        fragment, params = where_sql(where)
        query = sql.SQL(
            "SELECT r.kind, r.status, count(*), count(*) FILTER (WHERE v.seq IS NULL),"
            " array_agg(DISTINCT r.blob_ref) FILTER (WHERE r.blob_ref IS NOT NULL)"
            " FROM {s}.records r LEFT JOIN {s}.vectors v ON v.seq = r.seq WHERE {where} GROUP BY r.kind, r.status"
        ).format(s=self.rows.s, where=fragment)
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
        return RecordCounts(by_kind=dict(by_kind), by_status=dict(by_status), pending_index=pending, blobs=len(blobs))

    async def blob_in_use(self, ref: str) -> bool:
        return bool(await self._fetch("SELECT 1 FROM {s}.records WHERE blob_ref = %s LIMIT 1", (ref,)))

    async def records_per_user(self) -> dict[str, int]:
        """Records per user (every status): a search-plan estimate, and what `migrate` verifies."""
        rows = await self._fetch("SELECT user_id, count(*) FROM {s}.records GROUP BY user_id")
        return {user: int(n) for user, n in rows}

    # -- search --------------------------------------------------------------------------------
    async def dense(self, embedding: Sequence[float], where: RecordFilter, n: int) -> Candidates:
        """HNSW over-fetched with the filter checked in the same statement; too few kept: the allowed rows are
        scored exactly (never starved)."""
        try:
            async with self._vector_read(_SEARCH_REFUSED) as conn:
                return await self._dense(conn, embedding, where, n)
        except DataException as exc:
            if "different vector dimensions" not in str(exc):
                raise
            stored = await self._fetch(schema.VECTOR_SPACE)
            raise VectorSpaceChangedError(self.space, stored[0][0] if stored else None, _SEARCH_REFUSED) from exc

    async def _dense(self, conn: AsyncConnection, embedding: Sequence[float], where: RecordFilter, n: int) -> Candidates:
        fetch = n * self.settings.memory.candidate_overfetch
        condition = where_sql(where)
        if await self._selective(conn, where, condition):
            return await dense.exact(conn, self.schema, embedding, n, condition)
        if fetch > SESSION_EF_SEARCH:  # a longer HNSW candidate list, for this transaction alone
            async with conn.transaction():
                found = await dense.hnsw_top(conn, self.schema, embedding, fetch, condition)
        else:
            found = await dense.hnsw_top(conn, self.schema, embedding, fetch, condition)
        kept = [(rid, sim) for rid, sim, keep in found if keep]
        if len(kept) >= n or len(found) < fetch:
            return kept[:n]
        return await dense.exact(conn, self.schema, embedding, n, condition)

    async def lexical(self, terms: Sequence[str], where: RecordFilter, n: int) -> Candidates:
        """BM25 exactly as the embedded backend's FTS5 ranks, among the searched users' postings; past the work
        budget (`lexical_max_matches`) the most frequent terms are left out, as there."""
        terms = list(terms)
        owners = where.users()
        async with self._connection() as conn:
            budget = self.settings.memory.lexical_max_matches
            if budget is not None and len(terms) > 1:
                share = await self._share_of_records(owners)
                scale = share if share < _OWNER_PREFILTER_SHARE else 1.0
                counts = await lexical.phrase_counts(conn, self.schema, terms)
                terms = indexing.rarest_terms(terms, {t: round(c * scale) for t, c in counts.items()}, budget)
            weights = lexical.query_weights(terms)
            if not weights:
                return []
            fetch = n * self.settings.memory.candidate_overfetch
            condition = where_sql(where)
            if await self._selective(conn, where, condition):
                return await lexical.filtered(conn, self.schema, weights, n, owners, condition, from_records=True)
            found = await lexical.top(conn, self.schema, weights, fetch, owners, condition)
            kept = [(rid, score) for _, rid, score, keep in found if keep]
            if len(kept) >= n or len(found) < fetch:
                return kept[:n]
            return await lexical.filtered(conn, self.schema, weights, n, owners, condition)

    async def _selective(
        self, conn: AsyncConnection, where: RecordFilter, condition: tuple[sql.Composable, list[Any]]
    ) -> bool:
        """Whether `where` allows at most `_SELECTIVE_ROWS` records: then a search starts from those records (exact
        vectors, their postings probed), instead of scanning the whole index and filtering after (at 100k records,
        a 1 % time window kept about 2 of the 200 nearest). Asked only of a filter narrower than whole users
        (`RecordFilter.narrower_than_users`): a bounded count on the filter's indexes."""
        if not where.narrower_than_users():
            return False
        fragment, params = condition
        query = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {s}.records r WHERE {where} LIMIT %s) x").format(
            s=self.rows.s, where=fragment
        )
        row = await (await conn.execute(query, [*params, _SELECTIVE_ROWS + 1])).fetchone()
        return row is not None and int(row[0]) <= _SELECTIVE_ROWS

    async def _share_of_records(self, users: Sequence[str]) -> float:
        """The fraction of the store's records these users hold (records per user, reused for a minute)."""
        now = time.monotonic()
        if self._user_counts is None or now - self._user_counts[0] > _COUNTS_TTL_S:
            self._user_counts = (now, await self.records_per_user())
        counts = self._user_counts[1]
        total = sum(counts.values())
        return sum(counts.get(u, 0) for u in users) / total if total else 1.0

    async def embeddings(self, user_id: str, ids: Sequence[str]) -> dict[str, list[float]]:
        async with self._vector_read("its vectors are not compared with them") as conn:
            query = self.rows.q(
                "SELECT r.id, v.embedding FROM {s}.records r JOIN {s}.vectors v ON v.seq = r.seq"
                " WHERE r.user_id = %s AND r.id = ANY(%s)"
            )
            rows = await (await conn.execute(query, (user_id, list(ids)))).fetchall()
        return {rid: vector.to_list() for rid, vector in rows}

    @asynccontextmanager
    async def _vector_read(self, outcome: str) -> AsyncIterator[AsyncConnection]:
        """A pipelined connection for a read of the vectors, the store's vector space read with the read's first
        round trip and checked after it: a process whose vectors another process rebuilt for another model of the
        same dimension is told so (`outcome`), not handed neighbours from another space."""
        async with self._connection() as conn, conn.pipeline():
            space = await conn.execute(self.rows.q(schema.VECTOR_SPACE))
            yield conn
            await self._confirm_space(space, outcome)

    # -- the vector index (written with its records: nothing to repair) --------------------------
    @property
    def index_dirty(self) -> bool:
        return False

    async def check_index(self, full: bool) -> IndexCheck:
        """Vectors are committed with their records and removed by cascade: there are no orphans to find.
        Records without a vector (another embedding model, or added while the embedder failed) are pending."""
        return IndexCheck(full=full)

    async def pending_vectors(self, limit: int) -> list[MemoryRecord]:
        rows = await self._fetch(
            f"SELECT {COLUMNS} FROM {FROM} WHERE NOT EXISTS"
            " (SELECT 1 FROM {s}.vectors v WHERE v.seq = r.seq) ORDER BY r.seq LIMIT %s",
            (limit,),
        )
        return [load_row(row) for row in rows]

    async def write_vectors(self, items: Sequence[VectorWrite]) -> None:
        if not items:
            return
        by_id = {item.record_id: item for item in items}
        async with self.transaction() as conn:
            space = await self._send_space_check(conn)
            rows = await (
                await conn.execute(
                    self.rows.q(
                        "UPDATE {s}.records r SET dense_text = t.dense_text"
                        " FROM unnest(%s::text[], %s::text[], %s::int[]) AS t(id, dense_text, version)"
                        " WHERE r.id = t.id AND (r.body->>'version')::int = t.version"
                        " AND NOT EXISTS (SELECT 1 FROM {s}.vectors v WHERE v.seq = r.seq) RETURNING r.id, r.seq"
                    ),
                    (list(by_id), [item.dense_text for item in by_id.values()], [item.version for item in by_id.values()]),
                )
            ).fetchall()
            await self._confirm_space(space)
            await self.rows.write_vectors(conn, [(int(seq), by_id[rid].embedding) for rid, seq in rows])

    # -- writes --------------------------------------------------------------------------------
    async def touch(self, ids: Sequence[str], when: datetime) -> None:
        """Count an access of each record, in its own small table (no history; no wait for the WAL flush)."""
        if not ids:
            return
        async with self._connection() as conn, conn.pipeline(), conn.transaction():  # one round trip
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute(
                self.rows.q(
                    "INSERT INTO {s}.record_access(seq, access_count, last_accessed_at)"
                    " SELECT seq, 1, %s FROM {s}.records WHERE id = ANY(%s) ORDER BY seq"
                    " ON CONFLICT (seq) DO UPDATE SET access_count = {s}.record_access.access_count + 1,"
                    " last_accessed_at = excluded.last_accessed_at"
                ),
                (as_utc(when), list(ids)),
            )

    async def _lock_users(self, conn: AsyncConnection, users: set[str]) -> None:
        """Writers of one user wait for each other until commit (in user order: no deadlock)."""
        for user_id in sorted(users):
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 7092))", (json.dumps([self.schema, user_id]),)
            )

    async def _send_space_check(self, conn: AsyncConnection) -> AsyncCursor[tuple[Any, ...]]:
        """Sent first in a write: the schema lock held shared until commit (no vector-table rebuild meanwhile) and
        the store's vector space, read by `_confirm_space` once the write's first read has synced the pipeline
        (no round trip of its own)."""
        await conn.execute(schema.SCHEMA_LOCK_SHARED, schema.schema_lock_key(self.schema))
        return await conn.execute(self.rows.q(schema.VECTOR_SPACE))

    async def _confirm_space(self, sent: AsyncCursor[tuple[Any, ...]], outcome: str = "nothing was written") -> None:
        """Refuse the write (rolled back) or the read when another process rebuilt the vectors for another vector
        space."""
        row = await sent.fetchone()
        stored = None if row is None else str(row[0])
        if stored != self.space:
            raise VectorSpaceChangedError(self.space, stored, outcome)

    async def commit(self, changes: ChangeSet) -> CommitResult:
        return await self._commit(changes, None)

    async def _commit(self, changes: ChangeSet, seqs: dict[str, int] | None) -> CommitResult:
        """`commit`; `seqs`: the `seq` reserved for each new record's id (`commit_encoding`), None: assigned here."""
        result = CommitResult()
        now = datetime.now(UTC)
        users = {item.record.scope.user_id for item in changes.inserts}
        users |= {r.record.scope.user_id for r in changes.replacements}
        users |= {r.scope.user_id for r in changes.removals}
        history: list[tuple[Any, ...]] = []
        async with self.transaction() as conn:
            space = await self._send_space_check(conn)
            await self._lock_users(conn, users)
            await self._insert(conn, changes, result, history, now, seqs)
            await self._confirm_space(space)  # answered with the inserts' reads; the lock holds until commit
            for supersession in changes.supersessions:
                new = supersession.new if isinstance(supersession.new, MemoryRecord) else result.inserted[supersession.new].record
                done: list[str] = []
                olds = await self.rows.by_ids(conn, list(supersession.old_ids), lock=True)
                for old_id in supersession.old_ids:
                    old = olds.get(old_id)
                    if old is None:
                        raise MemoryNotFoundError(old_id)  # rolls back the whole change set
                    if old.id == new.id or old.status is not MemoryStatus.ACTIVE or old_id in done:
                        continue
                    if old.scope.user_id != new.scope.user_id:
                        raise MemoryValidationError("a record can only be superseded by a record of the same user")
                    updated = superseded_version(old, new.id, now)
                    await self.rows.replace(conn, updated)
                    olds[old_id] = updated
                    history.append(_history_row(HistoryEntry(
                        ChangeOp.SUPERSEDE, changes.actor, old.id, old.scope.user_id, version=updated.version,
                        before=old, after=updated, details={"superseded_by": new.id}), now))  # fmt: skip
                    done.append(old.id)
                result.superseded.append(done)
            for replacement in changes.replacements:
                record = replacement.record
                current = (await self.rows.by_ids(conn, [record.id], lock=True)).get(record.id)
                if current is None or current.version != replacement.expected_version:
                    raise VersionConflict(record.id)
                seq = await self.rows.replace(conn, record)
                if seq is not None and replacement.texts is not None:
                    await self.rows.set_index_texts(
                        conn, seq, record.scope.user_id, replacement.texts.dense, replacement.texts.lexical,
                        replacement.embedding,
                    )
            for item in changes.reindexed:
                row = await (
                    await conn.execute(self.rows.q("SELECT seq, user_id FROM {s}.records WHERE id = %s"), (item.record_id,))
                ).fetchone()
                if row is not None:  # removed meanwhile: nothing to index
                    await self.rows.set_index_texts(conn, int(row[0]), row[1], item.texts.dense, item.texts.lexical,
                                                    item.embedding)  # fmt: skip
            await self.rows.remove(conn, [r.id for r in changes.removals])
            history.extend(_history_row(entry, now) for entry in changes.history)
            await self.rows.log(conn, history)
        return result

    @property
    def write_part(self) -> int:
        return self.settings.store.postgres_write_part

    async def commit_encoding(self, changes: ChangeSet, encode: Encode) -> CommitResult:
        """A batch of inserts written while it encodes: parts of `store.postgres_write_part` texts of similar length,
        each committed in its own transaction while the next part's vectors are encoded (pgvector's HNSW insert and
        the model each keep a core busy; one after the other, a batch took their sum). The batch's `seq`s are
        reserved first, in input order, so the records keep their input order whatever part is written first.
        A failure stops the batch: the parts committed stay (the batch added again finds them as duplicates),
        nothing of the failed part is written. A part size of 0: the whole batch encoded first, then one
        transaction (all or nothing)."""
        inserts = changes.inserts
        if changes.supersessions or changes.replacements or changes.reindexed or changes.removals or changes.history:
            raise ValueError("commit_encoding takes a change set of inserts only")
        size = self.settings.store.postgres_write_part
        if not size:  # one transaction for the batch, encoded first
            for item, vector in zip(inserts, await encode([item.texts.dense for item in inserts]), strict=True):
                item.embedding = vector
            return await self.commit(changes)
        # distinct records (the store resolved the batch's copies before), so each id gets its own seq
        parts = write_parts([len(item.texts.dense) for item in inserts], size)
        if not parts:
            return CommitResult()

        def encoding(part: list[int]) -> asyncio.Future[list[list[float]]]:
            return asyncio.ensure_future(encode([inserts[i].texts.dense for i in part]))

        pending = encoding(parts[0])
        outcomes: dict[int, InsertOutcome] = {}
        try:
            # what PostgreSQL cannot store rejects the batch before any part is written (checked while part 0 encodes)
            for item in inserts:
                storable(dump(item.record), item.texts.dense, item.texts.lexical)
            seqs = dict(zip((item.record.id for item in inserts), await self._reserve_seqs(len(inserts)), strict=True))
            for k, part in enumerate(parts):
                vectors = await pending
                if k + 1 < len(parts):  # the next part encodes (in a thread) while this one is written
                    pending = encoding(parts[k + 1])
                for i, vector in zip(part, vectors, strict=True):
                    inserts[i].embedding = vector
                done = await self._commit(
                    ChangeSet(actor=changes.actor, insert_op=changes.insert_op, inserts=[inserts[i] for i in part]), seqs
                )
                outcomes.update(zip(part, done.inserted, strict=True))
        finally:
            if not pending.done():  # a part failed: let the encode in flight finish, its vectors unused
                await asyncio.gather(pending, return_exceptions=True)
        return CommitResult(inserted=[outcomes[i] for i in range(len(inserts))])

    async def _reserve_seqs(self, n: int) -> list[int]:
        """`n` values of the records' `seq` identity, ascending (values nobody uses are gaps, as after a rollback)."""
        async with self._connection() as conn:
            cur = await conn.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'seq')) FROM generate_series(1, %s)",
                (sql.Identifier(self.schema, "records").as_string(conn), n),
            )
            return sorted(int(seq) for (seq,) in await cur.fetchall())

    async def _insert(
        self, conn: AsyncConnection, changes: ChangeSet, result: CommitResult, history: list[tuple[Any, ...]],
        now: datetime, seqs: dict[str, int] | None,
    ) -> None:  # fmt: skip
        """Insert the new records; one whose id or content a concurrent writer stored meanwhile resolves to it."""
        inserts = changes.inserts
        if not inserts:
            return
        ids = await self.rows.send_by_ids(conn, [item.record.id for item in inserts])  # answered with the next read
        duplicates = await self.rows.duplicates(conn, [i.record for i in inserts], [i.content_hash for i in inserts])
        stored = await self.rows.read_by_ids(ids)
        fresh: list[NewRecord] = []
        first: dict[Any, MemoryRecord] = {}
        for item, duplicate in zip(inserts, duplicates, strict=True):
            record = item.record
            key = (record.scope, item.content_hash)
            prior = duplicate or stored.get(record.id) or first.get(key) or first.get(record.id)
            if prior is not None:
                result.inserted.append(InsertOutcome(prior, False))
                continue
            first[key] = first[record.id] = record
            fresh.append(item)
            result.inserted.append(InsertOutcome(record, True))
            history.append(_history_row(HistoryEntry(
                changes.insert_op, changes.actor, record.id, record.scope.user_id, version=record.version,
                after=record), now))  # fmt: skip
        await self.rows.insert(conn, fresh, None if seqs is None else [seqs[item.record.id] for item in fresh])

    async def forget_user(self, user_id: str, actor: str) -> list[MemoryRecord]:
        where = RecordFilter.build(MemoryScope(user_id=user_id), include_inactive=True)
        async with self.transaction() as conn:
            await self._lock_users(conn, {user_id})
            fragment, params = where_sql(where)
            rows = await (
                await conn.execute(
                    sql.SQL("SELECT {cols} FROM {src} WHERE {where}").format(
                        cols=sql.SQL(COLUMNS), src=self.rows.q(FROM), where=fragment
                    ),
                    params,
                )
            ).fetchall()
            records = [load_row(row) for row in rows]
            await self.rows.remove(conn, [r.id for r in records])
            await conn.execute(self.rows.q("DELETE FROM {s}.history WHERE user_id = %s"), (user_id,))
            await self.rows.log(conn, [_history_row(HistoryEntry(
                ChangeOp.FORGET_USER, actor, None, None, details={"records": len(records)}), datetime.now(UTC))])  # fmt: skip
        self._user_counts = None
        return records
