"""API keys in PostgreSQL: one table every server process of a deployment shares (`store.backend=postgres`).

The table lives in the deployment's base schema (`store.postgres_schema`, `omne` by default), beside the
tenants' own schemas. Needs the `postgres` extra (psycopg 3 and its pool).
"""

from __future__ import annotations

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

    def __init__(self, url: str, schema: str) -> None:
        from psycopg import sql
        from psycopg_pool import ConnectionPool

        self._table = sql.Identifier(schema, "api_keys")
        self._pool = ConnectionPool(url, min_size=1, max_size=4, kwargs={"autocommit": True}, open=True)
        ddl = sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (key_id text PRIMARY KEY, tenant text NOT NULL, secret_hash text NOT NULL,"
            " read_only boolean NOT NULL, label text, created_at timestamptz NOT NULL, revoked_at timestamptz)"
        ).format(self._table)
        with self._pool.connection() as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute(ddl)

    def _query(self, template: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        from psycopg import sql

        with self._pool.connection() as conn:
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
