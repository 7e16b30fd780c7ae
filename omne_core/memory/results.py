"""Typed results of memory operations: search hits, history entries, statistics."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from ..records import MemoryRecord


class SearchHit(BaseModel):
    """A record found by `MemoryStore.search`, with its fused score and why it ranked."""

    record: MemoryRecord
    score: float
    dense_score: float | None = None  # cosine similarity, when the vector index found it
    lexical_score: float | None = None  # BM25 score (higher is better), when FTS5 found it
    reasons: list[str] = Field(default_factory=list)
    # For an L1 hit: the records it cites that lie in the searched scope (best first), shown with it in context.
    sources: list[MemoryRecord] = Field(default_factory=list)


class ChangeOp(StrEnum):
    ADD = "add"
    IMPORT = "import"
    UPDATE = "update"
    SUPERSEDE = "supersede"
    DELETE = "delete"
    HARD_DELETE = "hard_delete"
    FORGET_USER = "forget_user"
    EXPORT = "export"  # a read worth auditing: who took a copy of a user's memory (the tenant's activity)


class MemoryChange(BaseModel):
    """One entry of the append-only change history: what changed, when, by whom."""

    seq: int
    record_id: str | None
    op: ChangeOp
    actor: str
    at: datetime
    version: int | None = None
    before: dict[str, Any] | None = None  # the record before the change (None when purged or new)
    after: dict[str, Any] | None = None  # the record after the change (None when deleted or purged)
    details: dict[str, Any] = Field(default_factory=dict)


class MemoryStats(BaseModel):
    """Counts of a scope's records."""

    total: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    pending_index: int = 0  # records without a vector yet: found by their words only
    reembedding: bool = False  # a background re-embedding (the server's, after a change of embedder) is running
    blobs: int = 0
    embedder: str = ""


class UserSummary(BaseModel):
    """One user of a store: their records (every status) by kind and by status."""

    user_id: str
    total: int
    by_kind: dict[str, int]
    by_status: dict[str, int]


class RecordLinks(BaseModel):
    """A record's provenance both ways and its supersession neighbours (`MemoryStore.links`)."""

    record: MemoryRecord
    sources: list[MemoryRecord] = Field(default_factory=list)  # what it cites, in `source_ids` order
    missing_sources: list[str] = Field(default_factory=list)  # cited ids no longer stored (hard-deleted)
    cited_by: list[MemoryRecord] = Field(default_factory=list)  # conclusions citing it, oldest first
    supersedes: list[MemoryRecord] = Field(default_factory=list)  # records it replaced
    superseded_by: MemoryRecord | None = None  # the record that replaced it


class ImportResult(BaseModel):
    imported: int
    skipped: int  # already present (same id or same content in the same scope)


class ReflectionNotes(BaseModel):
    """What a reflection did to the model's conclusions besides storing them as written (the CLI and the
    responder's report both show it)."""

    rejected: list[str] = Field(default_factory=list)  # conclusions the model wrote that were dropped, and why
    recited: list[str] = Field(default_factory=list)  # conclusions stored with other sources than the model cited, and why

    def notes(self) -> list[tuple[str, list[str]]]:
        """("dropped" | "re-cited", the whys), for each that happened."""
        return [(said, whys) for said, whys in (("dropped", self.rejected), ("re-cited", self.recited)) if whys]


class ReflectionResult(ReflectionNotes):
    """What a reflection wrote: new L1 records and (old id, new id) supersessions."""

    created: list[MemoryRecord] = Field(default_factory=list)
    superseded: list[tuple[str, str]] = Field(default_factory=list)
    source_ids: list[str] = Field(default_factory=list)  # the L0 records shown to the model
