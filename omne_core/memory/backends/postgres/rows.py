"""Row-level SQL of the PostgreSQL store: loading records, and writing rows, postings and vectors on a connection
the caller holds (inside its transaction). Every statement names the store's schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection, AsyncCursor, sql

from ....records import MemoryRecord
from ...errors import MemoryValidationError
from ...filters import record_ts
from ..base import NewRecord, load_row, oldest_duplicates
from ..lexical_tokens import token_counts
from . import dense, lexical

COLUMNS = "r.seq, r.id, coalesce(a.access_count, 0), a.last_accessed_at, r.body::text"
FROM = "{s}.records r LEFT JOIN {s}.record_access a ON a.seq = r.seq"


def dump(record: MemoryRecord) -> str:
    return record.model_dump_json(exclude={"access_count", "last_accessed_at"})


def storable(body: str, *texts: str) -> None:
    """PostgreSQL's text and jsonb cannot hold a NUL character: say so before anything is written."""
    if "\\u0000" in body or any("\x00" in t for t in texts):
        raise MemoryValidationError("the record holds a NUL character (\\x00), which PostgreSQL cannot store")


class Rows:
    """The SQL of one schema, on connections the caller passes."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.s = sql.Identifier(schema)

    def q(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(s=self.s)

    # -- reads ---------------------------------------------------------------------------------
    async def by_ids(self, conn: AsyncConnection, ids: Sequence[str], *, lock: bool = False) -> dict[str, MemoryRecord]:
        """Records by id; `lock`: their rows stay locked until the transaction ends (a version check)."""
        if not ids:
            return {}
        return await self.read_by_ids(await self.send_by_ids(conn, ids, lock=lock))

    async def send_by_ids(self, conn: AsyncConnection, ids: Sequence[str], *, lock: bool = False) -> AsyncCursor[Any]:
        """Send the query of `by_ids` (in a pipeline: answered with the next read, one round trip for both)."""
        suffix = " FOR UPDATE OF r" if lock else ""
        return await conn.execute(self.q(f"SELECT {COLUMNS} FROM {FROM} WHERE r.id = ANY(%s){suffix}"), (list(ids),))

    @staticmethod
    async def read_by_ids(cur: AsyncCursor[Any]) -> dict[str, MemoryRecord]:
        return {record.id: record for record in (load_row(row) for row in await cur.fetchall())}

    async def duplicates(
        self, conn: AsyncConnection, records: Sequence[MemoryRecord], hashes: Sequence[str]
    ) -> list[MemoryRecord | None]:
        """For each record, the oldest non-deleted record with its content hash in exactly its scope, or None
        (one statement for every user of the batch)."""
        pairs = sorted({(record.scope.user_id, digest) for record, digest in zip(records, hashes, strict=True)})
        if not pairs:
            return []
        cur = await conn.execute(
            self.q(
                f"SELECT r.user_id, r.agent_id, r.session_id, r.namespace, r.content_hash, {COLUMNS} FROM {FROM}"
                " JOIN unnest(%s::text[], %s::text[]) AS w(u, h) ON r.user_id = w.u AND r.content_hash = w.h"
                " WHERE r.status != 'deleted' ORDER BY r.seq"
            ),
            ([u for u, _ in pairs], [h for _, h in pairs]),
        )
        found = [(tuple(row[:5]), row[5:]) for row in await cur.fetchall()]
        return oldest_duplicates(records, hashes, found)

    # -- writes --------------------------------------------------------------------------------
    async def insert(self, conn: AsyncConnection, items: Sequence[NewRecord], seqs: Sequence[int] | None = None) -> None:
        """New rows with their postings, vectors and access counts; `seq` follows the input order, or is `seqs`
        (values reserved from the identity beforehand)."""
        if not items:
            return
        columns: list[list[Any]] = [[] for _ in range(14)]
        for k, item in enumerate(items):
            r, s = item.record, item.record.scope
            body = dump(r)
            storable(body, item.texts.dense, item.texts.lexical)
            values = (
                r.id, s.user_id, s.agent_id, s.session_id, s.namespace, r.kind.value, r.status.value,
                item.content_hash, record_ts(r), r.blob_ref, item.texts.dense, item.texts.lexical, body,
                None if seqs is None else seqs[k],
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        given = seqs is not None  # a reserved seq overrides the identity; else the identity numbers in input order
        cur = await conn.execute(
            self.q(
                "INSERT INTO {s}.records(id, user_id, agent_id, session_id, namespace, kind, status, content_hash,"
                f" ts, blob_ref, dense_text, lexical_text, body{', seq' if given else ''})"
                f"{' OVERRIDING SYSTEM VALUE' if given else ''} SELECT id, u, a, se, ns, k, st, h, ts, b, d, l,"
                f" body::jsonb{', q' if given else ''} FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[],"
                " %b::text[], %b::text[], %b::text[], %b::text[], %b::float8[], %b::text[], %b::text[], %b::text[],"
                " %b::text[], %b::bigint[]) WITH ORDINALITY AS x(id, u, a, se, ns, k, st, h, ts, b, d, l, body, q, i)"
                " ORDER BY i RETURNING id, seq"
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
                self.q("INSERT INTO {s}.record_access(seq, access_count, last_accessed_at) VALUES (%s, %s, %s)"),
                accessed,
            )
        await self.write_vectors(
            conn, [(seq, item.embedding) for seq, item in zip(seqs, items, strict=True) if item.embedding is not None]
        )
        counts = token_counts([item.texts.lexical for item in items])
        await lexical.add_postings(
            conn, self.schema, [(seq, item.record.scope.user_id, c) for seq, item, c in zip(seqs, items, counts, strict=True)]
        )

    async def write_vectors(self, conn: AsyncConnection, rows: Sequence[tuple[int, Sequence[float]]]) -> None:
        """Vectors by seq, new or replacing, in one statement (binary arrays: no per-row statement or text)."""
        if rows:
            await conn.execute(
                self.q(
                    "INSERT INTO {s}.vectors(seq, embedding) SELECT * FROM unnest(%b::bigint[], %b::vector[])"
                    " ON CONFLICT (seq) DO UPDATE SET embedding = excluded.embedding"
                ),
                ([seq for seq, _ in rows], [dense.as_vector(vector) for _, vector in rows]),
            )

    async def replace(self, conn: AsyncConnection, record: MemoryRecord) -> int | None:
        """Rewrite a record's row (not its index texts); its seq, None when it is gone."""
        body = dump(record)
        storable(body)
        cur = await conn.execute(
            self.q(
                "UPDATE {s}.records SET kind = %s, status = %s, content_hash = %s, ts = %s, blob_ref = %s,"
                " body = %s::jsonb WHERE id = %s RETURNING seq"
            ),
            (record.kind.value, record.status.value, record.content_hash(), record_ts(record), record.blob_ref,
             body, record.id),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else None

    async def set_index_texts(
        self, conn: AsyncConnection, seq: int, user_id: str, dense_text: str, lexical_text: str,
        embedding: Sequence[float] | None,
    ) -> None:  # fmt: skip
        """New index texts: postings rebuilt, the vector rewritten (or dropped: pending until re-embedded)."""
        storable("", dense_text, lexical_text)
        await conn.execute(
            self.q("UPDATE {s}.records SET dense_text = %s, lexical_text = %s WHERE seq = %s"),
            (dense_text, lexical_text, seq),
        )
        await lexical.remove_postings(conn, self.schema, [seq])
        await lexical.add_postings(conn, self.schema, [(seq, user_id, token_counts([lexical_text])[0])])
        if embedding is not None:
            await self.write_vectors(conn, [(seq, embedding)])
        else:
            await conn.execute(self.q("DELETE FROM {s}.vectors WHERE seq = %s"), (seq,))

    async def remove(self, conn: AsyncConnection, record_ids: Sequence[str]) -> None:
        """Hard delete: rows, postings, vectors, access counts, and the content of their history."""
        if not record_ids:
            return
        rows = await (
            await conn.execute(self.q("SELECT seq FROM {s}.records WHERE id = ANY(%s)"), (list(record_ids),))
        ).fetchall()
        seqs = [int(seq) for (seq,) in rows]
        await lexical.remove_postings(conn, self.schema, seqs)
        await conn.execute(self.q("DELETE FROM {s}.records WHERE seq = ANY(%s)"), (seqs,))  # cascades
        await conn.execute(
            self.q("UPDATE {s}.history SET before = NULL, after = NULL WHERE record_id = ANY(%s)"), (list(record_ids),)
        )

    async def log(
        self, conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """History rows: (record_id, user_id, op, actor, at, version, before JSON, after JSON, details JSON)."""
        if rows:
            await conn.cursor().executemany(
                self.q(
                    "INSERT INTO {s}.history(record_id, user_id, op, actor, at, version, before, after, details)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb)"
                ),
                rows,
            )
