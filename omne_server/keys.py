"""API keys: one tenant each, read-write or read-only, stored hashed, shown once.

A key reads `omne_<key id>_<secret>`: the id (12 hex digits, not secret) finds the row; the secret (256
random bits) is stored as its SHA-256 digest and compared in constant time. A fast hash is sound here,
unlike for passwords: a 256-bit random secret cannot be guessed from its digest, so a slow KDF would
only slow every request down.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from omne_core.errors import OmneError

TOKEN_PREFIX = "omne"
_TOKEN = re.compile(r"^omne_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
TENANT_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
_TENANT = re.compile(TENANT_PATTERN)


class KeyStoreError(OmneError, ValueError):
    """A key operation was refused (bad tenant name, unknown key id)."""


class ApiKey(BaseModel):
    """A key as stored and listed: never its secret."""

    key_id: str
    tenant: str
    read_only: bool
    label: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class StoredKey(BaseModel):
    key: ApiKey
    secret_hash: str


def check_tenant(tenant: str) -> str:
    """A tenant name: a letter, then up to 39 lower-case letters, digits or `_` (safe as a folder and a schema)."""
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise KeyStoreError(f"tenant must match {TENANT_PATTERN} (lower-case letters, digits, _), got {tenant!r}")
    return tenant


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def new_token() -> tuple[str, str, str]:
    """A fresh key: (key id, secret, the full token shown to the user once)."""
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    return key_id, secret, f"{TOKEN_PREFIX}_{key_id}_{secret}"


def parse_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    match = _TOKEN.match(token or "")
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


class KeyStore(Protocol):
    """Where keys live: a SQLite file beside the embedded stores, or a table every server process shares."""

    async def create(self, tenant: str, *, read_only: bool = False, label: str | None = None) -> tuple[ApiKey, str]: ...

    async def list(self, tenant: str | None = None, *, include_revoked: bool = False) -> list[ApiKey]: ...

    async def revoke(self, key_id: str) -> ApiKey: ...

    async def lookup(self, key_id: str) -> StoredKey | None: ...

    async def has_active_keys(self) -> bool: ...

    async def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    read_only INTEGER NOT NULL,
    label TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""
COLUMNS = "key_id, tenant, read_only, label, created_at, revoked_at, secret_hash"


def _when(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def row_key(row: tuple[Any, ...]) -> StoredKey:
    """A key from a row of `COLUMNS` (SQLite keeps times as ISO text, PostgreSQL as timestamptz)."""
    key_id, tenant, read_only, label, created, revoked, secret_hash = row
    key = ApiKey(
        key_id=key_id, tenant=tenant, read_only=bool(read_only), label=label,
        created_at=_when(created), revoked_at=_when(revoked) if revoked else None,
    )  # fmt: skip
    return StoredKey(key=key, secret_hash=secret_hash)


class ThreadedKeyStore(ABC):
    """A `KeyStore` over a blocking database client: each call runs in a worker thread."""

    @abstractmethod
    def _create(self, tenant: str, read_only: bool, label: str | None) -> tuple[ApiKey, str]: ...

    @abstractmethod
    def _list(self, tenant: str | None, include_revoked: bool) -> list[ApiKey]: ...

    @abstractmethod
    def _revoke(self, key_id: str) -> ApiKey: ...

    @abstractmethod
    def _lookup(self, key_id: str) -> StoredKey | None: ...

    @abstractmethod
    def _has_active(self) -> bool: ...

    @abstractmethod
    def _close(self) -> None: ...

    async def create(self, tenant: str, *, read_only: bool = False, label: str | None = None) -> tuple[ApiKey, str]:
        """A new key for `tenant`: the stored key and the token, which is shown now and never again."""
        return await asyncio.to_thread(self._create, tenant, read_only, label)

    async def list(self, tenant: str | None = None, *, include_revoked: bool = False) -> list[ApiKey]:
        return await asyncio.to_thread(self._list, tenant, include_revoked)

    async def revoke(self, key_id: str) -> ApiKey:
        return await asyncio.to_thread(self._revoke, key_id)

    async def lookup(self, key_id: str) -> StoredKey | None:
        return await asyncio.to_thread(self._lookup, key_id)

    async def has_active_keys(self) -> bool:
        return await asyncio.to_thread(self._has_active)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)


class SqliteKeyStore(ThreadedKeyStore):
    """Keys in `<data_dir>/server/keys.sqlite3` (WAL): `omne keys` may write while the server reads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._writes = 0  # this connection's own commits (SQLite's data_version counts only the others')
        self._db: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        with self._conn() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db is None:
                raise KeyStoreError("the key store is closed")
            yield self._db

    def version(self) -> tuple[int, int] | None:
        """A value that changes whenever any process commits to the key table: while it stays the same, a cached
        key is still what the table says, so a revocation (by `omne keys revoke` too) is seen at once. Cheap
        enough for every request (SQLite reads a counter in shared memory); None when the store is busy."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._db is None:
                return None
            return self._db.execute("PRAGMA data_version").fetchone()[0], self._writes
        finally:
            self._lock.release()

    def _create(self, tenant: str, read_only: bool, label: str | None) -> tuple[ApiKey, str]:
        check_tenant(tenant)
        key_id, secret, token = new_token()
        now = datetime.now(UTC)
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, tenant, secret_hash, read_only, label, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, tenant, hash_secret(secret), int(read_only), label, now.isoformat()),
            )
            self._writes += 1
        return ApiKey(key_id=key_id, tenant=tenant, read_only=read_only, label=label, created_at=now), token

    def _list(self, tenant: str | None, include_revoked: bool) -> list[ApiKey]:
        sql, params = f"SELECT {COLUMNS} FROM api_keys WHERE 1=1", []
        if tenant is not None:
            sql += " AND tenant = ?"
            params.append(tenant)
        if not include_revoked:
            sql += " AND revoked_at IS NULL"
        with self._conn() as conn:
            return [row_key(row).key for row in conn.execute(sql + " ORDER BY created_at", params)]

    def _revoke(self, key_id: str) -> ApiKey:
        with self._conn() as conn:
            conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (datetime.now(UTC).isoformat(), key_id),
            )
            self._writes += 1
        stored = self._lookup(key_id)
        if stored is None:
            raise KeyStoreError(f"no key with id {key_id!r}")
        return stored.key

    def _lookup(self, key_id: str) -> StoredKey | None:
        with self._conn() as conn:
            row = conn.execute(f"SELECT {COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return row_key(row) if row else None

    def _has_active(self) -> bool:
        with self._conn() as conn:
            return conn.execute("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1").fetchone() is not None

    def _close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
