"""`MemoryStore`: the async operators over the record of truth (SQLite) and the dense index (chroma).

Writes commit to SQLite first (durable when `add` returns), then update chroma; a record whose vector
is not yet written stays marked and is (re-)embedded on the next open, so a crash between the two
never loses or orphans anything.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import hashlib
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from ..blobs import BlobStore
from ..config import OmneSettings, load_settings
from ..embeddings import Embedder, build_embedder
from ..records import MemoryKind, MemoryRecord, MemoryScope, MemoryStatus
from . import data_dir_lock, indexing, ranking
from .database import Database
from .errors import MemoryImportError, MemoryNotFoundError, MemoryValidationError, StoreNotOpenError
from .filters import RecordFilter, ScopeArg, as_utc, normalize_scopes, scope_contains
from .results import ChangeOp, ImportResult, MemoryChange, MemoryStats, SearchHit
from .retrieval import CandidateRetriever
from .store_config import StoreConfig
from .vectors import VectorIndex, by_user, collection_name

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "omne-memory/1"
_REPAIR_BATCH = 256
_LAYOUT = "#per-user"  # marks the index layout in the `collection` meta value
_UNSET: Any = object()


def _now() -> datetime:
    return datetime.now(UTC)


class _Added(NamedTuple):
    record: MemoryRecord  # the stored record (an existing one for a duplicate)
    created: bool
    superseded: list[str]


def _stored(resolved: Sequence[Any], i: int) -> MemoryRecord:
    """The stored record of input `i` while `_add_sync` resolves duplicates (an int points at an earlier input)."""
    item = resolved[i]
    return resolved[item][0] if isinstance(item, int) else item[0]


class MemoryStore:
    """Scoped, versioned long-term memory with hybrid (dense + BM25) search. Open with `await MemoryStore.open()`."""

    def __init__(
        self,
        settings: OmneSettings | None = None,
        *,
        embedder: Embedder | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        self.embedder: Embedder = embedder or build_embedder(self.settings.embedding)
        self.blobs = blobs or BlobStore(self.settings.blob_dir)
        self._db: Database | None = None
        self._vectors: VectorIndex | None = None
        self._retriever: CandidateRetriever | None = None
        self._vectors_dirty = False
        self._lock_key: Path | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    async def open(
        cls,
        settings: OmneSettings | None = None,
        *,
        embedder: Embedder | None = None,
        blobs: BlobStore | None = None,
    ) -> MemoryStore:
        """Open (creating if needed) the store under `settings.data_dir`, repairing the vector index."""
        store = cls(settings, embedder=embedder, blobs=blobs)
        await asyncio.to_thread(store._open_sync)
        return store

    async def __aenter__(self) -> MemoryStore:
        if self._db is None:
            await asyncio.to_thread(self._open_sync)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await asyncio.to_thread(self._close_sync)

    @property
    def is_open(self) -> bool:
        return self._db is not None

    def open_config(self) -> StoreConfig:
        """What opens this same store again (`store_access.open_store`), secrets left out."""
        return StoreConfig.from_settings(self.settings).without_secrets()

    def _open_sync(self) -> None:
        data_dir = Path(self.settings.data_dir)
        self._lock_key = data_dir_lock.acquire(data_dir)  # one process per data directory
        try:
            self._open_locked(data_dir)
        except BaseException:
            self._close_sync()  # whatever was opened, and the lock
            raise

    def _release_lock(self) -> None:
        if self._lock_key is not None:
            data_dir_lock.release(self._lock_key)
            self._lock_key = None

    def _open_locked(self, data_dir: Path) -> None:
        db = Database(data_dir / self.settings.memory.sqlite_file)
        with db.write_lock, db.transaction() as conn:
            store_id = db.get_meta("store_id")
            if store_id is None:
                store_id = uuid.uuid4().hex
                db.set_meta(conn, "store_id", store_id)
        name = collection_name(self.settings.chroma.collection_prefix, store_id, self.embedder.name)
        try:
            vectors = VectorIndex(self.settings, name)
        except Exception:
            db.close()
            raise
        layout = f"{name}{_LAYOUT}"
        previous = db.get_meta("collection")
        if previous != layout:  # new store, new embedding model, new chroma or an older index layout: rebuild
            if previous and not previous.endswith(_LAYOUT):
                vectors.drop_collection(previous)  # the single collection of the earlier layout
            with db.write_lock, db.transaction() as conn:
                db.mark_all_pending(conn)
                db.set_meta(conn, "collection", layout)
                db.set_meta(conn, "embedder", self.embedder.name)
        self._db, self._vectors = db, vectors
        self._retriever = CandidateRetriever(db, vectors, self.embedder, self.settings.memory)
        self._repair_sync(full=self.settings.memory.verify_index_on_open)

    def _close_sync(self) -> None:
        if self._vectors is not None:
            self._vectors.close()
        if self._db is not None:
            self._db.close()
        self._db = self._vectors = self._retriever = None
        self._release_lock()

    @property
    def db(self) -> Database:
        if self._db is None:
            raise StoreNotOpenError()
        return self._db

    @property
    def vectors(self) -> VectorIndex:
        if self._vectors is None:
            raise StoreNotOpenError()
        return self._vectors

    @property
    def retriever(self) -> CandidateRetriever:
        if self._retriever is None:
            raise StoreNotOpenError()
        return self._retriever

    # -- index consistency ---------------------------------------------------------------------
    async def repair(self, *, full: bool = True) -> None:
        """Make the vector index agree with SQLite (run on open): drop orphan vectors, (re-)embed missing ones.

        `full=False` compares id sets only when the counts differ (pending and outbox entries are always applied).
        """
        await asyncio.to_thread(self._repair_sync, full)

    def _repair_sync(self, full: bool = False) -> None:
        db, vectors = self.db, self.vectors
        with db.write_lock:
            outbox = db.outbox()
            if outbox:
                users = None
                for rid, user_id in outbox:
                    if user_id is None:  # written before the per-user layout: try every user
                        users = users if users is not None else vectors.users()
                        for user in users:
                            vectors.delete(user, [rid])
                    else:
                        vectors.delete(user_id, [rid])
                db.clear_outbox([rid for rid, _ in outbox])
            if full or vectors.count() != db.count():
                sql_ids = db.ids_by_user()
                missing: list[str] = []
                for user in sorted(set(sql_ids) | set(vectors.users())):
                    chroma_ids, ids = vectors.ids(user), sql_ids.get(user, set())
                    orphans = sorted(chroma_ids - ids)
                    if orphans:
                        logger.info("removing %d orphan vectors of one user", len(orphans))
                        vectors.delete(user, orphans)
                    missing.extend(sorted(ids - chroma_ids))
                if missing:
                    with db.transaction() as conn:
                        db.mark_all_pending(conn, missing)
            while batch := db.pending_index(_REPAIR_BATCH):
                texts = [dense for dense, _, _ in batch]
                records = [record for _, _, record in batch]
                vectors.upsert(records, self.embedder.embed(texts))
                db.mark_indexed([r.id for r in records])
            self._vectors_dirty = False

    def _sync_vectors(self, records: Sequence[MemoryRecord], embeddings: Sequence[Sequence[float]]) -> None:
        """Write the vectors of records already committed; on failure leave them pending (repaired later)."""
        if not records:
            return
        try:
            self.vectors.upsert(records, embeddings)
            self.db.mark_indexed([r.id for r in records])
        except Exception as exc:  # the records are safe in SQLite; the index is repaired later
            logger.warning("vector index write failed (%s); %d records stay pending", exc, len(records))
            self._vectors_dirty = True

    def _repair_if_dirty(self) -> None:
        if self._vectors_dirty:
            try:
                self._repair_sync()
            except Exception as exc:
                logger.warning("vector index repair failed: %s", exc)

    # -- validation ----------------------------------------------------------------------------
    def _validate(self, records: Any) -> list[MemoryRecord]:
        if isinstance(records, MemoryRecord):
            records = [records]
        if not isinstance(records, list | tuple):
            raise MemoryValidationError(f"expected a MemoryRecord or a list of them, got {type(records).__name__}")
        out = []
        for i, record in enumerate(records):
            try:
                out.append(self._validate_one(record))
            except MemoryValidationError as exc:
                raise MemoryValidationError(f"record {i}: {exc}") from None
        return out

    def _validate_one(self, record: Any) -> MemoryRecord:
        if not isinstance(record, MemoryRecord):
            raise MemoryValidationError(f"expected MemoryRecord, got {type(record).__name__}")
        try:  # re-validate: fields may have been assigned after construction
            record = MemoryRecord.model_validate(record.model_dump(warnings=False))
        except ValidationError as exc:
            raise MemoryValidationError(str(exc)) from None
        if not record.text.strip() and not record.blob_ref:
            raise MemoryValidationError("text is empty (and there is no blob)")
        limit = self.settings.memory.max_text_chars
        if len(record.text) > limit:
            raise MemoryValidationError(f"text has {len(record.text)} characters, more than max_text_chars={limit}")
        if record.blob_ref is not None:
            try:
                present = self.blobs.exists(record.blob_ref)
            except ValueError as exc:
                raise MemoryValidationError(str(exc)) from None
            if not present:
                raise MemoryValidationError(f"blob {record.blob_ref} is not in the blob store")
        try:
            json.dumps(record.payload)
            json.dumps(record.metadata)
        except (TypeError, ValueError) as exc:
            raise MemoryValidationError(f"payload/metadata must be JSON-serialisable: {exc}") from None
        return record.model_copy(
            update={
                "created_at": as_utc(record.created_at),
                "updated_at": as_utc(record.updated_at),
                "event_time": as_utc(record.event_time) if record.event_time else None,
            }
        )

    @staticmethod
    def _check_id(record_id: Any) -> str:
        if not isinstance(record_id, str) or not record_id:
            raise MemoryValidationError(f"record id must be a non-empty string, got {record_id!r}")
        return record_id

    # -- add -----------------------------------------------------------------------------------
    async def add(self, records: MemoryRecord | Sequence[MemoryRecord], *, actor: str = "user") -> list[MemoryRecord]:
        """Store one record or a batch; an exact duplicate in the same scope returns the existing record."""
        self._check_batch(records)
        result = await asyncio.to_thread(self._add_sync, records, actor, ChangeOp.ADD)
        return [outcome.record for outcome in result]

    async def add_superseding(
        self, items: Sequence[tuple[MemoryRecord, Sequence[str]]], *, actor: str = "user"
    ) -> list[tuple[MemoryRecord, list[str]]]:
        """Add records, each superseding the records it replaces, in one transaction (all or nothing).

        Returns each stored record with the ids it superseded (records already inactive are left as they are).
        An unknown id, or one of another user, rejects the whole call and nothing is written.
        """
        if not isinstance(items, list | tuple) or not all(isinstance(i, tuple) and len(i) == 2 for i in items):
            raise MemoryValidationError("items must be a list of (MemoryRecord, [ids it supersedes]) pairs")
        records = [record for record, _ in items]
        self._check_batch(records)
        replaced = [[self._check_id(rid) for rid in ids] for _, ids in items]
        result = await asyncio.to_thread(self._add_sync, records, actor, ChangeOp.ADD, replaced)
        return [(outcome.record, outcome.superseded) for outcome in result]

    def _check_batch(self, records: Any) -> None:
        if isinstance(records, list | tuple) and len(records) > self.settings.memory.max_batch:
            raise MemoryValidationError(f"batch of {len(records)} records exceeds max_batch={self.settings.memory.max_batch}")

    def _add_sync(
        self, records: Any, actor: str, op: ChangeOp, supersedes: Sequence[Sequence[str]] | None = None
    ) -> list[_Added]:
        """Each input's stored record, whether it was newly created, and the ids it superseded."""
        records = self._validate(records)
        db = self.db
        self._repair_if_dirty()
        hashes = [record.content_hash() for record in records]
        resolved: list[tuple[MemoryRecord, bool] | int | None] = [None] * len(records)
        first_of: dict[tuple[Any, str], int] = {}
        first_with_id: dict[str, int] = {}
        stored = db.get_many([record.id for record in records])
        duplicates = db.find_duplicates(records, hashes)
        fresh: list[int] = []
        for i, record in enumerate(records):
            key = (record.scope, hashes[i])
            if key in first_of:
                resolved[i] = first_of[key]
                continue
            earlier, existing = first_with_id.get(record.id), stored.get(record.id)
            if op is not ChangeOp.IMPORT and (
                earlier is not None or (existing is not None and existing.content_hash() != hashes[i])
            ):
                raise MemoryValidationError(f"record {i}: id {record.id!r} already exists with other content")
            if earlier is not None:  # an import: the first line with an id wins
                resolved[i] = earlier
                continue
            prior = existing or duplicates[i]
            if prior is not None:
                resolved[i] = (prior, False)
                continue
            first_of[key] = first_with_id[record.id] = i
            fresh.append(i)

        texts = self._index_texts([records[i] for i in fresh])
        embeddings = self.embedder.embed([dense for dense, _ in texts]) if fresh else []

        created: list[MemoryRecord] = []
        superseded: list[list[str]] = [[] for _ in records]
        with db.write_lock:
            with db.transaction() as conn:
                # A concurrent writer may have added the same record or content meanwhile.
                now_stored = db.get_many([records[i].id for i in fresh])
                now_duplicates = db.find_duplicates([records[i] for i in fresh], [hashes[i] for i in fresh])
                for i, (dense, lexical), duplicate in zip(fresh, texts, now_duplicates, strict=True):
                    record = records[i]
                    if duplicate is not None or record.id in now_stored:
                        resolved[i] = (duplicate or now_stored[record.id], False)
                        continue
                    db.insert(conn, record, dense, lexical, hashes[i])
                    db.log(conn, op, actor, record.id, record.scope.user_id, version=record.version, after=record)
                    resolved[i] = (record, True)
                    created.append(record)
                for i, old_ids in enumerate(supersedes or ()):
                    new = _stored(resolved, i)
                    for old_id in old_ids:
                        old = db.get(old_id)
                        if old is None:
                            raise MemoryNotFoundError(old_id)  # rolls back the whole call
                        if old.id == new.id or old.status is not MemoryStatus.ACTIVE:
                            continue
                        self._mark_superseded(conn, old, new, actor)
                        superseded[i].append(old.id)
            self.retriever.records_added([record.scope.user_id for record in created])
            by_id = {records[i].id: e for i, e in zip(fresh, embeddings, strict=True)}
            self._sync_vectors(created, [by_id[r.id] for r in created])
        out: list[_Added] = []
        for i, item in enumerate(resolved):
            created_now = not isinstance(item, int) and item is not None and item[1]
            out.append(_Added(_stored(resolved, i), created_now, superseded[i]))
        return out

    def _mark_superseded(self, conn: Any, old: MemoryRecord, new: MemoryRecord, actor: str) -> MemoryRecord:
        """Inside a transaction: `old` becomes superseded by `new` (a new version of it, logged)."""
        if old.scope.user_id != new.scope.user_id:
            raise MemoryValidationError("a record can only be superseded by a record of the same user")
        updated = old.model_copy(
            update={"status": MemoryStatus.SUPERSEDED, "superseded_by": new.id,
                    "version": old.version + 1, "updated_at": _now()}
        )
        self.db.replace(conn, updated)
        self.db.log(conn, ChangeOp.SUPERSEDE, actor, old.id, old.scope.user_id, version=updated.version,
                    before=old, after=updated, details={"superseded_by": new.id})
        return updated

    def _index_texts(self, records: Sequence[MemoryRecord]) -> list[tuple[str, str]]:
        """Index texts for new records; each sees up to CONTEXT_RECORDS earlier records of its session."""
        n = indexing.CONTEXT_RECORDS
        sessions: dict[MemoryScope, list[MemoryRecord]] = {}
        out = []
        for record in records:
            previous: list[MemoryRecord] = []
            if n > 0 and record.scope.session_id is not None:
                if record.scope not in sessions:
                    sessions[record.scope] = self.db.previous_in_session(record, n)
                previous = sessions[record.scope][-n:]
                sessions[record.scope].append(record)
            indexed = indexing.index_text(record, previous)
            out.append((indexed.dense, indexed.lexical))
        return out

    def _followers(self, records: Sequence[MemoryRecord]) -> list[MemoryRecord]:
        """Stored records whose index context may contain one of `records` (the next turns of their sessions)."""
        skip = {r.id for r in records}
        out: dict[str, MemoryRecord] = {}
        for record in records:
            for follower in self.db.next_in_session(record, indexing.CONTEXT_RECORDS):
                if follower.id not in skip:
                    out[follower.id] = follower
        return list(out.values())

    def _reindex(self, conn: Any, records: Sequence[MemoryRecord]) -> list[tuple[str, str]]:
        """Recompute and store the index texts of stored records, each with its own predecessors (in `conn`)."""
        texts = [self._index_texts([record])[0] for record in records]
        for record, pair in zip(records, texts, strict=True):
            self.db.replace(conn, record, pair)
        return texts

    def _embed_refreshed(self, records: Sequence[MemoryRecord], texts: Sequence[tuple[str, str]]) -> None:
        """Re-embed re-indexed records; if that fails they stay pending and are repaired later."""
        if not records:
            return
        try:
            embeddings = self.embedder.embed([dense for dense, _ in texts])
        except Exception as exc:
            logger.warning("re-embedding %d re-indexed records failed (%s); they stay pending", len(records), exc)
            self._vectors_dirty = True
            return
        self._sync_vectors(records, embeddings)

    # -- read ----------------------------------------------------------------------------------
    async def get(self, record_id: str, scope: ScopeArg | None = None) -> MemoryRecord:
        """The record with this id; with `scope`, only if it lies in that scope. Raises MemoryNotFoundError."""
        return await asyncio.to_thread(self._get_sync, record_id, scope)

    def _get_sync(self, record_id: str, scope: ScopeArg | None) -> MemoryRecord:
        self._check_id(record_id)
        record = self.db.get(record_id)
        if record is None:
            raise MemoryNotFoundError(record_id)
        if scope is not None and not any(scope_contains(s, record.scope) for s in normalize_scopes(scope)):
            raise MemoryNotFoundError(record_id)
        return record

    async def list(
        self,
        scope: ScopeArg,
        *,
        kinds: Sequence[MemoryKind | str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = 100,
        include_inactive: bool = False,
        oldest_first: bool = False,
    ) -> builtins.list[MemoryRecord]:
        """Records of the scope(s), newest first (by event time, else learnt time)."""
        where = RecordFilter.build(scope, kinds, since, until, include_inactive)
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise MemoryValidationError(f"limit must be a positive integer or None, got {limit!r}")
        return await asyncio.to_thread(self.db.list_records, where, limit, oldest_first)

    async def search(
        self,
        query: str,
        scope: ScopeArg,
        *,
        kinds: Sequence[MemoryKind | str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10,
        include_inactive: bool = False,
        min_similarity: float | None = None,
    ) -> builtins.list[SearchHit]:
        """Hybrid search: dense + BM25 candidates fused; scope, kind, time and status are hard filters.

        `min_similarity` (-1..1) keeps only records whose cosine similarity to the query is known to reach it: a
        candidate the lexical side alone found is kept only if the dense side scored it too.
        """
        if not isinstance(query, str) or not query.strip():
            raise MemoryValidationError("query must be a non-empty string")
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise MemoryValidationError(f"limit must be an integer in 1..1000, got {limit!r}")
        if min_similarity is not None and (
            isinstance(min_similarity, bool) or not isinstance(min_similarity, int | float) or not -1 <= min_similarity <= 1
        ):
            raise MemoryValidationError(f"min_similarity must be a number in -1..1, got {min_similarity!r}")
        where = RecordFilter.build(scope, kinds, since, until, include_inactive)
        settings = self.settings.memory
        # The two candidate lists are independent: the query embedding and HNSW query run beside the BM25 query.
        dense, lexical = await asyncio.gather(
            asyncio.to_thread(self.retriever.dense, query, where, max(settings.dense_candidates, limit)),
            asyncio.to_thread(self.retriever.lexical, query, where, max(settings.lexical_candidates, limit)),
        )
        if min_similarity is not None:
            dense = [(rid, score) for rid, score in dense if score >= min_similarity]
            similar = {rid for rid, _ in dense}
            lexical = [(rid, score) for rid, score in lexical if rid in similar]
        return await asyncio.to_thread(self._rank_sync, query, dense, lexical, where, limit)

    def _rank_sync(
        self,
        query: str,
        dense: builtins.list[tuple[str, float]],
        lexical: builtins.list[tuple[str, float]],
        where: RecordFilter,
        limit: int,
    ) -> builtins.list[SearchHit]:
        """Fuse the candidates, count the accesses of the hits returned."""
        ids = list(dict.fromkeys([rid for rid, _ in dense] + [rid for rid, _ in lexical]))
        records = self.db.get_many(ids, where)  # the record of truth has the last word on every filter
        now = _now()
        hits = ranking.fuse(dense, lexical, records, self.settings.memory, now, query, limit=limit)
        self.db.touch([h.record.id for h in hits], now)
        for hit in hits:
            hit.record = hit.record.model_copy(
                update={"access_count": hit.record.access_count + 1, "last_accessed_at": now}
            )
        return hits

    async def history(self, record_id: str) -> builtins.list[MemoryChange]:
        """Every change of a record, oldest first (content is purged after a hard delete)."""
        self._check_id(record_id)
        changes = await asyncio.to_thread(self.db.history, record_id)
        if not changes:
            raise MemoryNotFoundError(record_id)
        return changes

    async def stats(self, scope: ScopeArg) -> MemoryStats:
        where = RecordFilter.build(scope, include_inactive=True)
        return await asyncio.to_thread(self._stats_sync, where)

    def _stats_sync(self, where: RecordFilter) -> MemoryStats:
        fragment, params = where.sql("r")
        conn = self.db.conn()
        by_kind = dict(conn.execute(f"SELECT kind, count(*) FROM records r WHERE {fragment} GROUP BY kind", params).fetchall())
        by_status = dict(conn.execute(f"SELECT status, count(*) FROM records r WHERE {fragment} GROUP BY status", params).fetchall())
        pending = conn.execute(f"SELECT count(*) FROM records r WHERE {fragment} AND index_state = 0", params).fetchone()[0]
        blobs = conn.execute(
            f"SELECT count(DISTINCT blob_ref) FROM records r WHERE {fragment} AND blob_ref IS NOT NULL", params
        ).fetchone()[0]
        return MemoryStats(
            total=sum(by_status.values()), by_kind=by_kind, by_status=by_status,
            pending_index=pending, blobs=blobs, embedder=self.embedder.name,
        )

    # -- change --------------------------------------------------------------------------------
    async def update(
        self,
        record_id: str,
        *,
        text: str | None = None,
        payload: dict[str, Any] | None = _UNSET,
        importance: float | None = None,
        confidence: float | None = None,
        metadata: dict[str, Any] | None = None,
        event_time: datetime | None = _UNSET,
        source_ids: Sequence[str] | None = None,
        actor: str = "user",
    ) -> MemoryRecord:
        """A new version of the record (version + 1); the previous one stays in the history."""
        changes: dict[str, Any] = {}
        for name, value in (("text", text), ("importance", importance), ("confidence", confidence),
                            ("metadata", metadata)):
            if value is not None:
                changes[name] = value
        if source_ids is not None:
            changes["source_ids"] = list(source_ids)
        if payload is not _UNSET:
            changes["payload"] = payload
        if event_time is not _UNSET:
            changes["event_time"] = event_time
        if not changes:
            raise MemoryValidationError("update needs at least one field to change")
        return await asyncio.to_thread(self._update_sync, record_id, changes, actor)

    def _update_sync(self, record_id: str, changes: dict[str, Any], actor: str) -> MemoryRecord:
        self._check_id(record_id)
        db = self.db
        with db.write_lock:
            old = db.get(record_id)
            if old is None:
                raise MemoryNotFoundError(record_id)
            if old.status is MemoryStatus.DELETED:
                raise MemoryValidationError(f"record {record_id!r} is deleted and cannot be updated")
            data = old.model_dump()
            data.update(changes, version=old.version + 1, updated_at=_now())
            try:
                new = MemoryRecord.model_validate(data)
            except ValidationError as exc:
                raise MemoryValidationError(str(exc)) from None
            new = self._validate_one(new)
            reindex = any(k in changes for k in ("text", "metadata", "event_time"))
            texts = self._index_texts([new])[0] if reindex else None
            embedding = self.embedder.embed([texts[0]]) if texts else None
            followers = self._followers([new]) if reindex else []
            with db.transaction() as conn:
                db.replace(conn, new, texts)
                db.log(conn, ChangeOp.UPDATE, actor, new.id, new.scope.user_id, version=new.version, before=old, after=new)
                refreshed = self._reindex(conn, followers)
            if embedding is not None:
                self._sync_vectors([new], embedding)
            self._embed_refreshed(followers, refreshed)
        return new

    async def supersede(self, old_id: str, new_id: str, *, actor: str = "user") -> MemoryRecord:
        """Mark `old_id` superseded by `new_id` (a newer conclusion); nothing is deleted."""
        return await asyncio.to_thread(self._supersede_sync, old_id, new_id, actor)

    def _supersede_sync(self, old_id: str, new_id: str, actor: str) -> MemoryRecord:
        self._check_id(old_id)
        self._check_id(new_id)
        if old_id == new_id:
            raise MemoryValidationError("a record cannot supersede itself")
        db = self.db
        with db.write_lock:
            old, new = db.get(old_id), db.get(new_id)
            if old is None:
                raise MemoryNotFoundError(old_id)
            if new is None:
                raise MemoryNotFoundError(new_id)
            with db.transaction() as conn:
                updated = self._mark_superseded(conn, old, new, actor)
        return updated

    async def delete(self, record_id: str, *, hard: bool = False, actor: str = "user") -> None:
        """Soft delete (status `deleted`, history kept) or, with `hard=True`, purge text, vector and blob."""
        self._check_id(record_id)
        await asyncio.to_thread(self._delete_sync, [record_id], hard, actor, True)

    async def delete_many(self, record_ids: Sequence[str], *, hard: bool = False, actor: str = "user") -> int:
        """`delete` for many records in one transaction; ids not found are skipped. Returns how many it deleted."""
        if isinstance(record_ids, str) or not isinstance(record_ids, Sequence):
            raise MemoryValidationError(f"record_ids must be a list of ids, got {type(record_ids).__name__}")
        ids = list(dict.fromkeys(self._check_id(rid) for rid in record_ids))
        return await asyncio.to_thread(self._delete_sync, ids, hard, actor, False) if ids else 0

    def _delete_sync(self, ids: builtins.list[str], hard: bool, actor: str, must_exist: bool) -> int:
        db = self.db
        with db.write_lock:
            found = db.get_many(ids)
            if must_exist and len(found) < len(ids):
                raise MemoryNotFoundError(next(rid for rid in ids if rid not in found))
            records = [found[rid] for rid in ids if rid in found]
            if hard:
                if records:
                    self._purge(records, actor, ChangeOp.HARD_DELETE)
                return len(records)
            live = [r for r in records if r.status is not MemoryStatus.DELETED]
            if live:
                with db.transaction() as conn:
                    for old in live:
                        updated = old.model_copy(
                            update={"status": MemoryStatus.DELETED, "version": old.version + 1, "updated_at": _now()}
                        )
                        db.replace(conn, updated)
                        db.log(conn, ChangeOp.DELETE, actor, old.id, old.scope.user_id, version=updated.version,
                               before=old, after=updated)
            return len(live)

    def _purge(self, records: Sequence[MemoryRecord], actor: str, op: ChangeOp) -> None:
        """Hard-delete records: rows, FTS text, history content, vectors, unreferenced blobs."""
        db = self.db
        ids = [r.id for r in records]
        with db.write_lock:
            followers = self._followers(records)
            with db.transaction() as conn:
                db.remove(conn, ids)
                if op is ChangeOp.HARD_DELETE:
                    for r in records:
                        db.log(conn, op, actor, r.id, r.scope.user_id, version=r.version)
                refreshed = self._reindex(conn, followers)  # their index context held the purged text
            self.retriever.records_removed()
            self._embed_refreshed(followers, refreshed)
            try:
                if op is not ChangeOp.FORGET_USER:  # forget_user drops the user's whole collection itself
                    for user_id, group in by_user(records).items():
                        self.vectors.delete(user_id, [r.id for r in group])
                    db.clear_outbox(ids)
            except Exception as exc:
                logger.warning("vector delete failed (%s); retried on next open", exc)
                self._vectors_dirty = True
            for ref in {r.blob_ref for r in records if r.blob_ref}:
                if not db.blob_in_use(ref):
                    self.blobs.delete(ref)

    async def forget_user(self, user_id: str, *, actor: str = "user") -> int:
        """Purge everything of a user: records, FTS text, vectors, blobs and history. Returns records removed."""
        if not isinstance(user_id, str) or not user_id.strip():
            raise MemoryValidationError("user_id must be a non-empty string")
        return await asyncio.to_thread(self._forget_user_sync, user_id, actor)

    def _forget_user_sync(self, user_id: str, actor: str) -> int:
        db = self.db
        with db.write_lock:
            records = db.list_records(RecordFilter.build(MemoryScope(user_id=user_id), include_inactive=True), None)
            self._purge(records, actor, ChangeOp.FORGET_USER)
            with db.transaction() as conn:
                conn.execute("DELETE FROM history WHERE user_id = ?", (user_id,))
                db.log(conn, ChangeOp.FORGET_USER, actor, None, None, details={"records": len(records)})
                conn.execute("INSERT INTO records_fts(records_fts) VALUES ('optimize')")
            try:
                self.vectors.drop_user(user_id)  # also when the user had no records left (an orphan collection)
                db.clear_outbox([r.id for r in records])
            except Exception as exc:  # repaired on the next open: a collection without records is emptied
                logger.warning("dropping the user's vector collection failed (%s)", exc)
            db.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(records)

    # -- export / import -----------------------------------------------------------------------
    async def export_jsonl(self, path: str | Path, scope: ScopeArg) -> int:
        """Write the scope's records (every status, blobs inlined) as JSONL; returns the count."""
        where = RecordFilter.build(scope, include_inactive=True)
        return await asyncio.to_thread(self._export_sync, Path(path), where)

    def _export_sync(self, path: Path, where: RecordFilter) -> int:
        records = self.db.list_records(where, None, oldest_first=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".export-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                for record in records:
                    blob = self.blobs.get_bytes(record.blob_ref) if record.blob_ref and self.blobs.exists(record.blob_ref) else None
                    line = {
                        "format": EXPORT_FORMAT,
                        "record": record.model_dump(mode="json"),
                        "blob_base64": base64.b64encode(blob).decode("ascii") if blob is not None else None,
                    }
                    fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return len(records)

    async def import_jsonl(self, path: str | Path, *, actor: str = "import") -> ImportResult:
        """Import an export file, re-embedding every record. A corrupt file is rejected whole (nothing written)."""
        return await asyncio.to_thread(self._import_sync, Path(path), actor)

    def _import_sync(self, path: Path, actor: str) -> ImportResult:
        if not path.is_file():
            raise MemoryValidationError(f"import file not found: {path}")
        records: builtins.list[MemoryRecord] = []
        blobs: builtins.list[bytes] = []
        with path.open("r", encoding="utf-8", errors="strict") as fh:
            try:
                lines = list(fh)
            except UnicodeDecodeError as exc:
                raise MemoryImportError(str(path), 0, f"not UTF-8 text: {exc}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MemoryImportError(str(path), number, f"invalid JSON: {exc}") from None
            if not isinstance(item, dict) or item.get("format") != EXPORT_FORMAT or "record" not in item:
                raise MemoryImportError(str(path), number, f"not an {EXPORT_FORMAT} line")
            try:
                record = MemoryRecord.model_validate(item["record"])
            except ValidationError as exc:
                raise MemoryImportError(str(path), number, f"invalid record: {exc}") from None
            if item.get("blob_base64") is not None:
                try:
                    data = base64.b64decode(item["blob_base64"], validate=True)
                except (ValueError, TypeError) as exc:
                    raise MemoryImportError(str(path), number, f"invalid blob: {exc}") from None
                if hashlib.sha256(data).hexdigest() != record.blob_ref:
                    raise MemoryImportError(str(path), number, "blob bytes do not match the record's blob_ref")
                blobs.append(data)
            elif record.blob_ref and not self.blobs.exists(record.blob_ref):
                raise MemoryImportError(str(path), number, f"blob {record.blob_ref} is neither inlined nor present")
            if not record.text.strip() and not record.blob_ref:
                raise MemoryImportError(str(path), number, "empty text")
            if len(record.text) > self.settings.memory.max_text_chars:
                raise MemoryImportError(str(path), number, "text longer than max_text_chars")
            records.append(record)
        for data in blobs:
            self.blobs.put_bytes(data)
        result = self._add_sync(records, actor, ChangeOp.IMPORT) if records else []
        created = sum(1 for outcome in result if outcome.created)
        return ImportResult(imported=created, skipped=len(result) - created)
