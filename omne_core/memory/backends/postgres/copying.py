"""The PostgreSQL backend as either end of `omne memory migrate`."""

from __future__ import annotations

from collections.abc import Sequence

from ..base import HistoryRow, IndexTexts, NewRecord, StoredRecord, load_row
from .backend import PostgresBackend
from .rows import COLUMNS, FROM


class PostgresCopy:
    """`migrate`'s source and target protocol over an open `PostgresBackend`."""

    def __init__(self, backend: PostgresBackend) -> None:
        self.backend, self.rows = backend, backend.rows

    async def _meta(self, key: str) -> str | None:
        async with self.backend._connection() as conn:
            row = await (await conn.execute(self.rows.q("SELECT value FROM {s}.meta WHERE key = %s"), (key,))).fetchone()
        return row[0] if row else None

    async def store_id(self) -> str:
        return await self._meta("store_id") or ""

    async def embedder_name(self) -> str | None:
        return await self._meta("embedder")

    async def get_marker(self, key: str) -> int:
        return int(await self._meta(key) or 0)

    async def export_records(self, after_seq: int, limit: int) -> list[StoredRecord]:
        async with self.backend._connection() as conn:
            rows = await (
                await conn.execute(
                    self.rows.q(
                        f"SELECT r.dense_text, r.lexical_text, v.embedding, {COLUMNS} FROM {FROM}"
                        " LEFT JOIN {s}.vectors v ON v.seq = r.seq WHERE r.seq > %s ORDER BY r.seq LIMIT %s"
                    ),
                    (after_seq, limit),
                )
            ).fetchall()
        return [
            StoredRecord(seq=int(row[3]), record=load_row(row[3:]), dense_text=row[0], lexical_text=row[1],
                         embedding=None if row[2] is None else row[2].to_list())  # fmt: skip
            for row in rows
        ]

    async def export_history(self, after_seq: int, limit: int) -> list[HistoryRow]:
        async with self.backend._connection() as conn:
            rows = await (
                await conn.execute(
                    self.rows.q(
                        "SELECT seq, record_id, user_id, op, actor, at, version, before::text, after::text,"
                        " details::text FROM {s}.history WHERE seq > %s ORDER BY seq LIMIT %s"
                    ),
                    (after_seq, limit),
                )
            ).fetchall()
        return [HistoryRow(*row) for row in rows]

    async def counts_by_user(self) -> dict[str, int]:
        return await self.backend.records_per_user()

    async def history_counts_by_user(self) -> dict[str | None, int]:
        async with self.backend._connection() as conn:
            rows = await (
                await conn.execute(self.rows.q("SELECT user_id, count(*) FROM {s}.history GROUP BY user_id"))
            ).fetchall()
        return {user: int(n) for user, n in rows}

    async def import_records(self, records: Sequence[StoredRecord]) -> int:
        """Rows, postings and vectors as they are, in one transaction; ids already here are skipped."""
        async with self.backend.transaction() as conn:
            ids = [r.record.id for r in records]
            present = {
                rid for (rid,) in await (
                    await conn.execute(self.rows.q("SELECT id FROM {s}.records WHERE id = ANY(%s)"), (ids,))
                ).fetchall()
            }
            fresh = [
                NewRecord(r.record, r.record.content_hash(), IndexTexts(r.dense_text, r.lexical_text), r.embedding)
                for r in records
                if r.record.id not in present
            ]
            await self.rows.insert(conn, fresh)
        return len(fresh)

    async def import_history(self, rows: Sequence[HistoryRow], marker: tuple[str, int]) -> int:
        """History rows and the marker past them, in one transaction (a rerun skips them)."""
        key, last = marker
        async with self.backend.transaction() as conn:
            await self.rows.log(
                conn, [(h.record_id, h.user_id, h.op, h.actor, h.at, h.version, h.before, h.after, h.details) for h in rows]
            )
            await conn.execute(
                self.rows.q(
                    "INSERT INTO {s}.meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                (key, str(last)),
            )
        return len(rows)
