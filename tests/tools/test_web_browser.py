"""The text browser against a real HTTP server on 127.0.0.1: pages, viewport, find, links, back, downloads."""

from __future__ import annotations

import re
import time

import pytest

from omne_tools.errors import BrowserStateError, FetchError, FetchTimeoutError, PageTooLargeError
from omne_tools.web import TextBrowser

from .toolsite import LONG_NEEDLE, PDF_SENTENCE


@pytest.fixture
def browser(web_settings, tmp_path) -> TextBrowser:
    return TextBrowser(web_settings, download_dir=tmp_path / "downloads")


def position(text: str) -> tuple[int, int]:
    match = re.search(r"Viewport position: Showing page (\d+) of (\d+)\.", text)
    assert match, text[:300]
    return int(match.group(1)), int(match.group(2))


async def test_visit_shows_header_markdown_and_numbered_links(browser, local_site):
    text = await browser.visit(local_site.url("/"))
    header, _, body = text.partition("=======================")
    assert f"Address: {local_site.url('/')}" in header
    assert "Title: Home page" in header
    assert position(text) == (1, 1)
    assert "Seen before: no" in header
    assert "# Welcome home" in body
    assert "[second page][1]" in body and "[long page][2]" in body
    assert f"[1]: {local_site.url('/page2')}" in body
    # mailto: and in-page anchors are not followable links
    assert "mail me" in body and "[mail me][" not in body
    assert len(browser.page.links) == 4


async def test_follow_link_back_and_seen_before(browser, local_site):
    await browser.visit(local_site.url("/"))
    second = await browser.follow_link(1)
    assert "Title: Second page" in second and "Seen before: no" in second
    back = await browser.back()
    assert "Title: Home page" in back
    assert "Seen before: yes, you previously visited this page" in back
    again = await browser.follow_link(1)
    assert "Title: Second page" in again and "Seen before: yes" in again
    with pytest.raises(BrowserStateError, match="no link \\[99\\]"):
        await browser.follow_link(99)


async def test_back_without_history_and_actions_before_any_page(browser, local_site):
    with pytest.raises(BrowserStateError, match="visit a URL first"):
        await browser.page_down()
    await browser.visit(local_site.url("/page2"))
    with pytest.raises(BrowserStateError, match="no previous page"):
        await browser.back()


async def test_page_through_and_find_on_long_page(browser, local_site):
    first = await browser.visit(local_site.url("/long"))
    current, total = position(first)
    assert current == 1 and total > 10
    assert "Already at the first page" in await browser.page_up()
    down = await browser.page_down()
    assert position(down) == (2, total)
    assert position(await browser.page_up()) == (1, total)

    hit = await browser.find(LONG_NEEDLE)
    assert f"{LONG_NEEDLE} number 150" in hit
    first_hit_page = position(hit)[0]
    assert first_hit_page > 1
    nxt = await browser.find_next()
    assert f"{LONG_NEEDLE} number 400" in nxt and position(nxt)[0] > first_hit_page
    wrapped = await browser.find_next()  # wraps around to the first hit
    assert position(wrapped)[0] == first_hit_page

    missing = await browser.find("no such words anywhere")
    assert "was not found" in missing
    assert browser.page.viewport.current + 1 == first_hit_page  # the viewport did not move

    wildcard = await browser.find("secret * number 400")
    assert f"{LONG_NEEDLE} number 400" in wildcard


async def test_back_restores_viewport_position(browser, local_site):
    await browser.visit(local_site.url("/long"))
    await browser.page_down()
    await browser.page_down()
    await browser.visit(local_site.url("/page2"))
    back = await browser.back()
    assert position(back)[0] == 3


async def test_pdf_download_is_converted(browser, local_site, tmp_path):
    text = await browser.visit(local_site.url("/files/report.pdf"))
    assert "Downloaded file:" in text
    assert PDF_SENTENCE in " ".join(text.split())
    saved = browser.page.download_path
    assert saved is not None and saved.parent == tmp_path / "downloads" and saved.suffix == ".pdf"
    assert saved.read_bytes().startswith(b"%PDF")


async def test_xlsx_download_via_link_is_converted(browser, local_site):
    await browser.visit(local_site.url("/"))
    text = await browser.follow_link(4)
    assert "Springfield" in text and "30720" in text and "Shelbyville" in text
    saved = browser.page.download_path
    assert saved is not None and saved.name.startswith("cities-") and saved.suffix == ".xlsx"


async def test_plain_text_and_error_status_pages(browser, local_site):
    text = await browser.visit(local_site.url("/text"))
    assert "plain words here" in text and "Title: text" in text
    missing = await browser.visit(local_site.url("/missing"))
    assert "HTTP status: 404" in missing and "Nothing at this address." in missing


async def test_redirect_chain_is_followed_and_reported(browser, local_site):
    text = await browser.visit(local_site.url("/redirect/3"))
    assert f"Address: {local_site.url('/page2')}" in text
    assert "Redirected from: " + " -> ".join(local_site.url(f"/redirect/{n}") for n in (3, 2, 1, 0)) in text


async def test_too_many_redirects_refused(browser, local_site):
    with pytest.raises(FetchError, match="Too many redirects"):
        await browser.visit(local_site.url("/redirect/9"))


async def test_oversized_pages_refused(browser, local_site):
    with pytest.raises(PageTooLargeError, match="200,000-byte limit"):
        await browser.visit(local_site.url("/big"))
    with pytest.raises(PageTooLargeError, match="200,000-byte limit"):
        await browser.visit(local_site.url("/big-chunked"))  # no Content-Length: caught while streaming


async def test_slow_page_times_out(browser, local_site):
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError, match="within 2 s"):
        await browser.visit(local_site.url("/slow"))
    assert time.monotonic() - started < 5


async def test_failed_visit_keeps_current_page(browser, local_site):
    await browser.visit(local_site.url("/page2"))
    with pytest.raises(PageTooLargeError):
        await browser.visit(local_site.url("/big"))
    assert browser.page.url == local_site.url("/page2")
    assert len(browser.history) == 1


async def test_unconvertible_download_gives_clear_error(browser, local_site):
    with pytest.raises(FetchError, match="could not convert"):
        await browser.visit(local_site.url("/files/blob.bin"))
