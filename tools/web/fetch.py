"""Guarded HTTP fetching: redirects followed by hand (each hop checked), size and time caps."""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path
from urllib.parse import unquote, urljoin

import httpx
from pydantic import BaseModel, Field

from omne_core.config import WebSettings

from ..errors import FetchError, FetchTimeoutError, PageTooLargeError
from .guard import GuardedTransport, UrlGuard

REDIRECT_CODES = {301, 302, 303, 307, 308}
TEXT_MEDIA_TYPES = {
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-javascript",
}
HTML_MEDIA_TYPES = {"text/html", "application/xhtml+xml"}


class FetchedResource(BaseModel):
    """One fetched response body with what the browser needs to render it."""

    url: str  # final URL, after redirects
    status_code: int = 200
    reason: str = "OK"
    media_type: str = ""  # e.g. "text/html", lower case, without parameters
    charset: str | None = None
    content_disposition: str | None = None
    body: bytes = b""
    redirects: list[str] = Field(default_factory=list)  # URLs that redirected, in order

    @property
    def is_html(self) -> bool:
        if self.media_type in HTML_MEDIA_TYPES:
            return True
        if self.media_type in ("", "application/octet-stream", "text/plain"):
            head = self.body[:1024].lstrip().lower()
            return head.startswith((b"<!doctype html", b"<html"))
        return False

    @property
    def is_text(self) -> bool:
        return self.media_type.startswith("text/") or self.media_type in TEXT_MEDIA_TYPES


def is_page_media_type(media_type: str) -> bool:
    """True for responses shown as pages (HTML, text); False for downloads (PDF, XLSX, images, ...)."""
    return media_type in HTML_MEDIA_TYPES or media_type.startswith("text/") or media_type in TEXT_MEDIA_TYPES


def _split_content_type(value: str) -> tuple[str, str | None]:
    parts = [p.strip() for p in value.split(";")]
    charset = None
    for param in parts[1:]:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val:
            charset = val.strip().strip('"')
    return parts[0].lower(), charset


class Fetcher:
    """Fetches URLs for the browser under the SSRF guard and the limits of `WebSettings`."""

    def __init__(self, settings: WebSettings, guard: UrlGuard | None = None) -> None:
        self._settings = settings
        self._guard = guard or UrlGuard(settings)
        self.cookies = httpx.Cookies()

    async def fetch(self, url: str) -> FetchedResource:
        """GET `url`, following at most `max_redirects` redirects; raises a `ToolError` subclass on failure."""
        timeout = self._settings.request_timeout_s
        try:
            async with asyncio.timeout(timeout):
                return await self._fetch(url)
        except TimeoutError as exc:
            raise FetchTimeoutError(f"Timed out: {url} did not load within {timeout:g} s.") from exc

    async def _fetch(self, url: str) -> FetchedResource:
        settings = self._settings
        headers = {
            "User-Agent": settings.user_agent,
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "en-US,en;q=0.8",
        }
        redirects: list[str] = []
        async with httpx.AsyncClient(
            transport=GuardedTransport(self._guard),
            headers=headers,
            cookies=self.cookies,
            timeout=settings.request_timeout_s,
            follow_redirects=False,
            trust_env=False,
        ) as client:
            current = self._guard.check_url(url)
            for _hop in range(settings.max_redirects + 1):
                if current.scheme == "file":
                    return self._read_file_url(current, redirects)
                try:
                    async with client.stream("GET", current) as response:
                        location = response.headers.get("location")
                        if response.status_code in REDIRECT_CODES and location:
                            redirects.append(str(current))
                            current = self._guard.check_url(urljoin(str(current), location))
                            continue
                        resource = await self._read(response, current, redirects)
                        self.cookies.update(client.cookies)
                        return resource
                except httpx.TimeoutException as exc:
                    raise FetchTimeoutError(f"Timed out: {current} did not answer in time.") from exc
                except httpx.HTTPError as exc:
                    raise FetchError(f"Could not fetch {current}: {type(exc).__name__}: {exc}") from exc
        raise FetchError(f"Too many redirects (more than {settings.max_redirects}) starting at {url}.")

    async def _read(self, response: httpx.Response, url: httpx.URL, redirects: list[str]) -> FetchedResource:
        media_type, charset = _split_content_type(response.headers.get("content-type", ""))
        page = is_page_media_type(media_type) or not media_type
        limit = self._settings.max_page_bytes if page else self._settings.max_download_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PageTooLargeError(
                f"Refused: {url} is {int(declared):,} bytes, over the {limit:,}-byte limit."
            )
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > limit:
                raise PageTooLargeError(f"Refused: {url} is larger than the {limit:,}-byte limit.")
            chunks.append(chunk)
        return FetchedResource(
            url=str(url),
            status_code=response.status_code,
            reason=response.reason_phrase,
            media_type=media_type,
            charset=charset,
            content_disposition=response.headers.get("content-disposition"),
            body=b"".join(chunks),
            redirects=redirects,
        )

    def _read_file_url(self, url: httpx.URL, redirects: list[str]) -> FetchedResource:
        """A local file, only reachable when `allow_file_urls` is set (the guard refuses it otherwise)."""
        if redirects:
            raise FetchError("Refused: a web page may not redirect to a file:// URL.")
        path = Path(unquote(url.path))
        if not path.is_file():
            raise FetchError(f"No such file: {path}")
        limit = self._settings.max_download_bytes
        if path.stat().st_size > limit:
            raise PageTooLargeError(f"Refused: {path} is over the {limit:,}-byte limit.")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FetchedResource(url=str(url), media_type=media_type, body=path.read_bytes())
