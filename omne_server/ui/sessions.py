"""UI logins: a server-side session per browser, named by a random cookie value; the API key is never kept.

A login checks the pasted key once (`Authenticator.verify`) and keeps only what the key stands for (tenant, key
id, read-only). The cookie holds 256 random bits that name the session; the session holds its CSRF token.
A session ends on logout, after `ui_idle_s` without a request, after `ui_session_s` in all, or as soon as its key
is revoked (checked at most every `key_cache_s`; a keyless local session ends when the first key is created). Sessions live in this process's memory:
a restart logs everyone out, and several server processes each keep their own (log in per process).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..auth import Principal

StillValid = Callable[[Principal], Awaitable[bool]]  # is the key behind a session still good (not revoked)?

SESSION_COOKIE = "omne_ui"
LOGIN_COOKIE = "omne_ui_login"  # the login form's CSRF token (double submit), before there is a session
_MAX_SESSIONS = 10_000


@dataclass
class UiSession:
    """One logged-in browser: who it acts as and the token its forms must carry."""

    principal: Principal
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    created: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)
    key_checked: float = field(default_factory=time.monotonic)

    @property
    def read_only(self) -> bool:
        return self.principal.read_only

    def csrf_matches(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf.encode(), (token or "").encode())


class SessionStore:
    """Session id → `UiSession`, with idle and absolute expiry and a revocation check against the key store."""

    def __init__(self, still_valid: StillValid, *, lifetime_s: float, idle_s: float, key_check_s: float) -> None:
        self.still_valid = still_valid
        self.lifetime_s, self.idle_s, self.key_check_s = lifetime_s, idle_s, key_check_s
        self._sessions: dict[str, UiSession] = {}

    def create(self, principal: Principal) -> tuple[str, UiSession]:
        """A new session for a verified key: (the cookie value, the session)."""
        self._expire(time.monotonic())
        if len(self._sessions) >= _MAX_SESSIONS:  # a flood of logins must not grow memory without bound
            oldest = min(self._sessions, key=lambda sid: self._sessions[sid].last_seen)
            del self._sessions[oldest]
        session_id = secrets.token_urlsafe(32)
        session = UiSession(principal)
        self._sessions[session_id] = session
        return session_id, session

    async def get(self, session_id: str | None) -> UiSession | None:
        """The live session a cookie names, or None (unknown, expired, or its key revoked meanwhile)."""
        if not session_id:
            return None
        now = time.monotonic()
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if now - session.created > self.lifetime_s or now - session.last_seen > self.idle_s:
            self._sessions.pop(session_id, None)
            return None
        if now - session.key_checked > self.key_check_s:
            if not await self.still_valid(session.principal):
                self._sessions.pop(session_id, None)
                return None
            session.key_checked = now
        session.last_seen = now
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _expire(self, now: float) -> None:
        dead = [sid for sid, s in self._sessions.items()
                if now - s.created > self.lifetime_s or now - s.last_seen > self.idle_s]  # fmt: skip
        for sid in dead:
            del self._sessions[sid]
