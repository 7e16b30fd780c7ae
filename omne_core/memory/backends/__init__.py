"""Storage backends of `MemoryStore`: the protocols they implement (`base.py`) and one package per backend.

`open_backend(settings, embedder)` opens the one `settings.store.backend` names: `embedded` (SQLite + FTS5 +
chroma under the data directory; the default) or `postgres` (PostgreSQL + pgvector at `store.postgres_url`).
"""

from __future__ import annotations

import importlib

from ...config import OmneSettings, StoreBackend
from ...embeddings import Embedder
from ...errors import ConfigurationError
from ..indexing import DENSE_FORMAT
from .base import (
    Candidates,
    ChangeSet,
    CommitResult,
    Encode,
    EncodingWriter,
    HistoryEntry,
    IndexCheck,
    IndexTexts,
    InsertOutcome,
    LexicalIndex,
    Migrations,
    NamedVectorSpace,
    NewRecord,
    RecordBackend,
    RecordCounts,
    Reindex,
    Replacement,
    StorageBackend,
    Supersession,
    UserCounts,
    VectorIndex,
    VectorWrite,
    VersionConflict,
    merge_change_sets,
    split_result,
    superseded_version,
)

# backend name -> "module:class"; the class has `async open(settings, space: NamedVectorSpace) -> StorageBackend`
BACKENDS = {
    StoreBackend.EMBEDDED: "omne_core.memory.backends.embedded:EmbeddedBackend",
    StoreBackend.POSTGRES: "omne_core.memory.backends.postgres:PostgresBackend",
}


class VectorSpace:
    """What a store's vectors are: the embedder's, of dense texts of `indexing.DENSE_FORMAT`. Its `name` is what a
    backend keeps and compares on open (another one: every record pending, re-embedded)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    @property
    def name(self) -> str:
        return f"{self.embedder.name}|{DENSE_FORMAT}"

    @property
    def dimension(self) -> int:
        return self.embedder.dimension


async def open_backend(settings: OmneSettings, embedder: Embedder) -> StorageBackend:
    """Open the storage backend the settings choose. The embedder only names the vector space (`VectorSpace`: its
    `name`, and `dimension` when a backend must size its vector column); backends never embed."""
    choice = settings.store.backend
    module_name, _, class_name = BACKENDS[choice].partition(":")
    if choice is StoreBackend.POSTGRES and settings.store.postgres_url is None:
        raise ConfigurationError("store.backend is 'postgres' but store.postgres_url is not set (OMNE_STORE__POSTGRES_URL)")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ConfigurationError(f"the {choice.value!r} storage backend is not available in this version of Omne") from exc
    backend: StorageBackend = await getattr(module, class_name).open(settings, VectorSpace(embedder))
    return backend


__all__ = [
    "BACKENDS",
    "Candidates",
    "ChangeSet",
    "CommitResult",
    "Encode",
    "EncodingWriter",
    "HistoryEntry",
    "IndexCheck",
    "IndexTexts",
    "InsertOutcome",
    "LexicalIndex",
    "Migrations",
    "NamedVectorSpace",
    "NewRecord",
    "RecordBackend",
    "RecordCounts",
    "Reindex",
    "Replacement",
    "StorageBackend",
    "Supersession",
    "UserCounts",
    "VectorIndex",
    "VectorWrite",
    "VersionConflict",
    "merge_change_sets",
    "open_backend",
    "split_result",
    "superseded_version",
]
