"""Omne Core memory: L0 raw data and L1 conclusions, scoped, versioned, searchable (dense + BM25)."""

from .context import MemoryContext, build_context
from .errors import (
    MemoryImportError,
    MemoryNotFoundError,
    MemoryStoreError,
    MemoryValidationError,
    ReflectionError,
)
from .record import (
    L0_KINDS,
    L1_KINDS,
    MemoryKind,
    MemoryLevel,
    MemoryRecord,
    MemoryScope,
    MemoryStatus,
    Modality,
)
from .results import ChangeOp, ImportResult, MemoryChange, MemoryStats, SearchHit
from .store import MemoryStore

__all__ = [
    "L0_KINDS",
    "L1_KINDS",
    "ChangeOp",
    "ImportResult",
    "MemoryChange",
    "MemoryContext",
    "MemoryImportError",
    "MemoryKind",
    "MemoryLevel",
    "MemoryNotFoundError",
    "MemoryRecord",
    "MemoryScope",
    "MemoryStats",
    "MemoryStatus",
    "MemoryStore",
    "MemoryStoreError",
    "MemoryValidationError",
    "Modality",
    "ReflectionError",
    "SearchHit",
    "build_context",
]
