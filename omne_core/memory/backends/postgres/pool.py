"""One async connection pool per PostgreSQL URL, shared by every store of the process that uses that URL.

The server opens one store per tenant (a schema each), several in one process: they share the URL's pool, and
every statement names its schema. A connection is checked before it is handed out, so after a database restart
the next call gets a fresh connection instead of a dead one. Errors and logs carry the URL with its password
masked (`redact_url`), never the URL itself.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from psycopg import AsyncConnection, OperationalError
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ....config.settings import redact_url
from ...errors import MemoryStoreError

logger = logging.getLogger(__name__)
SESSION_EF_SEARCH = 200


class PostgresUnavailableError(MemoryStoreError):
    """The PostgreSQL server cannot be reached (or refused the connection); the message names it, password masked."""


@dataclass
class _Shared:
    pool: AsyncConnectionPool
    users: int = 0
    loop: asyncio.AbstractEventLoop | None = field(default=None)


_pools: dict[tuple[str, asyncio.AbstractEventLoop], _Shared] = {}  # keyed by the loop itself: ids are reused


async def _configure(conn: AsyncConnection) -> None:
    """Per connection: find the pgvector extension (the `vector` type and its operators) and register it."""
    from pgvector.psycopg import register_vector_async

    row = await (
        await conn.execute(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'vector'"
        )
    ).fetchone()
    if row is None:
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except Exception as exc:
            raise PostgresUnavailableError(
                "the pgvector extension is not installed in this database and this role may not create it "
                f"({exc.__class__.__name__}: {exc}); ask an administrator to run `CREATE EXTENSION vector`"
            ) from None
        row = await (
            await conn.execute(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                " WHERE e.extname = 'vector'"
            )
        ).fetchone()
    assert row is not None
    await conn.execute("SELECT set_config('search_path', quote_ident(%s), false)", (row[0],))
    # the HNSW candidate list of a search's fast path (dense_candidates 50 x overfetch 4); more: set per query
    await conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(SESSION_EF_SEARCH),))
    await register_vector_async(conn)


def unavailable(url: str, exc: BaseException) -> PostgresUnavailableError:
    """A clear error for a failed connection: the server (password masked) and the driver's reason."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return PostgresUnavailableError(f"PostgreSQL at {redact_url(url)} is unavailable: {reason}")


async def check_server(url: str, wait_s: float) -> None:
    """Connect once and prepare the connection: a clear error now (server down, bad password, no pgvector)
    instead of a pool that waits for connections that never come."""
    try:
        conn = await AsyncConnection.connect(url, connect_timeout=max(1, round(wait_s)), autocommit=True)
    except OperationalError as exc:
        raise unavailable(url, exc) from None
    try:
        await _configure(conn)
    finally:
        await conn.close()


async def acquire_pool(url: str, *, max_size: int = 10, wait_s: float = 30.0) -> AsyncConnectionPool:
    """The shared pool of `url` on this event loop (opened, and its first connection checked, on first use)."""
    loop = asyncio.get_running_loop()
    key = (url, loop)
    shared = _pools.get(key)
    if shared is None:
        await check_server(url, wait_s)
        pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            open=False,
            kwargs={"autocommit": True},  # a transaction only where a method opens one
            configure=_configure,
            check=AsyncConnectionPool.check_connection,
            timeout=wait_s,
            reconnect_timeout=wait_s,
            name=redact_url(url),
        )
        try:
            await pool.open(wait=True, timeout=wait_s)
        except (PoolTimeout, OperationalError) as exc:
            await pool.close()
            raise unavailable(url, exc) from None
        shared = _pools.setdefault(key, _Shared(pool, loop=loop))
        if shared.pool is not pool:  # another task opened it meanwhile
            await pool.close()
    shared.users += 1
    return shared.pool


async def release_pool(url: str) -> None:
    """A store is done with the pool of `url`; the last one closes it."""
    key = (url, asyncio.get_running_loop())
    shared = _pools.get(key)
    if shared is None:
        return
    shared.users -= 1
    if shared.users <= 0:
        del _pools[key]
        await shared.pool.close()
