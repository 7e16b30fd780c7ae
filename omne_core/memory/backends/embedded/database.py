"""The record of truth: records, the append-only change history and the FTS5 (BM25) index, in one SQLite file.

WAL mode with synchronous=FULL: a committed transaction survives a process kill or power loss.
Every thread gets its own connection (readers never block on the writer); writes are serialized by a lock.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ....records import MemoryRecord
from ...errors import MemoryNotFoundError, StoreNotOpenError
from ...filters import RecordFilter, as_utc, record_ts
from ...indexing import phrase
from ...results import ChangeOp, MemoryChange
from ..base import load_row, oldest_duplicates
from .sql import filter_sql, label_rows

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order; also the FTS rowid
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    agent_id TEXT,
    session_id TEXT,
    namespace TEXT,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    ts REAL NOT NULL,                       -- event_time, else created_at (epoch seconds)
    blob_ref TEXT,
    access_count INTEGER NOT NULL DEFAULT 0,
    last_accessed_at TEXT,
    dense_text TEXT NOT NULL,               -- what the vector index embeds
    index_state INTEGER NOT NULL DEFAULT 0, -- 0: the vector index must be rewritten; 1: in sync
    body TEXT NOT NULL                      -- the record as JSON
);
CREATE INDEX IF NOT EXISTS records_scope ON records(user_id, session_id, seq);
CREATE INDEX IF NOT EXISTS records_hash ON records(user_id, content_hash);
CREATE INDEX IF NOT EXISTS records_ts ON records(user_id, ts);
CREATE INDEX IF NOT EXISTS records_counts ON records(user_id, kind, status);  -- users(): counts from the index alone
CREATE INDEX IF NOT EXISTS records_blob ON records(blob_ref) WHERE blob_ref IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_pending ON records(index_state) WHERE index_state = 0;
CREATE VIRTUAL TABLE IF NOT EXISTS records_fts USING fts5(
    content, owner, tokenize = 'porter unicode61 remove_diacritics 2'  -- owner: the user's token (a prefilter)
);
CREATE TABLE IF NOT EXISTS history(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT,
    user_id TEXT,
    op TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    version INTEGER,
    before TEXT,
    after TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS history_record ON history(record_id, seq);
CREATE INDEX IF NOT EXISTS history_user ON history(user_id);
CREATE TABLE IF NOT EXISTS vector_outbox(id TEXT PRIMARY KEY, user_id TEXT);  -- vectors to remove
CREATE TABLE IF NOT EXISTS record_links(  -- record `seq` names `target` (in its source_ids or superseded_by)
    target TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (target, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_links_seq ON record_links(seq);
CREATE TABLE IF NOT EXISTS record_labels(  -- record `seq`'s top-level metadata scalars: metadata filters read it
    key TEXT NOT NULL,
    element INTEGER NOT NULL,  -- 0: the value under the key; 1: an element of the list under the key
    type TEXT NOT NULL,        -- 'text', 'number' or 'bool' (stored as 1 / 0)
    value NOT NULL,            -- no affinity: a number stays a number, a text a text
    seq INTEGER NOT NULL,
    PRIMARY KEY (key, element, type, value, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_labels_seq ON record_labels(seq, key);
"""

_COLUMNS = "seq, id, access_count, last_accessed_at, body"
_FTS_TABLE = (
    "CREATE VIRTUAL TABLE {name} USING fts5(content, owner, tokenize = 'porter unicode61 remove_diacritics 2')"
)


def owner_token(user_id: str) -> str:
    """The single FTS token naming a user (a digest: user ids may hold any character)."""
    return "u" + hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:24]


def fts_match(match: str, owners: Sequence[str] | None = None) -> str:
    """An FTS5 expression: `match` over the text column, restricted to these users' rows when given."""
    expression = f"content : ({match})"
    if owners:
        tokens = " OR ".join(f'"{owner_token(user)}"' for user in owners)
        expression = f"owner : ({tokens}) AND {expression}"
    return expression


def _now() -> datetime:
    return datetime.now(UTC)


def dump_record(record: MemoryRecord) -> str:
    return record.model_dump_json(exclude={"access_count", "last_accessed_at"})


class Database:
    """Thread-safe access to the SQLite file; one connection per thread, one writer at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self.write_lock = threading.RLock()
        self._closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.write_lock:
            self.conn().executescript(_SCHEMA)  # idempotent; executescript manages its own transaction
            self._add_fts_owner_column()
            outbox_columns = {row[1] for row in self.conn().execute("PRAGMA table_info(vector_outbox)")}
            if "user_id" not in outbox_columns:  # a store written before the index was split per user
                self.conn().execute("ALTER TABLE vector_outbox ADD COLUMN user_id TEXT")
            self.conn().execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            self._fill_links()
            self._fill_labels()

    def _add_fts_owner_column(self) -> None:
        """Rebuild an FTS index written before it had the owner column (stores of the first release)."""
        conn = self.conn()
        if "owner" in {row[1] for row in conn.execute("PRAGMA table_info(records_fts)")}:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_FTS_TABLE.format(name="records_fts_owner"))
            rows = conn.execute(
                "SELECT f.rowid, f.content, r.user_id FROM records_fts f JOIN records r ON r.seq = f.rowid"
            )
            conn.executemany(
                "INSERT INTO records_fts_owner(rowid, content, owner) VALUES (?, ?, ?)",
                ((seq, content, owner_token(user_id)) for seq, content, user_id in rows.fetchall()),
            )
            conn.execute("DROP TABLE records_fts")
            conn.execute("ALTER TABLE records_fts_owner RENAME TO records_fts")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _fill_links(self) -> None:
        """Index the links of a store written before `record_links` existed (once; new stores start empty)."""
        if self.get_meta("record_links") is not None:
            return
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO record_links(target, seq) SELECT j.value, r.seq FROM records r,"
                " json_each(r.body, '$.source_ids') j WHERE j.type = 'text'"
            )
            conn.execute(
                "INSERT OR IGNORE INTO record_links(target, seq) SELECT json_extract(body, '$.superseded_by'), seq"
                " FROM records WHERE json_extract(body, '$.superseded_by') IS NOT NULL"
            )
            self.set_meta(conn, "record_links", "1")

    def _fill_labels(self) -> None:
        """Index the metadata of a store written before `record_labels` existed (once; `label_rows` in SQL)."""
        if self.get_meta("record_labels") is not None:
            return
        typed = ("CASE WHEN {v}.type = 'text' THEN 'text' WHEN {v}.type IN ('true', 'false') THEN 'bool'"
                 " ELSE 'number' END, CASE {v}.type WHEN 'true' THEN 1 WHEN 'false' THEN 0 ELSE {v}.value END")  # fmt: skip
        scalar = "IN ('text', 'integer', 'real', 'true', 'false')"
        with self.transaction() as conn:
            conn.execute(
                f"INSERT OR IGNORE INTO record_labels(key, element, type, value, seq) SELECT m.key, 0,"
                f" {typed.format(v='m')}, r.seq FROM records r, json_each(r.body, '$.metadata') m WHERE m.type {scalar}"
            )
            conn.execute(
                f"INSERT OR IGNORE INTO record_labels(key, element, type, value, seq) SELECT m.key, 1,"
                f" {typed.format(v='e')}, r.seq FROM records r, json_each(r.body, '$.metadata') m, json_each(m.value) e"
                f" WHERE m.type = 'array' AND e.type {scalar}"
            )
            self.set_meta(conn, "record_labels", "1")

    # -- connections ---------------------------------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreNotOpenError("the memory store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA secure_delete=ON")  # deleted text is overwritten, not left in free pages
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error). Callers hold `write_lock`."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def unsynced_transaction(self) -> Iterator[sqlite3.Connection]:
        """`transaction()` under the write lock without an fsync: for bookkeeping a crash may lose without harm
        (access counters; an `index_state` lost to a power cut only makes the store re-embed the record)."""
        with self.write_lock:
            conn = self.conn()
            conn.execute("PRAGMA synchronous=NORMAL")
            try:
                with self.transaction():
                    yield conn
            finally:
                conn.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        with self._connections_lock:
            self._closed = True
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections.clear()

    # -- meta ----------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # -- reads ---------------------------------------------------------------------------------
    def get(self, record_id: str) -> MemoryRecord | None:
        row = self.conn().execute(f"SELECT {_COLUMNS} FROM records WHERE id = ?", (record_id,)).fetchone()
        return load_row(row) if row else None

    def ids_starting(self, prefix: str, where: RecordFilter, limit: int) -> list[str]:
        """Up to `limit` ids that start with `prefix` among the records `where` matches (a range on the id index)."""
        fragment, params = filter_sql(where, "r", probe=True)
        sql = f"SELECT r.id FROM records r WHERE r.id >= ? AND r.id < ? AND {fragment} ORDER BY r.id LIMIT ?"
        return [rid for (rid,) in self.conn().execute(sql, [prefix, prefix + "\U0010ffff", *params, limit])]

    def get_many(self, ids: Sequence[str], where: RecordFilter | None = None) -> dict[str, MemoryRecord]:
        """Records by id (only those `where` matches). Looked up by the id index, filtered in Python: a scope
        condition in SQL makes SQLite scan the whole scope through its index instead."""
        out: dict[str, MemoryRecord] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            sql = f"SELECT {_COLUMNS} FROM records WHERE id IN ({','.join('?' * len(chunk))})"
            for row in self.conn().execute(sql, chunk):
                record = load_row(row)
                if where is None or where.matches(record):
                    out[record.id] = record
        return out

    def matching(self, column: str, keys: Sequence[Any], where: RecordFilter) -> dict[Any, str]:
        """{key: record id} for the keys (`id` or `seq` values) whose records `where` matches.

        Each key is looked up by its index and checked in SQL on the indexed columns: no JSON parsing, no
        Python per row (candidate lists of a few hundred are filtered on every search).
        """
        if column not in {"id", "seq"}:
            raise ValueError(f"unknown key column {column!r}")
        fragment, params = filter_sql(where, "r", probe=True)
        out: dict[Any, str] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            rows = self.conn().execute(
                f"SELECT r.{column}, r.id FROM records r WHERE r.{column} IN ({','.join('?' * len(chunk))})"
                f" AND {fragment}",
                [*chunk, *params],
            )
            out.update(rows.fetchall())
        return out

    def indexed_ids_matching(self, where: RecordFilter) -> list[str]:
        """The ids of the records `where` matches whose vectors are in the index (not pending): a selective
        filter's allow-list for the vector index."""
        fragment, params = filter_sql(where, "r")
        sql = f"SELECT r.id FROM records r WHERE {fragment} AND r.index_state = 1"
        return [rid for (rid,) in self.conn().execute(sql, params)]

    def find_duplicates(self, records: Sequence[MemoryRecord], hashes: Sequence[str]) -> list[MemoryRecord | None]:
        """For each record (with its content hash), the oldest non-deleted record with that hash in exactly its
        scope, or None. One query per user and 500 hashes, not one per record: adds come in batches."""
        wanted: dict[str, set[str]] = {}
        for record, digest in zip(records, hashes, strict=True):
            wanted.setdefault(record.scope.user_id, set()).add(digest)
        found: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []  # ((scope fields, hash), row), oldest first
        for user_id, digests in wanted.items():
            ordered = sorted(digests)
            for start in range(0, len(ordered), 500):
                chunk = ordered[start : start + 500]
                rows = self.conn().execute(
                    f"SELECT agent_id, session_id, namespace, content_hash, {_COLUMNS} FROM records"
                    f" WHERE user_id = ? AND content_hash IN ({','.join('?' * len(chunk))}) AND status != 'deleted'"
                    " ORDER BY seq",
                    (user_id, *chunk),
                )
                found.extend(((user_id, *row[:4]), tuple(row[4:])) for row in rows)
        return oldest_duplicates(records, hashes, found)

    def previous_in_session(self, record: MemoryRecord, limit: int) -> list[MemoryRecord]:
        """Up to `limit` records added before this one (or, if not stored yet, before now) in its session, oldest first."""
        s = record.scope
        if limit <= 0 or s.session_id is None:
            return []
        rows = self.conn().execute(
            f"SELECT {_COLUMNS} FROM records WHERE user_id = ? AND session_id = ? AND agent_id IS ? AND namespace IS ?"
            " AND seq < coalesce((SELECT seq FROM records WHERE id = ?), 9223372036854775807)"
            " ORDER BY seq DESC LIMIT ?",
            (s.user_id, s.session_id, s.agent_id, s.namespace, record.id, limit),
        ).fetchall()
        return [load_row(r) for r in reversed(rows)]

    def next_in_session(self, record: MemoryRecord, limit: int) -> list[MemoryRecord]:
        """Up to `limit` records added after this stored one in its session, oldest first."""
        s = record.scope
        if limit <= 0 or s.session_id is None:
            return []
        rows = self.conn().execute(
            f"SELECT {_COLUMNS} FROM records WHERE user_id = ? AND session_id = ? AND agent_id IS ? AND namespace IS ?"
            " AND seq > (SELECT seq FROM records WHERE id = ?) ORDER BY seq LIMIT ?",
            (s.user_id, s.session_id, s.agent_id, s.namespace, record.id, limit),
        ).fetchall()
        return [load_row(r) for r in rows]

    def list_records(
        self, where: RecordFilter, limit: int | None, oldest_first: bool = False, after: str | None = None
    ) -> list[MemoryRecord]:
        """Records `where` matches in (ts, seq) order; `after`: only those past this record (keyset paging)."""
        fragment, params = filter_sql(where, "r")
        order, past = ("ASC", ">") if oldest_first else ("DESC", "<")
        if after is not None:
            anchor = self.conn().execute("SELECT ts, seq FROM records WHERE id = ?", (after,)).fetchone()
            if anchor is None:
                raise MemoryNotFoundError(after)
            # `ts <=`/`>=` first: a range on the (user_id, ts) index; then the tie on ts broken by seq
            fragment += f" AND r.ts {past}= ? AND (r.ts {past} ? OR r.seq {past} ?)"
            params.extend([anchor[0], anchor[0], anchor[1]])
        sql = f"SELECT {_COLUMNS} FROM records r WHERE {fragment} ORDER BY r.ts {order}, r.seq {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [load_row(row) for row in self.conn().execute(sql, params)]

    def linking(self, record_id: str) -> list[MemoryRecord]:
        """Every record naming `record_id` in its `source_ids` or `superseded_by`, oldest first."""
        rows = self.conn().execute(
            f"SELECT {_COLUMNS} FROM records WHERE seq IN (SELECT seq FROM record_links WHERE target = ?)"
            " ORDER BY ts, seq",
            (record_id,),
        )
        return [load_row(row) for row in rows]

    def user_kind_counts(self) -> list[tuple[str, str, str, int]]:
        """(user id, kind, status, records) for every user of the store."""
        rows = self.conn().execute("SELECT user_id, kind, status, count(*) FROM records GROUP BY user_id, kind, status")
        return [(user, kind, status, int(n)) for user, kind, status, n in rows]

    def lexical_top(self, match: str, limit: int, owners: Sequence[str] | None = None) -> list[tuple[int, float]]:
        """(seq, bm25) best first, unfiltered but for the owners (the fast path: no join per match)."""
        rows = self.conn().execute(
            "SELECT rowid, bm25(records_fts, 1.0, 0.0) AS score FROM records_fts WHERE records_fts MATCH ?"
            " ORDER BY score LIMIT ?",
            (fts_match(match, owners), limit),
        ).fetchall()
        return [(seq, -score) for seq, score in rows]

    def lexical_search(self, match: str, where: RecordFilter, limit: int) -> list[tuple[str, float]]:
        """(id, bm25) best first among the records `where` matches; bm25 is made positive (higher is better)."""
        fragment, params = filter_sql(where, "r")
        sql = (
            "SELECT r.id, bm25(records_fts, 1.0, 0.0) AS score FROM records_fts"
            " JOIN records r ON r.seq = records_fts.rowid"
            f" WHERE records_fts MATCH ? AND {fragment} ORDER BY score LIMIT ?"
        )
        rows = self.conn().execute(sql, [fts_match(match, where.users()), *params, limit]).fetchall()
        return [(rid, -score) for rid, score in rows]

    def term_document_count(self, term: str) -> int:
        """How many rows hold the term (as the FTS tokenizer reads it)."""
        expression = "content : " + phrase(term)
        return int(self.conn().execute("SELECT count(*) FROM records_fts WHERE records_fts MATCH ?", (expression,)).fetchone()[0])

    def counts(self, where: RecordFilter) -> tuple[dict[str, int], dict[str, int], int, int]:
        """(records by kind, by status, pending vectors, distinct blobs) among the records `where` matches."""
        fragment, params = filter_sql(where, "r")
        conn = self.conn()
        by_kind = dict(conn.execute(f"SELECT kind, count(*) FROM records r WHERE {fragment} GROUP BY kind", params).fetchall())
        by_status = dict(conn.execute(f"SELECT status, count(*) FROM records r WHERE {fragment} GROUP BY status", params).fetchall())
        pending = conn.execute(f"SELECT count(*) FROM records r WHERE {fragment} AND index_state = 0", params).fetchone()[0]
        blobs = conn.execute(
            f"SELECT count(DISTINCT blob_ref) FROM records r WHERE {fragment} AND blob_ref IS NOT NULL", params
        ).fetchone()[0]
        return by_kind, by_status, pending, blobs

    def forget_history(self, conn: sqlite3.Connection, user_id: str) -> None:
        """Drop every history row of a user (after their records were removed) and compact the FTS index."""
        conn.execute("DELETE FROM history WHERE user_id = ?", (user_id,))
        conn.execute("INSERT INTO records_fts(records_fts) VALUES ('optimize')")

    def checkpoint(self) -> None:
        """Fold the WAL into the database file and truncate it (purged text leaves no copy in the WAL)."""
        self.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def version_of(self, record_id: str) -> int | None:
        """The stored version of a record (read inside the writer's transaction), or None when it is gone."""
        row = self.conn().execute("SELECT body FROM records WHERE id = ?", (record_id,)).fetchone()
        return int(json.loads(row[0])["version"]) if row else None

    def set_index_texts(self, conn: sqlite3.Connection, record_id: str, user_id: str, dense: str, lexical: str) -> None:
        """New index texts for a stored record; its vector becomes pending (stale)."""
        seq = conn.execute("SELECT seq FROM records WHERE id = ?", (record_id,)).fetchone()[0]
        conn.execute("UPDATE records SET dense_text = ?, index_state = 0 WHERE id = ?", (dense, record_id))
        conn.execute("DELETE FROM records_fts WHERE rowid = ?", (seq,))
        conn.execute(
            "INSERT INTO records_fts(rowid, content, owner) VALUES (?, ?, ?)", (seq, lexical, owner_token(user_id))
        )

    def user_counts(self) -> dict[str, int]:
        """Records per user (every status)."""
        return dict(self.conn().execute("SELECT user_id, count(*) FROM records GROUP BY user_id").fetchall())

    def history(self, record_id: str) -> list[MemoryChange]:
        return self._changes("WHERE record_id = ? ORDER BY seq", (record_id,))

    def activity(self, limit: int) -> list[MemoryChange]:
        """The newest `limit` history entries of no single record (forget_user, export), newest first."""
        return self._changes("WHERE record_id IS NULL ORDER BY seq DESC LIMIT ?", (limit,))

    def _changes(self, where: str, params: tuple[Any, ...]) -> list[MemoryChange]:
        rows = self.conn().execute(
            f"SELECT seq, record_id, op, actor, at, version, before, after, details FROM history {where}", params
        ).fetchall()
        return [
            MemoryChange(
                seq=seq,
                record_id=rid,
                op=ChangeOp(op),
                actor=actor,
                at=datetime.fromisoformat(at),
                version=version,
                before=json.loads(before) if before else None,
                after=json.loads(after) if after else None,
                details=json.loads(details),
            )
            for seq, rid, op, actor, at, version, before, after, details in rows
        ]

    def pending_index(self, limit: int) -> list[MemoryRecord]:
        rows = self.conn().execute(
            f"SELECT {_COLUMNS} FROM records WHERE index_state = 0 ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [load_row(row) for row in rows]

    def pending_among(self, ids: Sequence[str]) -> set[str]:
        """Those of `ids` whose records are still waiting for their vectors."""
        marks = ",".join("?" * len(ids))
        rows = self.conn().execute(f"SELECT id FROM records WHERE index_state = 0 AND id IN ({marks})", list(ids))
        return {row[0] for row in rows}

    def count(self) -> int:
        return int(self.conn().execute("SELECT count(*) FROM records").fetchone()[0])

    def all_ids(self) -> set[str]:
        return {row[0] for row in self.conn().execute("SELECT id FROM records")}

    def ids_by_user(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for user_id, rid in self.conn().execute("SELECT user_id, id FROM records"):
            out.setdefault(user_id, set()).add(rid)
        return out

    def blob_in_use(self, ref: str) -> bool:
        return self.conn().execute("SELECT 1 FROM records WHERE blob_ref = ? LIMIT 1", (ref,)).fetchone() is not None

    # -- writes (inside `transaction()`) --------------------------------------------------------
    def insert(
        self, conn: sqlite3.Connection, record: MemoryRecord, dense_text: str, lexical_text: str,
        content_hash: str | None = None,
    ) -> None:
        """A new record's row and its FTS text (`content_hash`: the record's, when the caller has it already)."""
        s = record.scope
        cur = conn.execute(
            "INSERT INTO records(id, user_id, agent_id, session_id, namespace, kind, status, content_hash, ts,"
            " blob_ref, access_count, last_accessed_at, dense_text, index_state, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
            (
                record.id, s.user_id, s.agent_id, s.session_id, s.namespace, record.kind.value,
                record.status.value, content_hash or record.content_hash(), record_ts(record), record.blob_ref,
                record.access_count, record.last_accessed_at.isoformat() if record.last_accessed_at else None,
                dense_text, dump_record(record),
            ),
        )
        conn.execute(
            "INSERT INTO records_fts(rowid, content, owner) VALUES (?, ?, ?)",
            (cur.lastrowid, lexical_text, owner_token(s.user_id)),
        )
        self._link(conn, record, cur.lastrowid)
        self._label(conn, record, cur.lastrowid)

    def _label(self, conn: sqlite3.Connection, record: MemoryRecord, seq: int | None, *, again: bool = False) -> None:
        """Index a stored record's metadata (`record_labels`); `again`: drop its previous rows first."""
        if seq is None:
            seq = conn.execute("SELECT seq FROM records WHERE id = ?", (record.id,)).fetchone()[0]
        if again:
            conn.execute("DELETE FROM record_labels WHERE seq = ?", (seq,))
        conn.executemany(
            "INSERT OR IGNORE INTO record_labels(key, element, type, value, seq) VALUES (?, ?, ?, ?, ?)",
            [(*row, seq) for row in label_rows(record.metadata)],
        )

    def _link(self, conn: sqlite3.Connection, record: MemoryRecord, seq: int | None, *, again: bool = False) -> None:
        """Index the ids a stored record names (`linking` reads them); `again`: drop its previous links first."""
        if seq is None:
            seq = conn.execute("SELECT seq FROM records WHERE id = ?", (record.id,)).fetchone()[0]
        if again:
            conn.execute("DELETE FROM record_links WHERE seq = ?", (seq,))
        targets = {*record.source_ids, *([record.superseded_by] if record.superseded_by else [])}
        conn.executemany("INSERT OR IGNORE INTO record_links(target, seq) VALUES (?, ?)", [(t, seq) for t in targets])

    def replace(
        self, conn: sqlite3.Connection, record: MemoryRecord, texts: tuple[str, str] | None = None
    ) -> None:
        """Rewrite a record's row; with `texts`, also its index texts, and its vector becomes pending (stale)."""
        conn.execute(
            "UPDATE records SET kind = ?, status = ?, content_hash = ?, ts = ?, blob_ref = ?, body = ? WHERE id = ?",
            (record.kind.value, record.status.value, record.content_hash(), record_ts(record), record.blob_ref,
             dump_record(record), record.id),
        )
        seq = conn.execute("SELECT seq FROM records WHERE id = ?", (record.id,)).fetchone()[0]
        self._link(conn, record, seq, again=True)
        self._label(conn, record, seq, again=True)
        if texts is not None:
            self.set_index_texts(conn, record.id, record.scope.user_id, *texts)

    def remove(self, conn: sqlite3.Connection, record_ids: Sequence[str]) -> None:
        """Hard delete: row, FTS text, and history content; the vector id goes to the outbox."""
        for rid in record_ids:
            row = conn.execute("SELECT seq, user_id FROM records WHERE id = ?", (rid,)).fetchone()
            if row is None:
                continue
            seq, user_id = row
            conn.execute("DELETE FROM records_fts WHERE rowid = ?", (seq,))
            conn.execute("DELETE FROM records WHERE seq = ?", (seq,))
            conn.execute("DELETE FROM record_links WHERE seq = ?", (seq,))
            conn.execute("DELETE FROM record_labels WHERE seq = ?", (seq,))
            conn.execute("UPDATE history SET before = NULL, after = NULL WHERE record_id = ?", (rid,))
            conn.execute("INSERT OR IGNORE INTO vector_outbox(id, user_id) VALUES (?, ?)", (rid, user_id))

    def set_dense_texts(self, items: Sequence[tuple[str, str]]) -> None:
        """(id, dense text) of records about to get the vectors made from these texts."""
        with self.unsynced_transaction() as conn:
            conn.executemany("UPDATE records SET dense_text = ? WHERE id = ?", [(text, rid) for rid, text in items])

    def mark_indexed(self, ids: Sequence[str]) -> None:
        with self.unsynced_transaction() as conn:
            conn.executemany("UPDATE records SET index_state = 1 WHERE id = ?", [(i,) for i in ids])

    def mark_all_pending(self, conn: sqlite3.Connection, ids: Sequence[str] | None = None) -> None:
        if ids is None:
            conn.execute("UPDATE records SET index_state = 0")
        else:
            conn.executemany("UPDATE records SET index_state = 0 WHERE id = ?", [(i,) for i in ids])

    def outbox(self) -> list[tuple[str, str | None]]:
        """(id, user_id) of vectors to remove; user_id is None for entries written before the per-user index."""
        return [(row[0], row[1]) for row in self.conn().execute("SELECT id, user_id FROM vector_outbox")]

    def clear_outbox(self, ids: Sequence[str]) -> None:
        with self.write_lock, self.transaction() as conn:
            conn.executemany("DELETE FROM vector_outbox WHERE id = ?", [(i,) for i in ids])

    def touch(self, ids: Sequence[str], when: datetime) -> None:
        """Count an access of each record (no history entry: reading is not a change)."""
        if not ids:
            return
        with self.unsynced_transaction() as conn:  # access counters need no fsync per search
            conn.executemany(
                "UPDATE records SET access_count = access_count + 1, last_accessed_at = ? WHERE id = ?",
                [(as_utc(when).isoformat(), i) for i in ids],
            )

    def log(
        self,
        conn: sqlite3.Connection,
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
        conn.execute(
            "INSERT INTO history(record_id, user_id, op, actor, at, version, before, after, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record_id, user_id, op.value, actor, _now().isoformat(), version,
                before.model_dump_json() if before else None,
                after.model_dump_json() if after else None,
                json.dumps(details or {}),
            ),
        )
