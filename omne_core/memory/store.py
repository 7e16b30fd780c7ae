"""`MemoryStore`: the public façade of the memory system — async operators over a storage backend.

The store validates input (`validation.py`), resolves duplicates, computes index texts (`indexing.py`) and
embeddings, tokenizes queries and fuses candidates (`ranking.py`), so every backend stores and ranks alike. The
backend (`backends/`: embedded SQLite + chroma by default, or PostgreSQL + pgvector) commits each operation's
change set atomically and answers filtered dense and lexical candidate queries. Export and import are
`transfer.py`; index repair is the backend's `check_index` plus re-embedding what it reports pending.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from pydantic import ValidationError

from ..blobs import BlobStore
from ..config import OmneSettings
from ..embeddings import Embedder, aembed, build_embedder
from ..records import MemoryKind, MemoryRecord, MemoryScope, MemoryStatus
from . import expansion, indexing, ranking, timequery
from .backends import (
    ChangeSet,
    CommitResult,
    EncodingWriter,
    HistoryEntry,
    IndexCheck,
    IndexTexts,
    NewRecord,
    Reindex,
    Replacement,
    StorageBackend,
    Supersession,
    VectorWrite,
    VersionConflict,
    merge_change_sets,
    open_backend,
    split_result,
    superseded_version,
)
from .background import BackgroundJob
from .errors import AmbiguousIdError, MemoryNotFoundError, MemoryValidationError, StoreNotOpenError
from .filters import RecordFilter, ScopeArg, normalize_scopes
from .group_commit import GroupCommit
from .metadata_filter import MetadataFilter
from .results import ChangeOp, ImportResult, MemoryChange, MemoryStats, RecordLinks, SearchHit, UserSummary
from .store_config import StoreConfig
from .transfer import EXPORT_FORMAT, read_import, write_export
from .validation import (
    check_batch,
    check_id,
    check_list_limit,
    check_search,
    validate_record,
    validate_records,
)

logger = logging.getLogger(__name__)

__all__ = ["EXPORT_FORMAT", "MemoryStore"]

_REPAIR_BATCH = 256
# A background re-embedding encodes its batch this many texts at a time, so a search's query encode waits for one
# piece, not for the whole batch (the model encodes one call at a time): 2k records, searches meanwhile p50 ~50 ->
# ~110 ms, max 1.1-1.3 -> 0.16-0.36 s; the re-embedding alone takes ~30 % longer (bench/reembed_open.py, bench/README.md).
_BACKGROUND_PIECE = 16
# Attempts of a read-modify-write whose record a concurrent writer changed meanwhile: every round one writer of a
# contended record wins, so this many writers of one record at once all get through.
_RETRIES = 50
_LOCATE_CANDIDATES = 10  # candidates per retriever when locating the event a query's time is relative to
_GROUP_RECORDS = 256  # records (inserted, replaced, removed) per group commit of concurrent writes
_UNSET: Any = object()
T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


def _change_size(changes: ChangeSet) -> int:
    return len(changes.inserts) + len(changes.replacements) + len(changes.reindexed) + len(changes.removals)


class _Added(NamedTuple):
    record: MemoryRecord  # the stored record (an existing one for a duplicate)
    created: bool
    superseded: list[str]


class MemoryStore:
    """Scoped, versioned long-term memory with hybrid (dense + BM25) search. Open with `await MemoryStore.open(settings)`.

    `settings` come from the caller (`load_settings()` at an entry point): the store reads its sections
    (`data_dir`, `store`, `memory`, `chroma`, `embedding`).
    """

    def __init__(
        self,
        settings: OmneSettings,
        *,
        embedder: Embedder | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.settings = settings
        self.embedder: Embedder = embedder or build_embedder(self.settings.embedding)
        self.blobs = blobs or BlobStore(self.settings.blob_dir)
        self._backend: StorageBackend | None = None
        self._reembedding = BackgroundJob("re-embedding")  # `open(reembed_in_background=True)`'s
        # Writes that arrive while one commits are committed together next: one transaction, one vector write.
        self._commits: GroupCommit[ChangeSet, CommitResult] = GroupCommit(
            self._commit_group, self._commit_alone, key=lambda c: (c.actor, c.insert_op), size=_change_size,
            max_size=_GROUP_RECORDS,
        )  # fmt: skip

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    async def open(
        cls,
        settings: OmneSettings,
        *,
        embedder: Embedder | None = None,
        blobs: BlobStore | None = None,
        reembed_in_background: bool = False,
    ) -> MemoryStore:
        """Open (creating if needed) the store the settings name, checking its vector index (`repair`).

        `reembed_in_background` (a long-lived process: the server): records whose vectors are pending (all of them
        after a change of embedder or dense-text format) are embedded by a task on this loop after `open` returns,
        instead of before; until it ends, a search finds them by their words only (`reembedding`, `stats`).
        """
        store = cls(settings, embedder=embedder, blobs=blobs)
        await store._open(reembed_in_background)
        return store

    async def _open(self, background: bool = False) -> None:
        self._backend = await open_backend(self.settings, self.embedder)
        try:
            check = await self.backend.check_index(self.settings.memory.verify_index_on_open)
            if background:
                self._reembedding.start(partial(self._embed_pending, check))
            else:
                await self._embed_pending(check)
            await self._sweep_blobs()
        except BaseException:
            await self.close()
            raise

    async def __aenter__(self) -> MemoryStore:
        if self._backend is None:
            await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the backend, once a background re-embedding has finished its batch in flight (the rest stays
        pending for the next open)."""
        await self._reembedding.stop()
        backend, self._backend = self._backend, None
        if backend is not None:
            await backend.close()

    @property
    def is_open(self) -> bool:
        return self._backend is not None

    def open_config(self) -> StoreConfig:
        """What opens this same store again (`store_access.open_store`), secrets left out."""
        return StoreConfig.from_settings(self.settings).without_secrets()

    @property
    def backend(self) -> StorageBackend:
        """The open storage backend (`StoreNotOpenError` before `open()` or after `close()`)."""
        if self._backend is None:
            raise StoreNotOpenError()
        return self._backend

    # -- index consistency ---------------------------------------------------------------------
    @property
    def reembedding(self) -> bool:
        """Whether a background re-embedding (`open(reembed_in_background=True)`) is still running."""
        return self._reembedding.running

    async def wait_reembedded(self) -> None:
        """Until a background re-embedding has ended (at once when none runs)."""
        await self._reembedding.wait()

    async def repair(self, *, full: bool = True) -> IndexCheck:
        """Make the vector index agree with the records: drop orphan vectors, (re-)embed missing or stale ones
        (their dense texts derived again, so a store opened after a change of `indexing.DENSE_FORMAT` catches up).
        A background re-embedding is waited for first.

        `full=False` (what `open` runs unless `memory.verify_index_on_open`) compares the ids of every user only
        when the counts disagree; pending vectors and queued removals are always applied.
        """
        await self._reembedding.wait()
        check = await self.backend.check_index(full)
        await self._embed_pending(check)
        return check

    async def _embed_pending(self, check: IndexCheck, stop: asyncio.Event | None = None) -> None:
        """Embed the records whose vectors are pending, a batch at a time, until none is (or `stop` is set)."""
        backend = self.backend
        while not (stop is not None and stop.is_set()) and (batch := await backend.pending_vectors(_REPAIR_BATCH)):
            if check.embedded == 0 and len(batch) == _REPAIR_BATCH:  # a long wait ahead: say why before it starts
                logger.warning("embedding the vectors of %d or more records, in batches of %d (records added while the "
                               "embedder failed, or every record after a change of embedder or of the dense-text "
                               "format, now %r)%s", _REPAIR_BATCH, _REPAIR_BATCH, indexing.DENSE_FORMAT,
                               "" if stop is None else " in the background: until it ends, searches find the records "
                               "not yet embedded by their words only")  # fmt: skip
            # derived again, not the stored text: the vectors may be pending for a new `indexing.DENSE_FORMAT`
            texts = [t.dense for t in await self._stored_index_texts(batch)]
            piece = len(texts) if stop is None else _BACKGROUND_PIECE
            embeddings = [v for at in range(0, len(texts), piece) for v in await aembed(self.embedder, texts[at : at + piece])]
            await backend.write_vectors([VectorWrite(r.id, text, vector, r.version)
                                         for r, text, vector in zip(batch, texts, embeddings, strict=True)])  # fmt: skip
            check.embedded += len(batch)
        if check.embedded >= _REPAIR_BATCH:
            logger.warning("embedded the vectors of %d records", check.embedded)

    async def _repair_if_dirty(self) -> None:
        if self.backend.index_dirty and not self._reembedding.running:  # a running re-embedding catches up anyway
            try:
                await self.repair(full=False)
            except Exception as exc:
                logger.warning("vector index repair failed: %s", exc)

    # -- commits -------------------------------------------------------------------------------
    async def _commit(self, changes: ChangeSet) -> CommitResult:
        """Commit a change set, together with those other writers commit at the same time (`GroupCommit`): it
        returns once this change set is durable; one that fails the group is committed alone and fails alone."""
        return await self._commits.submit(changes)

    async def _commit_alone(self, changes: ChangeSet) -> CommitResult:
        return await self.backend.commit(changes)

    async def _commit_group(self, group: builtins.list[ChangeSet]) -> builtins.list[CommitResult]:
        merged = merge_change_sets(group)
        if merged is None:  # two of them insert the same record: one after the other, the later resolves to it
            return [await self._commit_alone(changes) for changes in group]
        return split_result(await self.backend.commit(merged), group)

    # -- add -----------------------------------------------------------------------------------
    async def add(self, records: MemoryRecord | Sequence[MemoryRecord], *, actor: str = "user") -> list[MemoryRecord]:
        """Store one record or a batch; an exact duplicate in the same scope returns the existing record."""
        check_batch(records, self.settings.memory)
        result = await self._add(records, actor, ChangeOp.ADD)
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
        check_batch(records, self.settings.memory)
        replaced = [[check_id(rid) for rid in ids] for _, ids in items]
        result = await self._add(records, actor, ChangeOp.ADD, replaced)
        return [(outcome.record, outcome.superseded) for outcome in result]

    async def _add(
        self, records: Any, actor: str, op: ChangeOp, supersedes: Sequence[Sequence[str]] | None = None
    ) -> list[_Added]:
        """Each input's stored record, whether it was newly created, and the ids it superseded."""
        records = validate_records(records, self.settings.memory, self.blobs)
        backend = self.backend
        await self._repair_if_dirty()
        hashes = [record.content_hash() for record in records]
        # per input: (stored record, created) or the index of an earlier input it duplicates
        resolved: list[tuple[MemoryRecord, bool] | int | None] = [None] * len(records)
        first_of: dict[tuple[Any, str], int] = {}
        first_with_id: dict[str, int] = {}
        stored = await backend.get_many([record.id for record in records])
        duplicates = await backend.find_duplicates(records, hashes)
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

        texts = await self._index_texts([records[i] for i in fresh])
        changes = ChangeSet(
            actor=actor, insert_op=op, inserts=[NewRecord(records[i], hashes[i], t) for i, t in zip(fresh, texts, strict=True)]
        )
        slot = {i: k for k, i in enumerate(fresh)}  # input -> its place among the inserts
        owners: list[int] = []  # input of each supersession
        for i, old_ids in enumerate(supersedes or ()):
            if not old_ids:
                continue
            item = resolved[i]
            j = item if isinstance(item, int) else i  # a duplicate of an earlier input supersedes as that one
            target = resolved[j]
            new: int | MemoryRecord = slot[j] if j in slot else target[0]  # type: ignore[index]
            changes.supersessions.append(Supersession(new=new, old_ids=list(old_ids)))
            owners.append(i)
        if (  # more new records than a part: written while they encode
            isinstance(backend, EncodingWriter)
            and 0 < backend.write_part < len(changes.inserts)
            and not changes.supersessions
        ):
            result = await backend.commit_encoding(changes, partial(aembed, self.embedder))
        else:  # a small write: committed with the writes of other callers at the same time (group commit)
            embeddings = await aembed(self.embedder, [t.dense for t in texts])
            for insert, embedding in zip(changes.inserts, embeddings, strict=True):
                insert.embedding = embedding
            result = await self._commit(changes)
        await asyncio.to_thread(self.blobs.settle, [r.blob_ref for r in records if r.blob_ref])
        for k, i in enumerate(fresh):
            resolved[i] = (result.inserted[k].record, result.inserted[k].created)
        superseded: list[list[str]] = [[] for _ in records]
        for i, ids in zip(owners, result.superseded, strict=True):
            superseded[i] = ids
        out: list[_Added] = []
        for i, item in enumerate(resolved):
            created_now = isinstance(item, tuple) and item[1]
            target = resolved[item] if isinstance(item, int) else item
            out.append(_Added(target[0], created_now, superseded[i]))  # type: ignore[index]
        return out

    # -- index texts ---------------------------------------------------------------------------
    async def _index_texts(
        self,
        records: Sequence[MemoryRecord],
        *,
        replaced: dict[str, MemoryRecord] | None = None,
        removed: frozenset[str] = frozenset(),
    ) -> list[IndexTexts]:
        """Index texts of records; each sees up to CONTEXT_RECORDS earlier records of its session (as they will be
        after the change: `replaced` versions instead of the stored ones, `removed` records left out)."""
        n = indexing.CONTEXT_RECORDS
        replaced = replaced or {}
        sessions: dict[MemoryScope, list[MemoryRecord]] = {}
        out = []
        for record in records:
            previous: list[MemoryRecord] = []
            if n > 0 and record.scope.session_id is not None:
                if record.scope not in sessions:
                    found = await self.backend.previous_in_session(record, n + len(removed))
                    sessions[record.scope] = [replaced.get(r.id, r) for r in found if r.id not in removed]
                previous = sessions[record.scope][-n:]
                sessions[record.scope].append(record)
            indexed = indexing.index_text(record, previous)
            out.append(IndexTexts(indexed.dense, indexed.lexical))
        return out

    async def _stored_index_texts(
        self, records: Sequence[MemoryRecord], *, replaced: dict[str, MemoryRecord] | None = None,
        removed: frozenset[str] = frozenset(),
    ) -> list[IndexTexts]:  # fmt: skip
        """Index texts of stored records, each with its own predecessors (`_index_texts` reads a list as new
        records following each other)."""
        return [(await self._index_texts([r], replaced=replaced, removed=removed))[0] for r in records]

    async def _followers(self, records: Sequence[MemoryRecord]) -> list[MemoryRecord]:
        """Stored records whose index context may contain one of `records` (the next turns of their sessions)."""
        skip = {r.id for r in records}
        out: dict[str, MemoryRecord] = {}
        for record in records:
            for follower in await self.backend.next_in_session(record, indexing.CONTEXT_RECORDS):
                if follower.id not in skip:
                    out[follower.id] = follower
        return list(out.values())

    async def _reindexed(
        self, records: Sequence[MemoryRecord], *, replaced: dict[str, MemoryRecord] | None = None,
        removed: frozenset[str] = frozenset(),
    ) -> list[Reindex]:  # fmt: skip
        """New index texts of stored records, each with its own predecessors; re-embedded, or left pending (and
        repaired later) when the embedder fails."""
        texts = await self._stored_index_texts(records, replaced=replaced, removed=removed)
        embeddings: Sequence[Sequence[float] | None] = [None] * len(texts)
        if texts:
            try:
                embeddings = await aembed(self.embedder, [t.dense for t in texts])
            except Exception as exc:
                logger.warning("re-embedding %d re-indexed records failed (%s); they stay pending", len(texts), exc)
        return [Reindex(r.id, t, e) for r, t, e in zip(records, texts, embeddings, strict=True)]

    # -- read ----------------------------------------------------------------------------------
    async def get(self, record_id: str, scope: ScopeArg | None = None) -> MemoryRecord:
        """The record with this id; with `scope`, only if it lies in that scope. Raises MemoryNotFoundError."""
        check_id(record_id)
        record = await self.backend.get(record_id)
        if record is None:
            raise MemoryNotFoundError(record_id)
        if scope is not None and not any(s.contains(record.scope) for s in normalize_scopes(scope)):
            raise MemoryNotFoundError(record_id)
        return record

    async def resolve(self, id_or_prefix: str, scope: ScopeArg, *, candidates: int = 5) -> MemoryRecord:
        """The scope's record with this id, else the only one whose id starts with it (the short ids people see).

        Another scope's record and an unknown id raise the same `MemoryNotFoundError`; a prefix several of the
        scope's records share raises `AmbiguousIdError` naming up to `candidates` of them. Deleted and superseded
        records count: their history is still there to see.
        """
        try:
            return await self.get(id_or_prefix, scope)
        except MemoryNotFoundError:
            pass
        where = RecordFilter.build(scope, include_inactive=True)
        ids = await self.backend.ids_starting(id_or_prefix, where, candidates + 1)
        if not ids:
            raise MemoryNotFoundError(id_or_prefix)
        if len(ids) > 1:
            raise AmbiguousIdError(id_or_prefix, ids[:candidates] + (["..."] if len(ids) > candidates else []))
        return await self.get(ids[0], scope)

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
        statuses: Sequence[MemoryStatus | str] | None = None,
        after: str | None = None,
        metadata: MetadataFilter | None = None,
    ) -> builtins.list[MemoryRecord]:
        """Records of the scope(s), newest first (by event time, else learnt time, then insertion order).

        `statuses`: only records with these statuses (instead of `include_inactive`). `after`: keyset paging,
        the records past the one with this id (the last of the previous page); as fast deep as on page one.
        `metadata`: only records whose metadata holds these values (`metadata_filter`: values, `in`, ranges, `contains`, `ne`, `nin`).
        """
        where = RecordFilter.build(scope, kinds, since, until, include_inactive, statuses, metadata)
        check_list_limit(limit)
        if after is not None:
            check_id(after)
        return await self.backend.list_records(where, limit, oldest_first, after)

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
        metadata: MetadataFilter | None = None,
    ) -> builtins.list[SearchHit]:
        """Hybrid search: dense + BM25 candidates fused; scope, kind, time, status and metadata values are hard
        filters (`metadata`: `{"project": "apollo", "priority": {"gte": 2}}`, see `metadata_filter`).

        `min_similarity` (-1..1) keeps only records whose cosine similarity to the query is known to reach it: a
        candidate the lexical side alone found is kept only if the dense side scored it too. The cosine is the dense
        side's, of the texts without the speakers' names (`indexing.without_names`) on both sides.
        """
        check_search(query, limit, min_similarity)
        where = RecordFilter.build(scope, kinds, since, until, include_inactive, metadata=metadata)
        candidates = await self.candidates(query, where, limit=limit, min_similarity=min_similarity)
        # with min_similarity, a record no retriever scored (one a conclusion cites) cannot be shown to reach it
        hits = ranking.rank(candidates, self.settings.memory, limit=limit, add_cited=min_similarity is None)
        await self.backend.touch([h.record.id for h in hits], candidates.now)
        for hit in hits:
            hit.record = hit.record.model_copy(
                update={"access_count": hit.record.access_count + 1, "last_accessed_at": candidates.now}
            )
        return hits

    async def candidates(
        self,
        query: str,
        where: RecordFilter,
        *,
        limit: int = 10,
        min_similarity: float | None = None,
        vectors: bool | None = None,
    ) -> ranking.Candidates:
        """What `search` ranks, for the records `where` matches (`RecordFilter.build(scope, kinds, ...)`): the
        fetched candidates and everything about them no weight changes, so `ranking.rank` can score them under
        other settings (`bench/locomo_weights.py`). `vectors`: also load the stored embeddings diversity compares
        (None: when `diversity_weight` is set)."""
        check_search(query, limit, min_similarity)
        settings, backend = self.settings.memory, self.backend
        fetch = expansion.candidate_filter(where, settings)  # + L1 records as keys when `kinds` names raw kinds only
        wanted = (max(settings.dense_candidates, limit), max(settings.lexical_candidates, limit))
        dense_found, lexical_found, records = await self._retrieve(query, fetch, wanted, min_similarity)
        # What the L1 candidates cite (key expansion, provenance): loaded once, through the searched scope only.
        cited = expansion.cited_ids(records.values())
        loaded = await backend.get_many(cited, expansion.provenance_filter(where)) if cited else {}
        now = _now()

        async def newest() -> datetime | None:
            found = await backend.list_records(where, 1)
            return ranking.record_time(found[0]) if found else None

        async def locate(event: str) -> tuple[datetime, str] | None:
            """When the event a query is relative to happened: the time of the record best matching its words
            (any kind, any time, in the searched scope and status)."""
            anywhere = expansion.provenance_filter(where)
            dense, lexical, found = await self._retrieve(event, anywhere, (_LOCATE_CANDIDATES,) * 2, None)
            if not lexical:  # no record shares a word with the event: it is not in memory
                return None
            best = ranking.fuse(dense, lexical, found, settings, now, event, limit=1)
            return (ranking.record_time(best[0].record), best[0].record.id) if best else None

        windows = await timequery.query_windows(query, newest, locate) if settings.time_weight else []
        wanted_vectors = bool(settings.diversity_weight) if vectors is None else vectors
        embeddings = await self._embeddings([*records.values(), *loaded.values()]) if wanted_vectors else {}
        return ranking.Candidates(query, dense_found, lexical_found, records, now, windows=windows, where=where,
                                  fetched=fetch, load=expansion.loader(loaded), vectors=embeddings)  # fmt: skip

    async def _embeddings(self, records: Iterable[MemoryRecord]) -> dict[str, builtins.list[float]]:
        """The stored embeddings of these records (those that have one), fetched per user."""
        by_user: dict[str, dict[str, None]] = {}  # user -> their record ids, each once
        for record in records:
            by_user.setdefault(record.scope.user_id, {})[record.id] = None
        found: dict[str, builtins.list[float]] = {}
        for user_id, ids in by_user.items():
            found.update(await self.backend.embeddings(user_id, builtins.list(ids)))
        return found

    async def _retrieve(
        self, query: str, where: RecordFilter, wanted: tuple[int, int], min_similarity: float | None
    ) -> tuple[builtins.list[tuple[str, float]], builtins.list[tuple[str, float]], dict[str, MemoryRecord]]:
        """`wanted` (dense, lexical) candidates of a query, each list best first, and their records, all within
        `where`.

        The vector query is encoded without the names of the speakers it names (`indexing.query_text`), as the
        records' dense texts are; which words are speakers' names the BM25 candidates tell (their speakers). So
        that the encode still runs beside the BM25 query, the query is encoded with and without its capitalised
        inner words (`indexing.name_guess`) in one batch; only a wrong guess costs a second encode.
        """
        backend = self.backend

        async def lexical() -> tuple[builtins.list[tuple[str, float]], dict[str, MemoryRecord]]:
            found = await backend.lexical(indexing.query_terms(query), where, wanted[1])
            return found, dict(await backend.get_many([rid for rid, _ in found], where))

        guess = indexing.name_guess(query)
        texts = list(dict.fromkeys([indexing.query_text(query), indexing.query_text(query, guess)]))
        encoded, (lexical_found, records) = await asyncio.gather(aembed(self.embedder, texts, query=True), lexical())
        by_text = dict(zip(texts, encoded, strict=True))
        text = indexing.query_text(query, indexing.named_speakers(query, records.values()))
        embedding = by_text.get(text) or (await aembed(self.embedder, [text], query=True))[0]
        dense_found = await backend.dense(embedding, where, wanted[0])
        if min_similarity is not None:
            dense_found = [(rid, score) for rid, score in dense_found if score >= min_similarity]
            similar = {rid for rid, _ in dense_found}
            lexical_found = [(rid, score) for rid, score in lexical_found if rid in similar]
        rest = [rid for rid, _ in dense_found if rid not in records]
        if rest:  # the record of truth has the last word on every filter
            records.update(await backend.get_many(rest, where))
        wanted_ids = {rid for rid, _ in dense_found} | {rid for rid, _ in lexical_found}
        return dense_found, lexical_found, {rid: r for rid, r in records.items() if rid in wanted_ids}

    async def links(self, record_id: str, scope: ScopeArg | None = None) -> RecordLinks:
        """A record's provenance both ways (the records it cites; the conclusions citing it) and its supersession
        neighbours (the records it replaced; the one that replaced it), linked records of any status."""
        record = await self.get(record_id, scope)
        backend = self.backend
        found = await backend.get_many(record.source_ids) if record.source_ids else {}
        linking = await backend.linking(record.id)
        successor = await backend.get(record.superseded_by) if record.superseded_by else None
        return RecordLinks(
            record=record,
            sources=[found[sid] for sid in record.source_ids if sid in found],
            missing_sources=[sid for sid in record.source_ids if sid not in found],
            cited_by=[r for r in linking if record.id in r.source_ids],
            supersedes=[r for r in linking if r.superseded_by == record.id],
            superseded_by=successor,
        )

    async def users(self) -> builtins.list[UserSummary]:
        """Every user of the store, with their records (every status) counted by kind and status."""
        return [
            UserSummary(user_id=u.user_id, total=sum(u.by_status.values()), by_kind=u.by_kind, by_status=u.by_status)
            for u in await self.backend.user_counts()
        ]

    async def history(self, record_id: str) -> builtins.list[MemoryChange]:
        """Every change of a record, oldest first (content is purged after a hard delete)."""
        check_id(record_id)
        changes = await self.backend.history(record_id)
        if not changes:
            raise MemoryNotFoundError(record_id)
        return changes

    async def stats(self, scope: ScopeArg) -> MemoryStats:
        counts = await self.backend.counts(RecordFilter.build(scope, include_inactive=True))
        return MemoryStats(
            total=sum(counts.by_status.values()), by_kind=counts.by_kind, by_status=counts.by_status,
            pending_index=counts.pending_index, reembedding=self.reembedding, blobs=counts.blobs,
            embedder=self.embedder.name,
        )  # fmt: skip

    # -- change --------------------------------------------------------------------------------
    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run a read-modify-write again when a concurrent writer changed its record between the read and the
        commit (the backend refused the stale version)."""
        for tries in range(1, _RETRIES + 1):
            try:
                return await attempt()
            except VersionConflict:
                if tries == _RETRIES:
                    raise
                await asyncio.sleep(random.uniform(0, min(0.1, 0.001 * 2**tries)))  # jitter: the writers spread out
        raise AssertionError("unreachable")

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
        check_id(record_id)
        return await self._retrying(lambda: self._update_once(record_id, changes, actor))

    async def _update_once(self, record_id: str, changes: dict[str, Any], actor: str) -> MemoryRecord:
        old = await self.backend.get(record_id)
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
        new = validate_record(new, self.settings.memory, self.blobs)
        reindex = any(k in changes for k in ("text", "metadata", "event_time"))
        texts = (await self._index_texts([new]))[0] if reindex else None
        embedding = (await aembed(self.embedder, [texts.dense]))[0] if texts else None
        followers = await self._followers([new]) if reindex else []
        await self._commit(
            ChangeSet(
                actor=actor,
                replacements=[Replacement(new, old.version, texts, embedding)],
                reindexed=await self._reindexed(followers, replaced={new.id: new}),
                history=[HistoryEntry(ChangeOp.UPDATE, actor, new.id, new.scope.user_id, version=new.version,
                                      before=old, after=new)],  # fmt: skip
            )
        )
        return new

    async def supersede(self, old_id: str, new_id: str, *, actor: str = "user") -> MemoryRecord:
        """Mark `old_id` superseded by `new_id` (a newer conclusion); nothing is deleted."""
        check_id(old_id)
        check_id(new_id)
        if old_id == new_id:
            raise MemoryValidationError("a record cannot supersede itself")
        return await self._retrying(lambda: self._supersede_once(old_id, new_id, actor))

    async def _supersede_once(self, old_id: str, new_id: str, actor: str) -> MemoryRecord:
        old, new = await self.backend.get(old_id), await self.backend.get(new_id)
        if old is None:
            raise MemoryNotFoundError(old_id)
        if new is None:
            raise MemoryNotFoundError(new_id)
        if old.scope.user_id != new.scope.user_id:
            raise MemoryValidationError("a record can only be superseded by a record of the same user")
        updated = superseded_version(old, new.id, _now())
        await self._commit(
            ChangeSet(
                actor=actor,
                replacements=[Replacement(updated, old.version)],
                history=[HistoryEntry(ChangeOp.SUPERSEDE, actor, old.id, old.scope.user_id, version=updated.version,
                                      before=old, after=updated, details={"superseded_by": new.id})],  # fmt: skip
            )
        )
        return updated

    async def delete(self, record_id: str, *, hard: bool = False, actor: str = "user") -> None:
        """Soft delete (status `deleted`, history kept) or, with `hard=True`, purge text, vector and blob."""
        check_id(record_id)
        await self._retrying(lambda: self._delete_once([record_id], hard, actor, must_exist=True))

    async def delete_many(self, record_ids: Sequence[str], *, hard: bool = False, actor: str = "user") -> int:
        """`delete` for many records in one transaction; ids not found are skipped. Returns how many it deleted."""
        if isinstance(record_ids, str) or not isinstance(record_ids, Sequence):
            raise MemoryValidationError(f"record_ids must be a list of ids, got {type(record_ids).__name__}")
        ids = list(dict.fromkeys(check_id(rid) for rid in record_ids))
        if not ids:
            return 0
        return await self._retrying(lambda: self._delete_once(ids, hard, actor, must_exist=False))

    async def _delete_once(self, ids: builtins.list[str], hard: bool, actor: str, *, must_exist: bool) -> int:
        found = await self.backend.get_many(ids)
        if must_exist and len(found) < len(ids):
            raise MemoryNotFoundError(next(rid for rid in ids if rid not in found))
        records = [found[rid] for rid in ids if rid in found]
        if hard:
            if records:
                await self._purge(records, actor)
            return len(records)
        live = [r for r in records if r.status is not MemoryStatus.DELETED]
        if live:
            now = _now()
            changes = ChangeSet(actor=actor)
            for old in live:
                updated = old.model_copy(update={"status": MemoryStatus.DELETED, "version": old.version + 1, "updated_at": now})
                changes.replacements.append(Replacement(updated, old.version))
                changes.history.append(HistoryEntry(ChangeOp.DELETE, actor, old.id, old.scope.user_id,
                                                    version=updated.version, before=old, after=updated))  # fmt: skip
            await self._commit(changes)
        return len(live)

    async def _purge(self, records: Sequence[MemoryRecord], actor: str) -> None:
        """Hard-delete records: rows, index entries, history content, vectors, unreferenced blobs. The next turns
        of their sessions are re-indexed (their index context held the purged text)."""
        removed = frozenset(r.id for r in records)
        followers = await self._followers(records)
        await self._commit(
            ChangeSet(
                actor=actor,
                removals=list(records),
                reindexed=await self._reindexed(followers, removed=removed),
                history=[HistoryEntry(ChangeOp.HARD_DELETE, actor, r.id, r.scope.user_id, version=r.version)
                         for r in records],  # fmt: skip
            )
        )
        await self._delete_unused_blobs(records)

    async def _delete_unused_blobs(self, records: Sequence[MemoryRecord]) -> None:
        await self._delete_unused_refs({r.blob_ref for r in records if r.blob_ref})

    async def _delete_unused_refs(self, refs: Iterable[str]) -> None:
        for ref in refs:
            if not await self.backend.blob_in_use(ref):
                await asyncio.to_thread(self.blobs.delete, ref)

    async def release_blob(self, ref: str) -> None:
        """A blob this process wrote that no record will cite after all: deleted unless a record cites it."""
        await self._delete_unused_refs([ref])
        await asyncio.to_thread(self.blobs.settle, [ref])

    async def _sweep_blobs(self) -> None:
        """Delete the blobs a process that is gone wrote but no record cites (it was killed before its records
        were committed), with their journal entries: a file's bytes never outlive an interrupted ingest."""
        refs, leftovers = await asyncio.to_thread(self.blobs.stale)
        await self._delete_unused_refs(refs)
        for path in leftovers:
            path.unlink(missing_ok=True)

    async def forget_user(self, user_id: str, *, actor: str = "user") -> int:
        """Purge everything of a user: records, index entries, vectors, blobs and history. Returns records removed."""
        if not isinstance(user_id, str) or not user_id.strip():
            raise MemoryValidationError("user_id must be a non-empty string")
        records = await self.backend.forget_user(user_id, actor)
        await self._delete_unused_blobs(records)
        await self._sweep_blobs()
        return len(records)

    # -- export / import -----------------------------------------------------------------------
    async def export_jsonl(self, path: str | Path, scope: ScopeArg, *, actor: str | None = None) -> int:
        """Write the scope's records (every status, blobs inlined) as JSONL; returns the count. With an `actor`,
        the export is logged in the tenant's `activity` (one `export` entry per user exported, purged with the user)."""
        where = RecordFilter.build(scope, include_inactive=True)
        records = await self.backend.list_records(where, None, oldest_first=True)
        count = await asyncio.to_thread(write_export, Path(path), records, self.blobs)
        if actor is not None:
            per_user = dict.fromkeys(sorted({s.user_id for s in normalize_scopes(scope)}), 0)
            for record in records:
                per_user[record.scope.user_id] = per_user.get(record.scope.user_id, 0) + 1
            entries = [
                HistoryEntry(ChangeOp.EXPORT, actor, None, user, details={"user_id": user, "records": n})
                for user, n in per_user.items()
            ]
            await self._commit(ChangeSet(actor=actor, history=entries))
        return count

    async def activity(self, limit: int = 50) -> builtins.list[MemoryChange]:
        """The tenant's activity log, newest first: the history entries of no single record (a user forgotten,
        without the user's id; a user's memory exported, until the user is forgotten)."""
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise MemoryValidationError(f"limit must be an integer from 1 to 1000, got {limit!r}")
        return await self.backend.activity(limit)

    async def import_jsonl(self, path: str | Path, *, actor: str = "import") -> ImportResult:
        """Import an export file, re-embedding every record. A corrupt file is rejected whole (nothing written)."""
        records, inlined = await asyncio.to_thread(read_import, Path(path), self.settings.memory, self.blobs)
        for data in inlined:
            await asyncio.to_thread(self.blobs.put_bytes, data)
        result = await self._add(records, actor, ChangeOp.IMPORT) if records else []
        created = sum(1 for outcome in result if outcome.created)
        return ImportResult(imported=created, skipped=len(result) - created)
