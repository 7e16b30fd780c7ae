"""The storage seam: what `MemoryStore` needs from storage, as small typed protocols and the change sets it commits.

`MemoryStore` (the façade) validates input, resolves duplicates it can see, computes index texts and embeddings
(`indexing.py`, the `Embedder`), and ranks candidates (`ranking.py`); a backend stores and searches. Every method
is async: the embedded backend runs its SQLite/chroma code in a worker thread per call, the PostgreSQL backend
awaits an async connection pool.

A write is one coarse `ChangeSet` (new records with their index texts and embeddings, replacements, re-indexed
records, removals, history entries) that the backend commits atomically, resolving races with concurrent writers
inside its own transaction: a new record whose id exists already, or whose content (same scope, same content
hash, not deleted) was stored meanwhile, is not inserted and its outcome names the stored record; a replacement
whose record changed since the store read it raises `VersionConflict` (the store reads again and retries).

Filters (`RecordFilter`: scopes, kinds, time window, status) are given to the backend as they are, and each
backend renders them its own way (SQL lives only inside the backends).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ...errors import StorageError
from ...records import MemoryRecord, MemoryStatus
from ..filters import RecordFilter
from ..results import ChangeOp, MemoryChange

Candidates = list[tuple[str, float]]  # (record id, score), best first; a higher score is better
Encode = Callable[[Sequence[str]], Awaitable[list[list[float]]]]  # texts -> their vectors (the store's embedder)


class VersionConflict(StorageError):
    """A replacement's record changed (or vanished) since the store read it; nothing of the change set was written."""

    def __init__(self, record_id: str) -> None:
        super().__init__(f"record {record_id!r} changed concurrently")
        self.record_id = record_id


def superseded_version(old: MemoryRecord, new_id: str, now: datetime) -> MemoryRecord:
    """`old` marked superseded by `new_id`: its next version (what every backend writes for a supersession)."""
    return old.model_copy(
        update={"status": MemoryStatus.SUPERSEDED, "superseded_by": new_id, "version": old.version + 1, "updated_at": now}
    )


def load_row(row: Sequence[Any]) -> MemoryRecord:
    """A record from a `(seq, id, access_count, last_accessed_at, body)` row, the shape both backends select.

    The access counts live apart from the JSON body (a search never rewrites a record). The body is validated as
    JSON text by pydantic's own parser: twice as fast as `json.loads` then validation, and a search loads hundreds.
    """
    _, _, access_count, last_accessed_at, body = row
    record = MemoryRecord.model_validate_json(body)
    record.access_count = access_count
    if isinstance(last_accessed_at, str):  # SQLite keeps ISO text, PostgreSQL a timestamptz
        last_accessed_at = datetime.fromisoformat(last_accessed_at)
    record.last_accessed_at = last_accessed_at
    return record


def oldest_duplicates(
    records: Sequence[MemoryRecord], hashes: Sequence[str], found: Iterable[tuple[tuple[Any, ...], Sequence[Any]]]
) -> list[MemoryRecord | None]:
    """`find_duplicates`' answer from the stored rows a backend found: `found` holds ((user, agent, session,
    namespace, content hash), row) oldest first; each record gets the oldest row of exactly its scope and hash."""
    first: dict[tuple[Any, ...], Sequence[Any]] = {}
    for key, row in found:
        first.setdefault(key, row)
    out: list[MemoryRecord | None] = []
    for record, digest in zip(records, hashes, strict=True):
        s = record.scope
        key = (s.user_id, s.agent_id, s.session_id, s.namespace, digest)
        out.append(load_row(first[key]) if key in first else None)
    return out


@dataclass(frozen=True)
class IndexTexts:
    """What the indexes hold for one record: `dense` is embedded, `lexical` goes to the full-text index."""

    dense: str
    lexical: str


@dataclass
class NewRecord:
    """A record to insert, with its content hash, index texts and (when the embedder answered) its embedding."""

    record: MemoryRecord
    content_hash: str
    texts: IndexTexts
    embedding: Sequence[float] | None = None  # None: stored without a vector (pending), embedded later


@dataclass
class Supersession:
    """`old_ids` become superseded by `new`: an index into `ChangeSet.inserts` (the record stored for it, maybe an
    existing duplicate) or a record already stored. An unknown old id rejects the whole change set
    (`MemoryNotFoundError`); one of another user too (`MemoryValidationError`); an inactive one, or `new` itself,
    is skipped."""

    new: int | MemoryRecord
    old_ids: Sequence[str]


@dataclass
class Replacement:
    """A new version of a stored record, written only if the stored version is still `expected_version`.

    With `texts`, the record's index texts change too and its vector is rewritten (`embedding`) or, when
    `embedding` is None, marked pending.
    """

    record: MemoryRecord
    expected_version: int
    texts: IndexTexts | None = None
    embedding: Sequence[float] | None = None


@dataclass
class Reindex:
    """New index texts (and vector, or pending) for a stored record whose content did not change: a record whose
    index context (the turns before it in its session) changed."""

    record_id: str
    texts: IndexTexts
    embedding: Sequence[float] | None = None


@dataclass
class HistoryEntry:
    """One row of the append-only change history."""

    op: ChangeOp
    actor: str
    record_id: str | None
    user_id: str | None
    version: int | None = None
    before: MemoryRecord | None = None
    after: MemoryRecord | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChangeSet:
    """Everything one store operation writes, committed atomically by `RecordBackend.commit`.

    Order inside the transaction: inserts (each logged as `insert_op` by `actor`, unless resolved to a stored
    record), supersessions (each logged as `supersede`), replacements, re-indexes, removals (hard deletes: the
    row, its index entries, its vector, and the content of its history rows), then `history`.
    """

    actor: str = "user"
    insert_op: ChangeOp = ChangeOp.ADD
    inserts: list[NewRecord] = field(default_factory=list)
    supersessions: list[Supersession] = field(default_factory=list)
    replacements: list[Replacement] = field(default_factory=list)
    reindexed: list[Reindex] = field(default_factory=list)
    removals: list[MemoryRecord] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)


@dataclass
class InsertOutcome:
    record: MemoryRecord  # the stored record: the new one, or the existing one it resolved to
    created: bool


@dataclass
class CommitResult:
    inserted: list[InsertOutcome] = field(default_factory=list)  # one per `ChangeSet.inserts`, in order
    superseded: list[list[str]] = field(default_factory=list)  # per `ChangeSet.supersessions`: the ids superseded


def merge_change_sets(sets: Sequence[ChangeSet]) -> ChangeSet | None:
    """Several change sets (of one actor and insert op) as one, in order; None when two of them insert the same id
    or the same content in the same scope (committed one after the other, the later resolves to the earlier's
    record, which one transaction would not see). `split_result` gives each set its part of the result."""
    merged = ChangeSet(actor=sets[0].actor, insert_op=sets[0].insert_op)
    seen: set[object] = set()
    for changes in sets:
        offset = len(merged.inserts)
        for item in changes.inserts:
            keys = (item.record.id, (item.record.scope, item.content_hash))  # as the store resolves copies
            if any(key in seen for key in keys):
                return None
            seen.update(keys)
        merged.inserts.extend(changes.inserts)
        merged.supersessions.extend(
            Supersession(x.new + offset if isinstance(x.new, int) else x.new, x.old_ids) for x in changes.supersessions
        )
        merged.replacements.extend(changes.replacements)
        merged.reindexed.extend(changes.reindexed)
        merged.removals.extend(changes.removals)
        merged.history.extend(changes.history)
    return merged


def split_result(result: CommitResult, sets: Sequence[ChangeSet]) -> list[CommitResult]:
    """Each merged change set's part of the merged commit's result."""
    out, inserted, superseded = [], 0, 0
    for changes in sets:
        n, k = len(changes.inserts), len(changes.supersessions)
        out.append(CommitResult(result.inserted[inserted : inserted + n], result.superseded[superseded : superseded + k]))
        inserted, superseded = inserted + n, superseded + k
    return out


@dataclass
class RecordCounts:
    """What `stats` counts among the records a filter matches (every status)."""

    by_kind: dict[str, int]
    by_status: dict[str, int]
    pending_index: int  # records whose vector is not written yet
    blobs: int  # distinct blob references


@dataclass
class UserCounts:
    """One user's records (every status) by kind and by status."""

    user_id: str
    by_kind: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)


class NamedVectorSpace(Protocol):
    """What a backend knows of the vectors it keeps: their space's name (compared on open) and their dimension
    (to size a vector column). Backends never embed (`backends.VectorSpace` is the store's)."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...


@dataclass(frozen=True)
class VectorWrite:
    """A pending record's new vector and the dense text it was made from (`MemoryStore.repair` derives the text
    again: the dense-text format may have changed since the record was stored), from the record at `version`."""

    record_id: str
    dense_text: str
    embedding: Sequence[float]
    version: int


@dataclass
class IndexCheck:
    """What an index check found (and repaired without an embedder): vectors removed, records marked pending."""

    full: bool  # every id was compared (asked for, or the counts disagreed)
    orphans_removed: int = 0
    marked_pending: int = 0
    embedded: int = 0  # pending vectors the store then wrote (set by `MemoryStore.repair`)


@runtime_checkable
class RecordBackend(Protocol):
    """The records, their change history, and atomic change sets."""

    async def get(self, record_id: str) -> MemoryRecord | None: ...

    async def get_many(self, ids: Sequence[str], where: RecordFilter | None = None) -> dict[str, MemoryRecord]:
        """Records by id, only those `where` matches (it is the final check of every search)."""
        ...

    async def list_records(
        self, where: RecordFilter, limit: int | None, oldest_first: bool = False, after: str | None = None
    ) -> list[MemoryRecord]:
        """Records `where` matches, newest first by event time (else learnt time), then by insertion order.

        `after` (keyset paging): only the records that come after the record with this id in that order (it
        need not match `where`); an unknown id raises `MemoryNotFoundError`. A page costs the same at any depth.
        """
        ...

    async def linking(self, record_id: str) -> list[MemoryRecord]:
        """Every stored record (any status, any user) that names `record_id` in its `source_ids` (a conclusion
        drawn from it) or in `superseded_by` (a record it replaced), oldest first. Indexed: not a scan."""
        ...

    async def user_counts(self) -> list[UserCounts]:
        """Every user of the store with their records counted by kind and by status (every status)."""
        ...

    async def ids_starting(self, prefix: str, where: RecordFilter, limit: int) -> list[str]:
        """Up to `limit` ids starting with `prefix` (taken literally) among the records `where` matches, sorted."""
        ...

    async def find_duplicates(
        self, records: Sequence[MemoryRecord], hashes: Sequence[str]
    ) -> list[MemoryRecord | None]:
        """For each record, the oldest non-deleted stored record with its content hash in exactly its scope."""
        ...

    async def previous_in_session(self, record: MemoryRecord, limit: int) -> list[MemoryRecord]:
        """Up to `limit` records stored before this one (or before now, if it is not stored) in its session (same
        scope), oldest first; [] without a session."""
        ...

    async def next_in_session(self, record: MemoryRecord, limit: int) -> list[MemoryRecord]:
        """Up to `limit` records stored after this stored one in its session, oldest first."""
        ...

    async def history(self, record_id: str) -> list[MemoryChange]: ...

    async def activity(self, limit: int) -> list[MemoryChange]:
        """The newest `limit` history entries that belong to no single record (`forget_user`, `export`), newest
        first: the tenant's activity log."""
        ...

    async def counts(self, where: RecordFilter) -> RecordCounts: ...

    async def blob_in_use(self, ref: str) -> bool: ...

    async def commit(self, changes: ChangeSet) -> CommitResult:
        """Write the change set atomically (see `ChangeSet`); raises `VersionConflict`, `MemoryNotFoundError` or
        `MemoryValidationError` with nothing written."""
        ...

    async def forget_user(self, user_id: str, actor: str) -> list[MemoryRecord]:
        """Purge every record, index entry, vector and history row of the user, logging one `forget_user` entry
        (without the user id); returns the records removed (their blobs are the store's to delete)."""
        ...

    async def touch(self, ids: Sequence[str], when: datetime) -> None:
        """Count one access of each record (not a change: no history row)."""
        ...


@runtime_checkable
class EncodingWriter(Protocol):
    """Optional: a backend that writes a batch of new records while their vectors are still being encoded."""

    @property
    def write_part(self) -> int:
        """Records per part: the store hands over a plain add of more new records than this (0: never)."""
        ...

    async def commit_encoding(self, changes: ChangeSet, encode: Encode) -> CommitResult:
        """`commit` of a change set of inserts only, whose embeddings (None) are `encode`d from their dense texts
        here, a part of the batch written while the next part encodes (the model and the database at work at
        once). Each part is atomic (a record, its vector and its history row together); a failure stops the
        batch and raises, the parts written before it stay, so adding the batch again stores each record once;
        input the backend cannot store is refused before anything is written."""
        ...


@runtime_checkable
class LexicalIndex(Protocol):
    """Full-text candidates. `terms` come from `indexing.query_terms` (the store tokenizes, so backends rank alike)."""

    async def lexical(self, terms: Sequence[str], where: RecordFilter, n: int) -> Candidates:
        """The best `n` (id, BM25-like score, higher is better) among the records `where` matches, with the filter
        applied together with the search (a selective filter never starves the result)."""
        ...


@runtime_checkable
class VectorIndex(Protocol):
    """Dense candidates and the vectors themselves."""

    async def dense(self, embedding: Sequence[float], where: RecordFilter, n: int) -> Candidates:
        """The best `n` (id, cosine similarity) among the records `where` matches (filter applied with the search)."""
        ...

    async def embeddings(self, user_id: str, ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored vectors of these records of one user (those that have one)."""
        ...

    async def pending_vectors(self, limit: int) -> list[MemoryRecord]:
        """Records whose vector is missing or stale, oldest first."""
        ...

    async def write_vectors(self, items: Sequence[VectorWrite]) -> None:
        """Store the vectors of pending records, with the dense texts they were made from, and mark them indexed.
        Skipped: records removed, changed (another version) or given a vector by another writer meanwhile, whose
        vector would be stale (a re-embedding in the background runs beside the store's writes)."""
        ...


@runtime_checkable
class Migrations(Protocol):
    """The backend's schema: created or upgraded in place when the backend opens."""

    async def schema_version(self) -> str: ...


@runtime_checkable
class StorageBackend(RecordBackend, LexicalIndex, VectorIndex, Migrations, Protocol):
    """One storage backend: everything above, plus its lifecycle and index maintenance."""

    name: str  # "embedded" | "postgres"

    @property
    def index_dirty(self) -> bool:
        """A vector write failed since the last check: the store runs `check_index(False)` and embeds pending."""
        ...

    async def check_index(self, full: bool) -> IndexCheck:
        """Make the vector index agree with the records as far as possible without an embedder: remove orphan
        vectors and mark records without a vector pending. `full=False` is the cheap check run on open."""
        ...

    async def close(self) -> None: ...


# -- copying a whole store to another backend (`omne memory migrate`, memory/migrate.py) ----------------
@dataclass(frozen=True)
class StoredRecord:
    """A record as a backend holds it: with its index texts and its vector (None: not embedded yet)."""

    seq: int  # the source's insertion order (pages follow it)
    record: MemoryRecord
    dense_text: str
    lexical_text: str
    embedding: Sequence[float] | None


@dataclass(frozen=True)
class HistoryRow:
    seq: int
    record_id: str | None
    user_id: str | None
    op: str
    actor: str
    at: datetime
    version: int | None
    before: str | None  # JSON text
    after: str | None
    details: str  # JSON text


class TransferSource(Protocol):
    async def store_id(self) -> str: ...
    async def embedder_name(self) -> str | None: ...
    async def export_records(self, after_seq: int, limit: int) -> list[StoredRecord]: ...
    async def export_history(self, after_seq: int, limit: int) -> list[HistoryRow]: ...
    async def counts_by_user(self) -> dict[str, int]: ...
    async def history_counts_by_user(self) -> dict[str | None, int]: ...


class TransferTarget(TransferSource, Protocol):
    async def import_records(self, records: Sequence[StoredRecord]) -> int: ...
    async def import_history(self, rows: Sequence[HistoryRow], marker: tuple[str, int]) -> int: ...
    async def get_marker(self, key: str) -> int: ...
