"""`create_app`: the FastAPI application of `omne serve` — REST under `/v1`, MCP at `/mcp`, `/healthz`.

Every part authenticates through the one `Authenticator` in `app.state.omne` (a `ServerState`) and
reaches a tenant's store through `TenantStores`; a web UI under `/ui` plugs in the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Route

from omne_core.config import OmneSettings, StoreBackend
from omne_core.embeddings import Embedder
from omne_core.errors import ConfigurationError
from omne_core.memory.wire import API_PREFIX, Health
from omne_core.version import __version__

from .auth import Authenticator
from .keys import KeyStore, SqliteKeyStore
from .limits import Limits, RequestLimits
from .mcp_http import McpEndpoint, build_http_mcp
from .problems import install_problem_handlers
from .routes import files, operators, records, scopes
from .state import ModelFactory, ServerState
from .tenants import TenantStores, server_dir

logger = logging.getLogger(__name__)

UPLOAD_PATHS = (f"{API_PREFIX}/import", f"{API_PREFIX}/ingest", f"{API_PREFIX}/blobs")
MCP_PATH = "/mcp"


def open_key_store(settings: OmneSettings) -> KeyStore:
    """The key table of this deployment: in PostgreSQL (shared by every server process) when the store is
    there, else a SQLite file beside the embedded stores under the data directory."""
    if settings.store.backend is StoreBackend.POSTGRES:
        from .keys_postgres import PostgresKeyStore

        if settings.store.postgres_url is None:
            raise ConfigurationError("OMNE_STORE__BACKEND=postgres needs OMNE_STORE__POSTGRES_URL")
        return PostgresKeyStore(
            settings.store.postgres_url.get_secret_value(),
            settings.store.postgres_schema,
            wait_s=settings.store.postgres_wait_s,
        )
    return SqliteKeyStore(server_dir(settings) / "keys.sqlite3")


def default_model_factory(settings: OmneSettings) -> ModelFactory | None:
    role = settings.server.reflection_role
    if role is None:
        return None

    def build():  # the model is loaded on the first reflect/summarize, not at start-up
        from omne_core.models.factory import create_role_client

        return create_role_client(settings, role)

    return build


def create_app(
    settings: OmneSettings,
    *,
    keys: KeyStore | None = None,
    embedder: Embedder | None = None,
    model_factory: ModelFactory | None = None,
    allow_open: bool = False,
) -> FastAPI:
    """The server application. `allow_open`: with no active key, keyless requests act as tenant `default`
    (only ever set for a loopback listener)."""
    keys = keys or open_key_store(settings)
    server = settings.server
    state = ServerState(
        settings=settings,
        keys=keys,
        auth=Authenticator(keys, allow_open=allow_open, cache_s=server.key_cache_s),
        tenants=TenantStores(settings, embedder=embedder),
        model_factory=model_factory or default_model_factory(settings),
    )

    _, mcp_sessions = build_http_mcp(state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Store calls run in threads (SQLite, chroma); asyncio's default pool has cores + 4 of them, too few for
        # requests that wait on disk writes while others could use the CPU.
        threads = ThreadPoolExecutor(max_workers=server.worker_threads, thread_name_prefix="omne-store")
        asyncio.get_running_loop().set_default_executor(threads)
        try:
            async with mcp_sessions.run():
                yield
        finally:
            await state.close()

    app = FastAPI(
        title="Omne memory server",
        version=__version__,
        description="Long-term memory for agents: L0 raw records and L1 conclusions, per tenant. "
        "Every request but /healthz needs `Authorization: Bearer <key>` (`omne keys create`).",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN; the server must work offline
        redoc_url=None,
    )
    app.state.omne = state
    install_problem_handlers(app)
    app.add_middleware(
        RequestLimits,
        limits=Limits(
            max_bytes=server.max_request_bytes, timeout_s=server.request_timeout_s,
            upload_max_bytes=server.max_upload_bytes, upload_timeout_s=server.upload_timeout_s,
            upload_paths=UPLOAD_PATHS, untimed_paths=(MCP_PATH,), max_in_flight=server.max_in_flight,
        ),
    )  # fmt: skip

    @app.get("/healthz", response_model=Health, tags=["health"], summary="Liveness (no key needed)")
    async def healthz() -> Health:
        return Health(version=__version__)

    for module in (records, scopes, files, operators):
        app.include_router(module.router)
    if server.ui:
        from .ui import install_ui  # jinja2 and the templates load only when the inspector is served

        install_ui(app, state)
    app.router.routes.append(Route(MCP_PATH, endpoint=McpEndpoint(state, mcp_sessions), include_in_schema=False))
    return app
