"""SSRF guard: private, loopback, link-local and file:// targets are refused, directly and via redirects,
after DNS resolution; only hosts listed in `allowed_hosts` (matched literally) are exempt."""

from __future__ import annotations

import pytest

from omne_core.config import WebSettings
from omne_tools.errors import BlockedUrlError, FetchError
from omne_tools.web import TextBrowser, UrlGuard


@pytest.fixture
def browser(web_settings, tmp_path) -> TextBrowser:
    return TextBrowser(web_settings, download_dir=tmp_path / "downloads")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.1.2.3/admin", "private"),
        ("http://192.168.0.1/", "private"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
        ("file:///etc/passwd", "file:// URLs are not allowed"),
        ("ftp://example.org/x", "only http and https"),
        ("http://user:pw@example.org/", "credentials"),
    ],
)
async def test_guard_refuses_before_connecting(url, reason):
    with pytest.raises(BlockedUrlError, match=reason):
        UrlGuard(WebSettings()).check_url(url)


async def test_dns_name_resolving_to_loopback_is_refused():
    guard = UrlGuard(WebSettings(allowed_hosts=["127.0.0.1"]))
    with pytest.raises(BlockedUrlError, match="localhost resolves to 127.0.0.1, which is a loopback address"):
        await guard.resolve("localhost", 80)


async def test_allowed_host_is_literal():
    guard = UrlGuard(WebSettings(allowed_hosts=["127.0.0.1"]))
    assert await guard.resolve("127.0.0.1", 80) == ["127.0.0.1"]
    assert guard.check_url("http://127.0.0.1:9/").host == "127.0.0.1"


async def test_local_site_refused_without_allow_list(local_site, tmp_path):
    browser = TextBrowser(WebSettings(), download_dir=tmp_path)
    with pytest.raises(BlockedUrlError, match="127.0.0.1 is a loopback address"):
        await browser.visit(local_site.url("/page2"))


async def test_localhost_name_refused_at_connect_time(browser, local_site):
    """`localhost` passes the URL check (not an IP literal) and is refused after DNS resolution."""
    before = local_site.hits["/text"]
    with pytest.raises(BlockedUrlError, match="resolves to 127.0.0.1"):
        await browser.visit(f"http://localhost:{local_site.port}/text")
    assert local_site.hits["/text"] == before  # the server never saw the request


async def test_decimal_ip_literal_refused(browser, local_site):
    with pytest.raises(BlockedUrlError, match="loopback"):
        await browser.visit(f"http://2130706433:{local_site.port}/text")


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.7/internal", "private"),
        ("file:///etc/passwd", "file:// URLs are not allowed"),
        ("http://localhost:{port}/text", "resolves to 127.0.0.1"),
    ],
)
async def test_redirect_to_forbidden_target_refused(browser, local_site, target, reason):
    await browser.visit(local_site.url("/page2"))
    target = target.format(port=local_site.port)
    with pytest.raises(BlockedUrlError, match=reason):
        await browser.visit(local_site.url("/redirect-to?target=" + target))
    assert browser.page.url == local_site.url("/page2")


async def test_connection_is_pinned_to_the_checked_address(local_site, tmp_path):
    """The connection goes to the address the guard checked, never to a second DNS answer: a name the
    system cannot resolve at all still reaches the server when the guard's resolution returns its address."""

    class FixedDns(UrlGuard):
        async def resolve(self, host: str, port: int) -> list[str]:
            assert host == "pinned.invalid"
            return ["127.0.0.1"]

    settings = WebSettings(allowed_hosts=["pinned.invalid"])
    from omne_tools.web import Fetcher

    fetched = await Fetcher(settings, FixedDns(settings)).fetch(
        f"http://pinned.invalid:{local_site.port}/text"
    )
    assert fetched.body.startswith(b"plain words here")


async def test_file_urls_only_when_allowed_and_never_via_redirect(local_site, tmp_path):
    page = tmp_path / "notes.txt"
    page.write_text("local notes")
    allowed = WebSettings(allowed_hosts=["127.0.0.1"], allow_file_urls=True)
    browser = TextBrowser(allowed, download_dir=tmp_path / "downloads")
    assert "local notes" in await browser.visit(page.as_uri())
    with pytest.raises(FetchError, match="may not redirect to a file:// URL"):
        await browser.visit(local_site.url("/redirect-to?target=" + page.as_uri()))
