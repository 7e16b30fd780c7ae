"""One async connection pool per PostgreSQL URL and event loop, shared by every store of the process on that URL.

The server opens one store per tenant (a schema each), several in one process: they share the URL's pool, and
every statement names its schema. A connection is checked before it is handed out (without a round trip unless
its socket has something to read: a server that went away closed it), so after a database restart the next call
gets a fresh connection instead of a dead one. Every wait is bounded (`wait_s`: connecting, a free
pooled connection, a lock another writer holds): past it the call fails with a clear error instead of hanging.
Errors and logs carry the URL with its password masked (`redact_url`), never the URL itself.
"""

from __future__ import annotations

import asyncio
import logging
import select
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from psycopg import AsyncConnection, OperationalError, ProgrammingError, errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ....config.settings import redact_secrets, redact_url
from ....errors import ConfigurationError, OmneError
from ...errors import MemoryStoreError

logger = logging.getLogger(__name__)
SESSION_EF_SEARCH = 500  # with the default HNSW build (8, 32): within 0.005 of (8, 48)'s recall at 400 (StoreSettings)


class PostgresUnavailableError(MemoryStoreError):
    """The PostgreSQL server cannot be reached (or refused the connection); the message names it, password masked."""


class PostgresBusyError(MemoryStoreError):
    """A call waited longer than `store.postgres_wait_s` for a lock another session holds (another writer of the
    same user, a schema migration): nothing of it was written. A stalled process holding the lock is the usual cause."""


@dataclass
class _Shared:
    pool: AsyncConnectionPool
    users: int = 0


_pools: dict[tuple[str, asyncio.AbstractEventLoop], _Shared] = {}  # keyed by the loop itself: ids are reused


def _configurer(wait_s: float) -> Callable[[AsyncConnection], Awaitable[None]]:
    async def configure(conn: AsyncConnection) -> None:
        await _configure(conn, wait_s)

    return configure


async def _configure(conn: AsyncConnection, wait_s: float) -> None:
    """Per connection: find the pgvector extension (the `vector` type and its operators) and register it; bound
    every lock wait (a writer of the same user, a migration) to `wait_s`."""
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
    # the HNSW candidate list of a search's fast path (it fetches dense_candidates 200 x overfetch 2); more: set per query
    await conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(SESSION_EF_SEARCH),))
    await conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{max(1, round(wait_s * 1000))}ms",))
    await register_vector_async(conn)


async def _check(conn: AsyncConnection) -> None:
    """Check a pooled connection before it is handed out. An idle connection's socket has nothing to read unless
    the server closed it (a restart, a terminated backend) or sent a message: only then a round trip tells."""
    if conn.closed or conn.broken:
        raise OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


def unavailable(url: str, exc: BaseException) -> PostgresUnavailableError:
    """A clear error for a failed connection: the server (password masked) and the driver's reason."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    reason = redact_secrets(reason, url)  # the driver may quote the URL it could not use
    return PostgresUnavailableError(f"PostgreSQL at {redact_url(url)} is unavailable: {reason}")


def connect_failure(url: str, exc: BaseException) -> OmneError:
    """A clear error for a connection that could not be made: a URL libpq cannot parse (a configuration error;
    libpq's message quotes the URL, so it is masked) or a server that cannot be reached."""
    if isinstance(exc, ProgrammingError):
        return ConfigurationError(
            "store.postgres_url (OMNE_STORE__POSTGRES_URL) is not a PostgreSQL URL libpq can use: "
            f"{redact_secrets(str(exc).strip(), url)}"
        )
    return unavailable(url, exc)


def failure(url: str, exc: OperationalError, wait_s: float) -> MemoryStoreError:
    """A clear error for a statement that failed: a lock waited for too long, or the server gone."""
    if isinstance(exc, errors.LockNotAvailable):
        return PostgresBusyError(
            f"PostgreSQL at {redact_url(url)}: waited more than {wait_s:g} s for a lock held by another session "
            "(another writer of the same user, or a schema migration); nothing was written. Is a process stalled "
            "holding it? (store.postgres_wait_s sets the wait)"
        )
    return unavailable(url, exc)


async def connect(url: str, wait_s: float) -> AsyncConnection:
    """One prepared connection (autocommit), outside any pool; a clear error within `wait_s` if it cannot be had
    (server down, bad password, no pgvector)."""
    try:
        conn = await asyncio.wait_for(
            AsyncConnection.connect(url, connect_timeout=max(2, round(wait_s)), autocommit=True), wait_s
        )
    except (OperationalError, ProgrammingError, TimeoutError) as exc:
        raise connect_failure(url, exc) from None
    try:
        await _configure(conn, wait_s)
    except BaseException:
        await conn.close()
        raise
    return conn


async def check_server(url: str, wait_s: float) -> None:
    """Connect once and prepare the connection: a clear error now instead of a pool waiting for connections
    that never come."""
    conn = await connect(url, wait_s)
    await conn.close()


async def acquire_pool(url: str, *, max_size: int = 10, wait_s: float = 60.0) -> AsyncConnectionPool:
    """The shared pool of `url` on this event loop (opened, and its first connection checked, on first use)."""
    key = (url, asyncio.get_running_loop())
    shared = _pools.get(key)
    if shared is None:
        await check_server(url, wait_s)
        pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            open=False,
            kwargs={"autocommit": True, "connect_timeout": max(2, round(wait_s))},  # a transaction only where a method opens one
            configure=_configurer(wait_s),
            check=_check,
            timeout=wait_s,
            reconnect_timeout=wait_s,
            name=redact_url(url),
        )
        try:
            await pool.open(wait=True, timeout=wait_s)
        except (PoolTimeout, OperationalError) as exc:
            await pool.close()
            raise unavailable(url, exc) from None
        shared = _pools.setdefault(key, _Shared(pool))
        if shared.pool is not pool:  # another task opened it meanwhile
            await pool.close()
    shared.users += 1
    return shared.pool


async def release_pool(url: str, loop: asyncio.AbstractEventLoop) -> None:
    """A store opened on `loop` is done with the pool of `url`; the last one closes it (a pool whose loop has
    ended is dropped: its connections close as it is collected)."""
    key = (url, loop)
    shared = _pools.get(key)
    if shared is None:
        return
    shared.users -= 1
    if shared.users > 0:
        return
    del _pools[key]
    if loop is asyncio.get_running_loop():
        await shared.pool.close()
    elif not loop.is_closed() and loop.is_running():
        asyncio.run_coroutine_threadsafe(shared.pool.close(), loop)
