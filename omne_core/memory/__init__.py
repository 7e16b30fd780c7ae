"""Omne Core memory: L0 raw data and L1 conclusions, scoped, versioned, searchable (dense + BM25)."""

from ..messages.memory import conversation_records
from ..records import (
    L0_KINDS,
    L1_KINDS,
    MemoryKind,
    MemoryLevel,
    MemoryRecord,
    MemoryScope,
    MemoryStatus,
    Modality,
)
from .autogen_memory import OmneMemory, OmneMemoryConfig
from .context import MemoryContext, build_context
from .conversation import record_conversation
from .errors import (
    AmbiguousIdError,
    DataDirectoryInUseError,
    MemoryAuthError,
    MemoryImportError,
    MemoryNotFoundError,
    MemoryPermissionError,
    MemoryServerError,
    MemoryServiceUnavailableError,
    MemoryStoreError,
    MemoryValidationError,
    ReflectionError,
    StoreNotOpenError,
    VectorSpaceChangedError,
)
from .ingest import IngestedFile, IngestReport, IngestSkip, discover_files, ingest_paths
from .maintenance import ConsolidationResult, ForgetPolicy, ForgetResult, MergeGroup, consolidate, forget
from .reflection import reflect, session_records, summarize_session, unreflected
from .remote import RemoteMemoryStore
from .results import (
    ChangeOp,
    ImportResult,
    MemoryChange,
    MemoryStats,
    RecordLinks,
    ReflectionNotes,
    ReflectionResult,
    SearchHit,
    UserSummary,
)
from .store import MemoryStore
from .store_access import MemoryStoreAPI, open_store
from .store_config import ServerStoreConfig, StoreConfig

__all__ = [
    "AmbiguousIdError",
    "ConsolidationResult",
    "DataDirectoryInUseError",
    "ForgetPolicy",
    "ForgetResult",
    "MergeGroup",
    "OmneMemory",
    "OmneMemoryConfig",
    "ReflectionNotes",
    "ReflectionResult",
    "conversation_records",
    "consolidate",
    "forget",
    "record_conversation",
    "reflect",
    "session_records",
    "summarize_session",
    "unreflected",
    "L0_KINDS",
    "L1_KINDS",
    "ChangeOp",
    "ImportResult",
    "MemoryChange",
    "MemoryContext",
    "MemoryAuthError",
    "MemoryImportError",
    "MemoryKind",
    "MemoryLevel",
    "MemoryNotFoundError",
    "MemoryRecord",
    "MemoryScope",
    "MemoryStats",
    "MemoryStatus",
    "MemoryPermissionError",
    "MemoryServerError",
    "MemoryServiceUnavailableError",
    "MemoryStore",
    "MemoryStoreAPI",
    "MemoryStoreError",
    "MemoryValidationError",
    "Modality",
    "ReflectionError",
    "RecordLinks",
    "SearchHit",
    "RemoteMemoryStore",
    "ServerStoreConfig",
    "UserSummary",
    "StoreConfig",
    "StoreNotOpenError",
    "VectorSpaceChangedError",
    "build_context",
    "open_store",
    "IngestedFile",
    "IngestReport",
    "IngestSkip",
    "discover_files",
    "ingest_paths",
]
