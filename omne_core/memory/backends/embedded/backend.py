"""The embedded backend: SQLite (records, history, FTS5) and chroma (vectors) under the data directory.

One process per data directory (`lock.py`). Each async method runs its synchronous SQLite/chroma code in a
worker thread. A change set commits to SQLite first (durable when `commit` returns), then chroma is written, in
commit order but outside SQLite's write lock (`turns.py`: the next commit and searches' access counters do not
wait for chroma's disk writes); a vector that could not be written leaves its record pending and sets
`index_dirty`, and a vector that could not be removed stays in the outbox (`repair.py`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ....config import OmneSettings
from ....records import MemoryRecord, MemoryScope, MemoryStatus
from ...errors import MemoryNotFoundError, MemoryValidationError
from ...filters import RecordFilter
from ...results import ChangeOp, MemoryChange
from ..base import (
    Candidates,
    ChangeSet,
    CommitResult,
    IndexCheck,
    InsertOutcome,
    NamedVectorSpace,
    RecordCounts,
    UserCounts,
    VectorWrite,
    VersionConflict,
    superseded_version,
)
from . import lock, repair
from .chroma import ChromaIndex, by_user, collection_name
from .database import SCHEMA_VERSION, Database
from .retrieval import CandidateRetriever
from .turns import Turns

logger = logging.getLogger(__name__)

_LAYOUT = "#per-user"  # marks the index layout in the `collection` meta value
T = TypeVar("T")


class EmbeddedBackend:
    """SQLite + FTS5 + chroma (embedded `PersistentClient`, or a `chroma run` server with `chroma.mode = http`)."""

    name = "embedded"

    def __init__(self, db: Database, vectors: ChromaIndex, settings: OmneSettings, lock_key: Path) -> None:
        self.db, self.vectors, self.settings = db, vectors, settings
        self.retriever = CandidateRetriever(db, vectors, settings.memory)
        self._lock_key: Path | None = lock_key
        self._dirty = False
        self._turns = Turns()  # vector index writes in commit order, outside the write lock

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    async def open(cls, settings: OmneSettings, space: NamedVectorSpace) -> EmbeddedBackend:
        """Open (creating if needed) the data directory's store; a new embedding model or chroma store (or an
        older index layout) marks every record pending, so the store re-embeds them."""
        return await asyncio.to_thread(cls._open_sync, settings, space.name)

    @classmethod
    def _open_sync(cls, settings: OmneSettings, embedder_name: str) -> EmbeddedBackend:
        data_dir = Path(settings.data_dir)
        lock_key = lock.acquire(data_dir)  # one process per data directory
        db: Database | None = None
        try:
            db = Database(data_dir / settings.memory.sqlite_file)
            with db.write_lock, db.transaction() as conn:
                store_id = db.get_meta("store_id")
                if store_id is None:
                    store_id = uuid.uuid4().hex
                    db.set_meta(conn, "store_id", store_id)
            name = collection_name(settings.chroma.collection_prefix, store_id, embedder_name)
            vectors = ChromaIndex(settings, name)
            layout = f"{name}{_LAYOUT}"
            previous = db.get_meta("collection")
            if previous != layout:  # new store, new embedding model, new chroma or an older index layout: rebuild
                if previous and not previous.endswith(_LAYOUT):
                    vectors.drop_collection(previous)  # the single collection of the earlier layout
                with db.write_lock, db.transaction() as conn:
                    db.mark_all_pending(conn)
                    db.set_meta(conn, "collection", layout)
                    db.set_meta(conn, "embedder", embedder_name)
        except BaseException:
            if db is not None:
                db.close()
            lock.release(lock_key)
            raise
        return cls(db, vectors, settings, lock_key)

    async def close(self) -> None:
        await asyncio.to_thread(self._close_sync)

    def _close_sync(self) -> None:
        self.vectors.close()
        self.db.close()
        if self._lock_key is not None:
            lock.release(self._lock_key)
            self._lock_key = None

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(function, *args)

    # -- migrations ----------------------------------------------------------------------------
    async def schema_version(self) -> str:
        return await self._run(lambda: self.db.get_meta("schema_version") or SCHEMA_VERSION)

    # -- reads ---------------------------------------------------------------------------------
    async def get(self, record_id: str) -> MemoryRecord | None:
        return await self._run(self.db.get, record_id)

    async def get_many(self, ids: Sequence[str], where: RecordFilter | None = None) -> dict[str, MemoryRecord]:
        return await self._run(self.db.get_many, ids, where)

    async def list_records(
        self, where: RecordFilter, limit: int | None, oldest_first: bool = False, after: str | None = None
    ) -> list[MemoryRecord]:
        return await self._run(self.db.list_records, where, limit, oldest_first, after)

    async def linking(self, record_id: str) -> list[MemoryRecord]:
        return await self._run(self.db.linking, record_id)

    async def user_counts(self) -> list[UserCounts]:
        users: dict[str, UserCounts] = {}
        for user_id, kind, status, n in await self._run(self.db.user_kind_counts):
            counts = users.setdefault(user_id, UserCounts(user_id))
            counts.by_kind[kind] = counts.by_kind.get(kind, 0) + n
            counts.by_status[status] = counts.by_status.get(status, 0) + n
        return [users[user_id] for user_id in sorted(users)]

    async def ids_starting(self, prefix: str, where: RecordFilter, limit: int) -> list[str]:
        return await self._run(self.db.ids_starting, prefix, where, limit)

    async def find_duplicates(self, records: Sequence[MemoryRecord], hashes: Sequence[str]) -> list[MemoryRecord | None]:
        return await self._run(self.db.find_duplicates, records, hashes)

    async def previous_in_session(self, record: MemoryRecord, limit: int) -> list[MemoryRecord]:
        return await self._run(self.db.previous_in_session, record, limit)

    async def next_in_session(self, record: MemoryRecord, limit: int) -> list[MemoryRecord]:
        return await self._run(self.db.next_in_session, record, limit)

    async def history(self, record_id: str) -> list[MemoryChange]:
        return await self._run(self.db.history, record_id)

    async def activity(self, limit: int) -> list[MemoryChange]:
        return await self._run(self.db.activity, limit)

    async def counts(self, where: RecordFilter) -> RecordCounts:
        by_kind, by_status, pending, blobs = await self._run(self.db.counts, where)
        return RecordCounts(by_kind=by_kind, by_status=by_status, pending_index=pending, blobs=blobs)

    async def blob_in_use(self, ref: str) -> bool:
        return await self._run(self.db.blob_in_use, ref)

    async def touch(self, ids: Sequence[str], when: datetime) -> None:
        await self._run(self.db.touch, ids, when)

    # -- search --------------------------------------------------------------------------------
    async def dense(self, embedding: Sequence[float], where: RecordFilter, n: int) -> Candidates:
        return await self._run(self.retriever.dense, embedding, where, n)

    async def lexical(self, terms: Sequence[str], where: RecordFilter, n: int) -> Candidates:
        return await self._run(self.retriever.lexical, terms, where, n)

    async def embeddings(self, user_id: str, ids: Sequence[str]) -> dict[str, list[float]]:
        return await self._run(self.vectors.get_embeddings, user_id, ids)

    # -- the vector index ----------------------------------------------------------------------
    @property
    def index_dirty(self) -> bool:
        return self._dirty

    def _vector_turn(self) -> AbstractContextManager[None]:
        """The next turn to write the vector index (after every commit so far has written its vectors)."""
        with self.db.write_lock:
            ticket = self._turns.take()
        return self._turns.turn(ticket)

    def _check_index_sync(self, full: bool) -> IndexCheck:
        with self._vector_turn():
            return repair.check_index(self.db, self.vectors, full)

    async def check_index(self, full: bool) -> IndexCheck:
        result = await self._run(self._check_index_sync, full)
        self._dirty = False
        return result

    async def pending_vectors(self, limit: int) -> list[MemoryRecord]:
        return await self._run(self.db.pending_index, limit)

    async def write_vectors(self, items: Sequence[VectorWrite]) -> None:
        await self._run(self._write_vectors_sync, items)

    def _write_vectors_sync(self, items: Sequence[VectorWrite]) -> None:
        with self._vector_turn():  # after every commit so far has written its vectors: read what is still pending
            ids = [item.record_id for item in items]
            records, pending = self.db.get_many(ids), self.db.pending_among(ids)
            present = [i for i in items if i.record_id in pending and (r := records.get(i.record_id)) and r.version == i.version]
            self.db.set_dense_texts([(item.record_id, item.dense_text) for item in present])
            self._sync_vectors([records[i.record_id] for i in present], [i.embedding for i in present], strict=True)

    def _sync_vectors(self, records: Sequence[MemoryRecord], embeddings: Sequence[Sequence[float]], *, strict: bool = False) -> None:
        """Write the vectors of records already committed; on failure leave them pending (repaired later)."""
        if not records:
            return
        try:
            self.vectors.upsert(records, embeddings)
            self.db.mark_indexed([r.id for r in records])
        except Exception as exc:  # the records are safe in SQLite; the index is repaired later
            if strict:
                raise
            logger.warning("vector index write failed (%s); %d records stay pending", exc, len(records))
            self._dirty = True

    # -- writes --------------------------------------------------------------------------------
    async def commit(self, changes: ChangeSet) -> CommitResult:
        return await self._run(self._commit_sync, changes)

    def _commit_sync(self, changes: ChangeSet) -> CommitResult:
        db = self.db
        result = CommitResult()
        now = datetime.now(UTC)
        vectors: list[tuple[MemoryRecord, Sequence[float]]] = []
        with db.write_lock:
            with db.transaction() as conn:
                self._insert(conn, changes, result, vectors)
                for supersession in changes.supersessions:
                    new = supersession.new if isinstance(supersession.new, MemoryRecord) else result.inserted[supersession.new].record
                    done: list[str] = []
                    for old_id in supersession.old_ids:
                        old = db.get(old_id)
                        if old is None:
                            raise MemoryNotFoundError(old_id)  # rolls back the whole change set
                        if old.id == new.id or old.status is not MemoryStatus.ACTIVE:
                            continue
                        self._supersede(conn, old, new, changes.actor, now)
                        done.append(old.id)
                    result.superseded.append(done)
                for replacement in changes.replacements:
                    record = replacement.record
                    if db.version_of(record.id) != replacement.expected_version:
                        raise VersionConflict(record.id)
                    db.replace(conn, record, (replacement.texts.dense, replacement.texts.lexical) if replacement.texts else None)
                    if replacement.texts is not None and replacement.embedding is not None:
                        vectors.append((record, replacement.embedding))
                for item in changes.reindexed:
                    current = db.get(item.record_id)
                    if current is None:
                        continue  # removed meanwhile: nothing to index
                    db.set_index_texts(conn, current.id, current.scope.user_id, item.texts.dense, item.texts.lexical)
                    if item.embedding is not None:
                        vectors.append((current, item.embedding))
                if changes.removals:
                    db.remove(conn, [r.id for r in changes.removals])
                for entry in changes.history:
                    db.log(conn, entry.op, entry.actor, entry.record_id, entry.user_id, version=entry.version,
                           before=entry.before, after=entry.after, details=entry.details)  # fmt: skip
            self.retriever.records_added([o.record.scope.user_id for o in result.inserted if o.created])
            ticket = self._turns.take()  # taken in commit order; waited for after the write lock is released
        with self._turns.turn(ticket):
            if vectors:
                self._sync_vectors([r for r, _ in vectors], [v for _, v in vectors])
            if changes.removals:
                self._remove_vectors(changes.removals)
        return result

    def _insert(
        self, conn: sqlite3.Connection, changes: ChangeSet, result: CommitResult,
        vectors: list[tuple[MemoryRecord, Sequence[float]]],
    ) -> None:  # fmt: skip
        """Insert the new records; one whose id or content a concurrent writer stored meanwhile resolves to it."""
        db, inserts = self.db, changes.inserts
        if not inserts:
            return
        now_stored = db.get_many([item.record.id for item in inserts])
        now_duplicates = db.find_duplicates([item.record for item in inserts], [item.content_hash for item in inserts])
        for item, duplicate in zip(inserts, now_duplicates, strict=True):
            record = item.record
            if duplicate is not None or record.id in now_stored:
                result.inserted.append(InsertOutcome(duplicate or now_stored[record.id], False))
                continue
            db.insert(conn, record, item.texts.dense, item.texts.lexical, item.content_hash)
            db.log(conn, changes.insert_op, changes.actor, record.id, record.scope.user_id, version=record.version, after=record)
            now_stored[record.id] = record
            result.inserted.append(InsertOutcome(record, True))
            if item.embedding is not None:
                vectors.append((record, item.embedding))

    def _supersede(self, conn: sqlite3.Connection, old: MemoryRecord, new: MemoryRecord, actor: str, now: datetime) -> None:
        if old.scope.user_id != new.scope.user_id:
            raise MemoryValidationError("a record can only be superseded by a record of the same user")
        updated = superseded_version(old, new.id, now)
        self.db.replace(conn, updated)
        self.db.log(conn, ChangeOp.SUPERSEDE, actor, old.id, old.scope.user_id, version=updated.version,
                    before=old, after=updated, details={"superseded_by": new.id})  # fmt: skip

    def _remove_vectors(self, records: Sequence[MemoryRecord]) -> None:
        """After a hard delete: drop the records' vectors (their ids wait in the outbox if chroma fails)."""
        self.retriever.records_removed()
        try:
            for user_id, group in by_user(records).items():
                self.vectors.delete(user_id, [r.id for r in group])
            self.db.clear_outbox([r.id for r in records])
        except Exception as exc:
            logger.warning("vector delete failed (%s); retried on next open", exc)
            self._dirty = True

    async def forget_user(self, user_id: str, actor: str) -> list[MemoryRecord]:
        return await self._run(self._forget_user_sync, user_id, actor)

    def _forget_user_sync(self, user_id: str, actor: str) -> list[MemoryRecord]:
        db = self.db
        with db.write_lock:
            records = db.list_records(RecordFilter.build(MemoryScope(user_id=user_id), include_inactive=True), None)
            with db.transaction() as conn:
                db.remove(conn, [r.id for r in records])
                db.forget_history(conn, user_id)
                db.log(conn, ChangeOp.FORGET_USER, actor, None, None, details={"records": len(records)})
            self.retriever.records_removed()
            ticket = self._turns.take()
        with self._turns.turn(ticket):  # after the vector writes of earlier commits (they might recreate it)
            try:
                self.vectors.drop_user(user_id)  # also when the user had no records left (an orphan collection)
                db.clear_outbox([r.id for r in records])
            except Exception as exc:  # repaired on the next open: a collection without records is emptied
                logger.warning("dropping the user's vector collection failed (%s)", exc)
            with db.write_lock:  # no commit in between: the purged text leaves no copy in the WAL
                db.checkpoint()
        return records
