"""SSRF guard: which URLs and addresses the browser may reach.

Every URL (the first one and each redirect target) is checked for its scheme and host, and every TCP
connection is checked *after* DNS resolution and then pinned to the address that passed, so a name
cannot resolve to a public address for the check and to a private one for the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from functools import lru_cache

import httpcore
import httpx
from httpcore import AnyIOBackend, AsyncNetworkBackend, AsyncNetworkStream

from omne_core.config import WebSettings

from ..errors import BlockedUrlError, FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _describe(ip: IPAddress) -> str:
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast:
        return "a multicast address"
    return "not a public address"


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


class UrlGuard:
    """Decides whether a URL or a resolved address may be fetched, from `WebSettings`."""

    def __init__(self, settings: WebSettings) -> None:
        self._allowed_hosts = {_normalise_host(h) for h in settings.allowed_hosts}
        self._allow_file_urls = settings.allow_file_urls

    def is_allowed_host(self, host: str) -> bool:
        """True when `host` (as written in the URL) is exempt from the private-address block."""
        return _normalise_host(host) in self._allowed_hosts

    def check_url(self, url: str | httpx.URL) -> httpx.URL:
        """The parsed URL if its scheme and host may be fetched; raises `BlockedUrlError` otherwise."""
        try:
            parsed = httpx.URL(str(url))
        except (httpx.InvalidURL, TypeError) as exc:
            raise BlockedUrlError(f"Refused: {url!r} is not a valid URL ({exc}).") from exc
        if parsed.scheme == "file":
            if self._allow_file_urls:
                return parsed
            raise BlockedUrlError(f"Refused: file:// URLs are not allowed ({url}).")
        if parsed.scheme not in ("http", "https"):
            raise BlockedUrlError(
                f"Refused: only http and https URLs can be visited, not {parsed.scheme or 'no'}:// ({url})."
            )
        if not parsed.host:
            raise BlockedUrlError(f"Refused: {url!r} has no host.")
        if parsed.userinfo:
            raise BlockedUrlError(f"Refused: URLs with embedded credentials are not allowed ({parsed.host}).")
        host = _normalise_host(parsed.host)
        if not self.is_allowed_host(host):
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                ip = None
            if ip is not None:
                self.check_address(host, ip)
        return parsed

    def check_address(self, host: str, ip: IPAddress) -> None:
        """Raise `BlockedUrlError` unless `ip` is a public address or `host` is explicitly allowed."""
        if self.is_allowed_host(host):
            return
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            where = f"{host} is" if _normalise_host(host) == str(ip) else f"{host} resolves to {ip}, which is"
            raise BlockedUrlError(f"Refused: {where} {_describe(ip)} (not allowed for the web browser).")

    async def resolve(self, host: str, port: int) -> list[str]:
        """Resolve `host` and return its addresses, all checked; raises if any of them is not allowed."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(_normalise_host(host), port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise FetchError(f"Could not resolve host {host!r}: {exc.strerror or exc}.") from exc
        addresses: list[str] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            address = str(sockaddr[0]).split("%", 1)[0]
            self.check_address(host, ipaddress.ip_address(address))
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise FetchError(f"Could not resolve host {host!r}: no addresses.")
        return addresses


class GuardedNetworkBackend(AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks and pins every TCP connection."""

    def __init__(self, guard: UrlGuard) -> None:
        self._guard = guard
        self._backend = AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        addresses = await self._guard.resolve(host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        raise BlockedUrlError("Refused: unix sockets are not allowed for the web browser.")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


@lru_cache(maxsize=2)
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """Building an SSL context loads the CA bundle (~50 ms): do it once per process."""
    return httpx.create_ssl_context(verify=verify, trust_env=False)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx transport whose connections go through `GuardedNetworkBackend`; ignores proxy env vars."""

    def __init__(self, guard: UrlGuard, *, verify: bool = True) -> None:
        context = _ssl_context(verify)
        super().__init__(verify=context, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=10,
            max_keepalive_connections=5,
            network_backend=GuardedNetworkBackend(guard),
        )
