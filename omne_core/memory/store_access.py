"""How a component reaches a memory store: the public API it relies on, and opening the store a config names.

`MemoryStore` satisfies `MemoryStoreAPI`; so can a client of a memory server, which `OmneMemory` then uses
unchanged. Only public operations are listed: nothing here may reach into a store's internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..config import load_settings
from ..records import MemoryKind, MemoryRecord
from .filters import ScopeArg
from .results import SearchHit
from .store import MemoryStore
from .store_config import StoreConfig


class BlobAccess(Protocol):
    """Reading and writing the bytes of image and binary records (content-addressed: ref = sha256)."""

    async def aput_bytes(self, data: bytes) -> str: ...

    async def aget_bytes(self, ref: str) -> bytes: ...


@runtime_checkable
class MemoryStoreAPI(Protocol):
    """The operations `OmneMemory` uses (a subset of `MemoryStore`'s public API, same signatures)."""

    @property
    def is_open(self) -> bool: ...

    @property
    def blobs(self) -> BlobAccess: ...

    def open_config(self) -> StoreConfig: ...

    async def add(self, records: MemoryRecord | Sequence[MemoryRecord], *, actor: str = ...) -> list[MemoryRecord]: ...

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
    ) -> list[MemoryRecord]: ...

    async def delete_many(self, record_ids: Sequence[str], *, hard: bool = ..., actor: str = ...) -> int: ...

    async def close(self) -> None: ...


async def open_store(config: StoreConfig | None) -> MemoryStoreAPI:
    """Open the store a config names; None: the one this environment's settings name (OMNE_*, omne.toml)."""
    return await MemoryStore.open(config.to_settings() if config is not None else load_settings())
