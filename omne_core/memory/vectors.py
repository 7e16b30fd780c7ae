"""The dense index: one chroma collection (embedded PersistentClient or a `chroma run` server, same code).

Chroma is an index, not the record of truth: the store rewrites it from SQLite whenever they disagree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..config import ChromaMode, OmneSettings
from .errors import MemoryStoreError
from .filters import SCOPE_FIELDS, record_ts
from .record import MemoryRecord


class VectorIndexError(MemoryStoreError):
    """The chroma store could not be opened or did not answer."""


def collection_name(prefix: str, store_id: str, embedder_name: str) -> str:
    """A valid chroma collection name unique to this store and vector space."""
    raw = f"{prefix}-{store_id[:12]}-{embedder_name}"
    name = re.sub(r"[^A-Za-z0-9._-]", "-", raw)[:500].strip("-._")
    return name if len(name) >= 3 else f"omne-{name}"


def vector_metadata(record: MemoryRecord) -> dict[str, Any]:
    """The filterable fields chroma keeps next to a vector (None fields are left out)."""
    meta: dict[str, Any] = {name: getattr(record.scope, name) for name in SCOPE_FIELDS if getattr(record.scope, name) is not None}
    meta.update(kind=record.kind.value, status=record.status.value, ts=record_ts(record))
    return meta


class VectorIndex:
    """Thin wrapper over a chroma collection with cosine distance."""

    def __init__(self, settings: OmneSettings, name: str) -> None:
        try:
            import chromadb
            from chromadb.config import Settings as ChromaClientSettings
        except ImportError as exc:  # pragma: no cover - hard dependency
            raise VectorIndexError("chromadb is not installed") from exc
        client_settings = ChromaClientSettings(anonymized_telemetry=False, allow_reset=False)
        chroma = settings.chroma
        try:
            if chroma.mode is ChromaMode.HTTP:
                self._client = chromadb.HttpClient(
                    host=chroma.host, port=chroma.port, ssl=chroma.ssl, settings=client_settings
                )
            else:
                path = settings.chroma_path
                path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(path), settings=client_settings)
            self._collection = self._client.get_or_create_collection(
                name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
        except Exception as exc:
            where = f"{chroma.host}:{chroma.port}" if chroma.mode is ChromaMode.HTTP else str(settings.chroma_path)
            raise VectorIndexError(f"cannot open chroma ({chroma.mode.value}) at {where}: {exc}") from exc
        self.name = name

    def upsert(self, records: Sequence[MemoryRecord], embeddings: Sequence[Sequence[float]]) -> None:
        if records:
            self._collection.upsert(
                ids=[r.id for r in records],
                embeddings=[list(e) for e in embeddings],
                metadatas=[vector_metadata(r) for r in records],
            )

    def update_metadata(self, records: Sequence[MemoryRecord]) -> None:
        if records:
            self._collection.update(ids=[r.id for r in records], metadatas=[vector_metadata(r) for r in records])

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._collection.delete(ids=list(ids))

    def delete_where(self, where: dict[str, Any]) -> None:
        self._collection.delete(where=where)

    def query(self, embedding: Sequence[float], n: int, where: dict[str, Any]) -> list[tuple[str, float]]:
        """(id, cosine similarity) best first."""
        result = self._collection.query(
            query_embeddings=[list(embedding)], n_results=n, where=where, include=["distances"]
        )
        ids = result["ids"][0] if result["ids"] else []
        distances = result["distances"][0] if result.get("distances") else [1.0] * len(ids)
        return [(rid, 1.0 - float(d)) for rid, d in zip(ids, distances, strict=True)]

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]:
        if not ids:
            return {}
        result = self._collection.get(ids=list(ids), include=["embeddings"])
        return {rid: list(map(float, emb)) for rid, emb in zip(result["ids"], result["embeddings"], strict=True)}

    def count(self) -> int:
        return self._collection.count()

    def all_ids(self) -> set[str]:
        ids: set[str] = set()
        offset, page = 0, 5000
        while True:
            batch = self._collection.get(include=[], limit=page, offset=offset)["ids"]
            ids.update(batch)
            if len(batch) < page:
                return ids
            offset += page

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            close()
