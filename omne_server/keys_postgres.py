"""API keys in PostgreSQL: one table every server process of a deployment shares (`store.backend=postgres`).

The table lives in the deployment's base schema (`store.postgres_schema`, `omne` by default), beside the
tenants' own schemas. Needs the `postgres` extra (psycopg 3 and its pool).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from .keys import (
    COLUMNS,
    ApiKey,
    KeyStoreError,
    StoredKey,
    ThreadedKeyStore,
    check_tenant,
    hash_secret,
    new_token,
    row_key,
)


class PostgresKeyStore(ThreadedKeyStore):
    """The `KeyStore` of a PostgreSQL deployment (a small connection pool; calls run in worker threads)."""

    def __init__(self, url: str, schema: str, *, wait_s: float = 60.0) -> None:
        from psycopg import Connection, OperationalError, ProgrammingError, sql
        from psycopg_pool import ConnectionPool, PoolTimeout

        from omne_core.config.settings import redact_url
        from omne_core.memory.backends.postgres.pool import connect_failure

        self._url = url
        self._table = sql.Identifier(schema, "api_keys")
        connect_timeout = max(2, round(wait_s))
        try:  # one connection first: a clear error now, not a pool retrying (and logging) until it times out
            Connection.connect(url, connect_timeout=connect_timeout, autocommit=True).close()
        except (OperationalError, ProgrammingError) as exc:
            raise connect_failure(url, exc) from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=4,
            kwargs={"autocommit": True, "connect_timeout": connect_timeout},
            open=False,
            timeout=wait_s,
            name=redact_url(url),  # the pool's log lines name it
        )
        try:
            self._pool.open(wait=True, timeout=wait_s)
        except PoolTimeout as exc:
            self._pool.close()
            raise connect_failure(url, exc) from None
        ddl = sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (key_id text PRIMARY KEY, tenant text NOT NULL, secret_hash text NOT NULL,"
            " read_only boolean NOT NULL, label text, created_at timestamptz NOT NULL, revoked_at timestamptz)"
        ).format(self._table)
        with self._connection() as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute(ddl)

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A pooled connection; a server gone away (or no free connection in time) is a clear error naming the
        server with its password masked, never the driver's raw message."""
        from psycopg import OperationalError
        from psycopg_pool import PoolTimeout

        from omne_core.memory.backends.postgres.pool import connect_failure

        try:
            with self._pool.connection() as conn:
                yield conn
        except (OperationalError, PoolTimeout) as exc:
            raise connect_failure(self._url, exc) from None

    def _query(self, template: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        from psycopg import sql

        with self._connection() as conn:
            cur = conn.execute(sql.SQL(template).format(table=self._table, columns=sql.SQL(COLUMNS)), params)
            return cur.fetchall() if cur.description else []

    def _create(self, tenant: str, read_only: bool, label: str | None) -> tuple[ApiKey, str]:
        check_tenant(tenant)
        key_id, secret, token = new_token()
        now = datetime.now(UTC)
        self._query(
            "INSERT INTO {table} (key_id, tenant, secret_hash, read_only, label, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (key_id, tenant, hash_secret(secret), read_only, label, now),
        )
        return ApiKey(key_id=key_id, tenant=tenant, read_only=read_only, label=label, created_at=now), token

    def _list(self, tenant: str | None, include_revoked: bool) -> list[ApiKey]:
        where = " AND tenant = %s" if tenant is not None else ""
        where += "" if include_revoked else " AND revoked_at IS NULL"
        rows = self._query("SELECT {columns} FROM {table} WHERE true" + where + " ORDER BY created_at",
                           (tenant,) if tenant is not None else ())  # fmt: skip
        return [row_key(row).key for row in rows]

    def _revoke(self, key_id: str) -> ApiKey:
        self._query("UPDATE {table} SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL", (datetime.now(UTC), key_id))
        stored = self._lookup(key_id)
        if stored is None:
            raise KeyStoreError(f"no key with id {key_id!r}")
        return stored.key

    def _lookup(self, key_id: str) -> StoredKey | None:
        rows = self._query("SELECT {columns} FROM {table} WHERE key_id = %s", (key_id,))
        return row_key(rows[0]) if rows else None

    def _has_active(self) -> bool:
        return bool(self._query("SELECT 1 FROM {table} WHERE revoked_at IS NULL LIMIT 1"))

    def _close(self) -> None:
        self._pool.close()
