"""The UI's browser-side defences: strict response headers on every `/ui` response, and the origin check of a POST.

- Content-Security-Policy: no script at all, styles, images and forms from this origin only (no inline style, no
  plugin, no frame, no base tag); frame-ancestors 'none' and X-Frame-Options DENY (no clickjacking);
  Referrer-Policy no-referrer (record ids in URLs never leave); nosniff; pages are never cached.
- A POST must come from a page of this server: an `Origin` header naming another origin is refused, and so is a
  `Sec-Fetch-Site` other than same-origin (`same_origin`). The per-session CSRF token (`sessions.py`) is checked too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (  # the pages run no script at all
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class UiHeaders:
    """ASGI middleware: the security headers on every response under `prefix`; pages (not assets) uncached."""

    def __init__(self, app: ASGIApp, prefix: str, static_prefix: str) -> None:
        self.app, self.prefix, self.static_prefix = app, prefix, static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return
        static = path.startswith(self.static_prefix + "/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if not static:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)


def same_origin(request: Request) -> bool:
    """True unless the browser says the request comes from another site.

    `Sec-Fetch-Site` must be same-origin when sent. `Origin` must name this server; under `Referrer-Policy:
    no-referrer` browsers send `Origin: null` even for a same-origin form post, so `null` passes only when the
    browser attests same-origin in `Sec-Fetch-Site`. A client sending neither still needs the CSRF token.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return site == "same-origin"
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.scheme == request.url.scheme and parts.netloc.lower() == host.lower()
