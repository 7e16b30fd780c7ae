"""The embedded backend as either end of `omne memory migrate`: its records in insertion order with their index
texts and vectors, its history rows, and a copy that skips what is already there."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from ..base import HistoryRow, StoredRecord, load_row
from .backend import EmbeddedBackend


class EmbeddedCopy:
    """`migrate`'s source and target protocol over an open `EmbeddedBackend`."""

    def __init__(self, backend: EmbeddedBackend) -> None:
        self.backend, self.db = backend, backend.db

    async def store_id(self) -> str:
        return await asyncio.to_thread(lambda: self.db.get_meta("store_id") or "")

    async def embedder_name(self) -> str | None:
        return await asyncio.to_thread(self.db.get_meta, "embedder")

    async def get_marker(self, key: str) -> int:
        return int(await asyncio.to_thread(self.db.get_meta, key) or 0)

    async def export_records(self, after_seq: int, limit: int) -> list[StoredRecord]:
        return await asyncio.to_thread(self._export_records, after_seq, limit)

    def _export_records(self, after_seq: int, limit: int) -> list[StoredRecord]:
        rows = self.db.conn().execute(
            "SELECT r.dense_text, f.content, r.index_state, r.seq, r.id, r.access_count, r.last_accessed_at, r.body"
            " FROM records r LEFT JOIN records_fts f ON f.rowid = r.seq WHERE r.seq > ? ORDER BY r.seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        records = [(row[0], row[1] or "", row[2], row[3], load_row(row[3:])) for row in rows]
        vectors: dict[str, list[float]] = {}
        by_user: dict[str, list[str]] = {}
        for *_, record in records:
            by_user.setdefault(record.scope.user_id, []).append(record.id)
        for user_id, ids in by_user.items():
            vectors.update(self.backend.vectors.get_embeddings(user_id, ids))
        return [
            StoredRecord(seq=seq, record=record, dense_text=dense, lexical_text=lexical,
                         embedding=vectors.get(record.id) if indexed else None)  # fmt: skip
            for dense, lexical, indexed, seq, record in records
        ]

    async def export_history(self, after_seq: int, limit: int) -> list[HistoryRow]:
        rows = await asyncio.to_thread(
            lambda: self.db.conn().execute(
                "SELECT seq, record_id, user_id, op, actor, at, version, before, after, details FROM history"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        )
        return [HistoryRow(seq, rid, user, op, actor, datetime.fromisoformat(at), version, before, after, details)
                for seq, rid, user, op, actor, at, version, before, after, details in rows]  # fmt: skip

    async def counts_by_user(self) -> dict[str, int]:
        return await asyncio.to_thread(self.db.user_counts)

    async def history_counts_by_user(self) -> dict[str | None, int]:
        return await asyncio.to_thread(
            lambda: dict(self.db.conn().execute("SELECT user_id, count(*) FROM history GROUP BY user_id").fetchall())
        )

    async def import_records(self, records: Sequence[StoredRecord]) -> int:
        return await asyncio.to_thread(self._import_records, records)

    def _import_records(self, records: Sequence[StoredRecord]) -> int:
        """Rows (ids, versions, access counts as they are) in one transaction, then their vectors; a record
        without a vector stays pending (the next open embeds it). Ids already here are skipped."""
        db = self.db
        with db.write_lock:
            ids = [r.record.id for r in records]
            marks = ",".join("?" * len(ids))
            state = dict(db.conn().execute(f"SELECT id, index_state FROM records WHERE id IN ({marks})", ids).fetchall())
            fresh = [r for r in records if r.record.id not in state]
            with db.transaction() as conn:
                for item in fresh:
                    db.insert(conn, item.record, item.dense_text, item.lexical_text)
            # new records, and those a killed run stored without their vector: vectors reused, not recomputed
            with_vectors = [r for r in records if r.embedding is not None and state.get(r.record.id, 0) == 0]
            if with_vectors:
                self.backend.vectors.upsert(
                    [r.record for r in with_vectors], [r.embedding for r in with_vectors if r.embedding is not None]
                )
                db.mark_indexed([r.record.id for r in with_vectors])
        return len(fresh)

    async def import_history(self, rows: Sequence[HistoryRow], marker: tuple[str, int]) -> int:
        return await asyncio.to_thread(self._import_history, rows, marker)

    def _import_history(self, rows: Sequence[HistoryRow], marker: tuple[str, int]) -> int:
        db = self.db
        with db.write_lock, db.transaction() as conn:
            conn.executemany(
                "INSERT INTO history(record_id, user_id, op, actor, at, version, before, after, details)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(h.record_id, h.user_id, h.op, h.actor, h.at.isoformat(), h.version, h.before, h.after, h.details)
                 for h in rows],  # fmt: skip
            )
            db.set_meta(conn, marker[0], str(marker[1]))
        return len(rows)
