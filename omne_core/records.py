"""The unified memory model: one record type for raw data (L0) and derived conclusions (L1)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator


def utcnow() -> datetime:
    return datetime.now(UTC)


class MemoryLevel(StrEnum):
    L0 = "L0"  # raw data as it came in
    L1 = "L1"  # conclusions derived from L0 (or other L1) records


class MemoryKind(StrEnum):
    # L0: raw data
    MESSAGE = "message"
    EVENT = "event"
    DOCUMENT_CHUNK = "document_chunk"
    OBSERVATION = "observation"
    # L1: derived
    FACT = "fact"
    PREFERENCE = "preference"
    INSIGHT = "insight"
    SUMMARY = "summary"
    PROFILE = "profile"
    EXPERIENCE = "experience"

    @property
    def level(self) -> MemoryLevel:
        return MemoryLevel.L0 if self in L0_KINDS else MemoryLevel.L1


L0_KINDS = frozenset({MemoryKind.MESSAGE, MemoryKind.EVENT, MemoryKind.DOCUMENT_CHUNK, MemoryKind.OBSERVATION})
L1_KINDS = frozenset(set(MemoryKind) - L0_KINDS)


class Modality(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    FILE = "file"
    AUDIO = "audio"


class MemoryStatus(StrEnum):
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    DELETED = "deleted"


SCOPE_FIELDS = ("user_id", "agent_id", "session_id", "namespace")


class MemoryScope(BaseModel):
    """Who a record belongs to. Scope fields are hard filters: a search never crosses them.

    Unknown fields are rejected: a misspelt `sesion_id` would otherwise widen a scope silently."""

    model_config = {"frozen": True, "extra": "forbid"}

    user_id: str
    agent_id: str | None = None
    session_id: str | None = None
    namespace: str | None = None

    @field_validator("user_id")
    @classmethod
    def _user_id_not_blank(cls, value: str) -> str:
        if not value or not value.strip():
            raise ValueError("user_id must be a non-empty string")
        return value

    def contains(self, scope: MemoryScope) -> bool:
        """True when `scope` lies within this one: every field set here equals `scope`'s (the one copy of scope
        containment: a search, a `get` with a scope and an agent's read access all use it)."""
        return all(getattr(self, n) is None or getattr(self, n) == getattr(scope, n) for n in SCOPE_FIELDS)


class MemoryRecord(BaseModel):
    """One memory. L1 records cite the records they were derived from in `source_ids`."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    kind: MemoryKind
    text: str
    payload: dict[str, Any] | None = None  # optional structured content (JSON-able)
    modality: Modality = Modality.TEXT
    blob_ref: str | None = None  # sha256 of an image/file/audio in the BlobStore
    mime_type: str | None = None
    scope: MemoryScope
    source_ids: list[str] = Field(default_factory=list)  # provenance of L1 records
    event_time: datetime | None = None  # when it happened
    created_at: datetime = Field(default_factory=utcnow)  # when it was learnt
    updated_at: datetime = Field(default_factory=utcnow)
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    access_count: int = 0
    last_accessed_at: datetime | None = None
    status: MemoryStatus = MemoryStatus.ACTIVE
    superseded_by: str | None = None
    version: int = 1
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def level(self) -> MemoryLevel:
        return self.kind.level

    def content_hash(self) -> str:
        """Identity of the content within a scope: exact duplicates share it.

        Raw (L0) records are events: the same words at another time, or from another source message
        (`metadata["source_ref"]`, e.g. an AutoGen message id), are not duplicates. L1 conclusions
        are identified by kind and text alone.
        """
        h = hashlib.sha256()
        when = self.event_time.isoformat() if self.level is MemoryLevel.L0 and self.event_time else ""
        source_ref = str(self.metadata.get("source_ref", "")) if self.level is MemoryLevel.L0 else ""
        for part in (self.kind.value, self.text, self.blob_ref or "", when, source_ref):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()
