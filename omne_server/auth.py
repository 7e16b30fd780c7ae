"""Who is asking: `Authorization: Bearer <key>` → a `Principal` (tenant, key id, read-only or not).

The same `Authenticator` serves REST, MCP and (later) the web UI's login. A verified key is cached: with a
key store that says when its table changed (SQLite's `version()`), for as long as nothing changed, so a
revocation takes effect on the next request; otherwise (PostgreSQL, shared by many servers) for
`key_cache_s` seconds, the revocation delay on every server process. Unknown ids are never cached, so a new
key works at once. With no active key at all and a loopback listener,
requests without a key act as tenant `default` (a local, single-user server); a key that is sent is
always checked. The key itself never reaches a log line or an error message.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass

from omne_core.memory.wire import ProblemCode

from .keys import KeyStore, StoredKey, parse_token, secret_matches
from .problems import ApiProblem

OPEN_TENANT = "default"
OPEN_KEY_ID = "local"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="omne"'}


@dataclass(frozen=True)
class Principal:
    tenant: str
    key_id: str
    read_only: bool

    def actor(self, actor: str) -> str:
        """The actor written into the change history: the caller's name and the key that did it."""
        return f"{actor} [key {self.key_id}]"


def unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, ProblemCode.UNAUTHORIZED, detail, headers=_CHALLENGE)


def read_only_refused() -> ApiProblem:
    return ApiProblem(403, ProblemCode.READ_ONLY_KEY, "this key is read-only; writing needs a read-write key")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value (None when absent or another scheme)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def loopback_host(host: str | None) -> bool:
    """True for a Host header naming the loopback interface (127.0.0.1, localhost, [::1], any port)."""
    if not host:
        return False
    if host.startswith("["):  # [v6 address]:port
        name = host[1 : host.find("]")] if "]" in host else ""
    else:
        name = host.split(":", 1)[0]
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Authenticator:
    """Checks keys against a `KeyStore`, with a short cache of verified keys."""

    def __init__(self, keys: KeyStore, *, allow_open: bool = False, cache_s: float = 2.0) -> None:
        self.keys = keys
        self.allow_open = allow_open
        self.cache_s = cache_s
        self._verified: dict[str, tuple[float, object, StoredKey]] = {}  # key id -> (when, table version, key)
        self._open: tuple[float, object, bool] | None = None
        self._lock = asyncio.Lock()

    async def authenticate(self, authorization: str | None, host: str | None = None) -> Principal:
        """The principal of an Authorization header value; raises a 401 problem otherwise.

        `host` (the request's Host header) must name the loopback interface for a keyless request: a web page
        that rebinds its own DNS name to 127.0.0.1 must not reach a keyless local server.
        """
        token = bearer_token(authorization)
        if token is None:
            if authorization:
                raise unauthorized("the Authorization header must read `Bearer <key>`")
            if loopback_host(host) and await self.open_access():
                return Principal(OPEN_TENANT, OPEN_KEY_ID, read_only=False)
            raise unauthorized("an API key is required: `Authorization: Bearer <key>` (see `omne keys create`)")
        return await self.verify(token)

    async def verify(self, token: str) -> Principal:
        parsed = parse_token(token)
        if parsed is None:
            raise unauthorized("the API key is not valid")
        key_id, secret = parsed
        stored = await self._stored(key_id)
        if stored is None or not secret_matches(secret, stored.secret_hash) or not stored.key.active:
            raise unauthorized("the API key is not valid")
        return Principal(stored.key.tenant, stored.key.key_id, stored.key.read_only)

    def _version(self) -> object:
        """The key table's version when the store can tell it (None otherwise)."""
        version = getattr(self.keys, "version", None)
        return version() if version is not None else None

    def _fresh(self, at: float, version: object, now_version: object) -> bool:
        """A cached answer still holds: the table is unchanged, or (no version known) it is younger than cache_s."""
        if now_version is not None:
            return version == now_version
        return time.monotonic() - at < self.cache_s

    async def _stored(self, key_id: str) -> StoredKey | None:
        version = self._version()
        cached = self._verified.get(key_id)
        if cached is not None and self._fresh(cached[0], cached[1], version):
            return cached[2]
        stored = await self.keys.lookup(key_id)
        if stored is not None and stored.key.active:
            self._verified[key_id] = (time.monotonic(), version, stored)
        else:
            self._verified.pop(key_id, None)
        return stored

    async def open_access(self) -> bool:
        """True when keyless requests are allowed: a loopback server with no active key."""
        if not self.allow_open:
            return False
        version = self._version()
        if self._open is not None and self._fresh(self._open[0], self._open[1], version):
            return self._open[2]
        async with self._lock:
            is_open = not await self.keys.has_active_keys()
            self._open = (time.monotonic(), version, is_open)
        return is_open
