"""One memory store per tenant, opened on first use and shared by every request of that tenant.

Isolation is physical, not a filter: each tenant's store has its own data directory under the server's
(`<data_dir>/server/tenants/<tenant>/`: SQLite, chroma, blobs) — on PostgreSQL its own schema — so a
record id of another tenant is simply not there, whatever a query says.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from omne_core.config import OmneSettings, StoreBackend
from omne_core.embeddings import Embedder, build_embedder
from omne_core.errors import ConfigurationError
from omne_core.memory import MemoryStore

from .keys import check_tenant

logger = logging.getLogger(__name__)


def server_dir(settings: OmneSettings) -> Path:
    """The server's own directory under the data directory: keys, tenant stores, the lock."""
    return Path(settings.data_dir) / "server"


class TenantStores:
    """Tenant name → its open `MemoryStore`; one embedding model shared by all of them."""

    def __init__(self, settings: OmneSettings, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.root = server_dir(settings) / "tenants"
        self._embedder = embedder
        self._stores: dict[str, MemoryStore] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._closed = False

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = build_embedder(self.settings.embedding)
        return self._embedder

    def settings_for(self, tenant: str) -> OmneSettings:
        """The tenant's settings: the server's, with its own data directory (and chroma under it) and, on
        PostgreSQL, its own schema (`<base schema>_t_<tenant>`)."""
        data_dir = self.root / check_tenant(tenant)
        chroma = self.settings.chroma.model_copy(update={"path": None})
        update: dict[str, object] = {"data_dir": data_dir, "chroma": chroma}
        if self.settings.store.backend is StoreBackend.POSTGRES:
            schema = f"{self.settings.store.postgres_schema}_t_{tenant}"
            if len(schema) > 63:
                raise ConfigurationError(f"the schema of tenant {tenant!r} ({schema}) is longer than PostgreSQL's 63 characters")
            update["store"] = self.settings.store.model_copy(update={"postgres_schema": schema})
        return self.settings.model_copy(update=update)

    async def get(self, tenant: str) -> MemoryStore:
        """The tenant's store, opening it (and creating its directory) on first use."""
        store = self._stores.get(tenant)
        if store is not None:
            return store
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            store = self._stores.get(tenant)
            if store is None:
                settings = self.settings_for(tenant)
                logger.info("opening the store of tenant %s", tenant)
                # a re-embedding after a change of embedder runs behind the store: the request is answered meanwhile
                store = await MemoryStore.open(settings, embedder=self.embedder, reembed_in_background=True)
                self._stores[tenant] = store
        return store

    def open_tenants(self) -> list[str]:
        return sorted(self._stores)

    async def close(self) -> None:
        """Close every open store (on shutdown, after in-flight requests finished)."""
        self._closed = True
        stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            try:
                await store.close()
            except Exception:  # one store failing to close must not keep the others open
                logger.exception("closing a tenant store failed")
