"""Request limits as one ASGI middleware: body size, time to first byte, requests in flight, a last guard.

- A body over the limit is refused with 413 (Starlette's `RequestBodyLimitMiddleware` counts the bytes).
- A request whose response has not started within the time limit is cancelled and answered 504
  (work already handed to a thread may still finish: a retried write is deduplicated by its record id).
- Past `max_in_flight` concurrent requests, new ones get 503 `overloaded` with `Retry-After`.
- An exception nothing else handled is logged and answered as a bare 500 problem.
Paths under an upload prefix (import, ingest, blobs) get the larger upload limits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from omne_core.memory.wire import PROBLEM_MEDIA_TYPE, ProblemCode

from .problems import problem_bytes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    timeout_s: float
    upload_max_bytes: int
    upload_timeout_s: float
    upload_paths: Sequence[str] = ()
    untimed_paths: Sequence[str] = ()  # long-lived streams (MCP's event stream)
    max_in_flight: int = 256


class RequestLimits:
    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        upload = any(path.startswith(p) for p in self.limits.upload_paths)
        timeout = None if any(path.startswith(p) for p in self.limits.untimed_paths) else (
            self.limits.upload_timeout_s if upload else self.limits.timeout_s
        )
        if self.in_flight >= self.limits.max_in_flight:
            await _send_problem(send, 503, ProblemCode.OVERLOADED, "the server is busy; retry shortly",
                                [(b"retry-after", b"1")])  # fmt: skip
            return
        max_bytes = self.limits.upload_max_bytes if upload else self.limits.max_bytes
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:  # refused before a byte of the body is read
            await _send_problem(send, 413, ProblemCode.PAYLOAD_TOO_LARGE, _too_large(max_bytes), [(b"connection", b"close")])
            return
        app = RequestBodyLimitMiddleware(self.app, max_bytes)
        self.in_flight += 1
        try:
            await self._run(app, scope, receive, send, timeout)
        finally:
            self.in_flight -= 1

    async def _run(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit_s: float | None) -> None:
        started = asyncio.Event()

        async def tracked_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        task = asyncio.ensure_future(app(scope, receive, tracked_send))
        try:
            if limit_s is not None:
                waiter = asyncio.ensure_future(started.wait())
                done, _ = await asyncio.wait({task, waiter}, timeout=limit_s, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if not done:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    await _send_problem(send, 504, ProblemCode.TIMEOUT,
                                        f"the request took longer than the server's limit of {limit_s:g} s")  # fmt: skip
                    return
            await task
        except asyncio.CancelledError:
            task.cancel()
            raise
        except Exception:
            logger.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if not started.is_set():
                await _send_problem(send, 500, ProblemCode.INTERNAL_ERROR, "an internal error occurred; see the server log")


def _too_large(limit: int) -> str:
    return f"the request body exceeds the limit of {limit} bytes"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_problem(
    send: Send, status: int, code: ProblemCode, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = problem_bytes(status, code, detail)
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                    *headers],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
