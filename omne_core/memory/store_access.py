"""How a component reaches a memory store: the public API it relies on, and opening the store a config names.

The interface apart from its implementations: `MemoryStore` (this process) and `RemoteMemoryStore` (a client
of `omne serve`) both satisfy `MemoryStoreAPI`, so `OmneMemory`, the responders and the CLI work on either
unchanged. Only public operations are listed: nothing here may reach into a store's internals.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..config import OmneSettings, load_settings
from ..records import MemoryKind, MemoryRecord, MemoryStatus
from .filters import ScopeArg
from .metadata_filter import MetadataFilter
from .results import ImportResult, MemoryChange, MemoryStats, RecordLinks, SearchHit, UserSummary
from .store import MemoryStore
from .store_config import AnyStoreConfig, ServerStoreConfig, StoreConfig


class BlobAccess(Protocol):
    """Reading and writing the bytes of image and binary records (content-addressed: ref = sha256)."""

    async def aput_bytes(self, data: bytes) -> str: ...

    async def aget_bytes(self, ref: str) -> bytes: ...


@runtime_checkable
class MemoryStoreAPI(Protocol):
    """`MemoryStore`'s public operators, same signatures: what `OmneMemory`, the responders, reflection and the
    CLI rely on. `RemoteMemoryStore` (a client of `omne serve`) satisfies it too."""

    @property
    def is_open(self) -> bool: ...

    @property
    def blobs(self) -> BlobAccess: ...

    def open_config(self) -> StoreConfig | ServerStoreConfig: ...

    async def close(self) -> None: ...

    async def add(self, records: MemoryRecord | Sequence[MemoryRecord], *, actor: str = ...) -> list[MemoryRecord]: ...

    async def add_superseding(
        self, items: Sequence[tuple[MemoryRecord, Sequence[str]]], *, actor: str = ...
    ) -> list[tuple[MemoryRecord, list[str]]]: ...

    async def get(self, record_id: str, scope: ScopeArg | None = ...) -> MemoryRecord: ...

    async def resolve(self, id_or_prefix: str, scope: ScopeArg, *, candidates: int = ...) -> MemoryRecord: ...

    async def search(
        self,
        query: str,
        scope: ScopeArg,
        *,
        kinds: Sequence[MemoryKind | str] | None = ...,
        since: datetime | None = ...,
        until: datetime | None = ...,
        limit: int = ...,
        include_inactive: bool = ...,
        min_similarity: float | None = ...,
        metadata: MetadataFilter | None = ...,
    ) -> list[SearchHit]: ...

    async def list(
        self,
        scope: ScopeArg,
        *,
        kinds: Sequence[MemoryKind | str] | None = ...,
        since: datetime | None = ...,
        until: datetime | None = ...,
        limit: int | None = ...,
        include_inactive: bool = ...,
        oldest_first: bool = ...,
        statuses: Sequence[MemoryStatus | str] | None = ...,
        after: str | None = ...,
        metadata: MetadataFilter | None = ...,
    ) -> builtins.list[MemoryRecord]: ...

    async def links(self, record_id: str, scope: ScopeArg | None = ...) -> RecordLinks: ...

    async def users(self) -> builtins.list[UserSummary]: ...

    async def history(self, record_id: str) -> builtins.list[MemoryChange]: ...

    async def stats(self, scope: ScopeArg) -> MemoryStats: ...

    async def update(
        self,
        record_id: str,
        *,
        text: str | None = ...,
        payload: dict[str, Any] | None = ...,
        importance: float | None = ...,
        confidence: float | None = ...,
        metadata: dict[str, Any] | None = ...,
        event_time: datetime | None = ...,
        source_ids: Sequence[str] | None = ...,
        actor: str = ...,
    ) -> MemoryRecord: ...

    async def supersede(self, old_id: str, new_id: str, *, actor: str = ...) -> MemoryRecord: ...

    async def delete(self, record_id: str, *, hard: bool = ..., actor: str = ...) -> None: ...

    async def delete_many(self, record_ids: Sequence[str], *, hard: bool = ..., actor: str = ...) -> int: ...

    async def forget_user(self, user_id: str, *, actor: str = ...) -> int: ...

    async def export_jsonl(self, path: str | Path, scope: ScopeArg, *, actor: str | None = ...) -> int: ...

    async def import_jsonl(self, path: str | Path, *, actor: str = ...) -> ImportResult: ...


async def open_store(
    config: AnyStoreConfig | None, settings: OmneSettings | None = None, *, reembed_in_background: bool = False
) -> MemoryStoreAPI:
    """Open the store a config names; None: the one the settings name (default: this environment's, OMNE_* and
    omne.toml) — a server's when `OMNE_SERVER__URL` is set, else the local data directory's. A local store passes
    `reembed_in_background` on to `MemoryStore.open` (a long-lived caller: `omne mcp`)."""
    from .remote import RemoteMemoryStore

    if isinstance(config, ServerStoreConfig):
        return await RemoteMemoryStore.from_config(config, settings)
    if config is not None:
        return await MemoryStore.open(config.to_settings(), reembed_in_background=reembed_in_background)
    settings = settings or load_settings()
    if settings.server.url:
        return await RemoteMemoryStore.from_settings(settings)
    return await MemoryStore.open(settings, reembed_in_background=reembed_in_background)
