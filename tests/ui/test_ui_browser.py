"""The inspector in a real browser: Debian's Chromium (Playwright) against a real `omne serve` on 127.0.0.1.

Log in with a key, search, open an L1 record, follow a source, delete with a confirmation; a hostile record
renders inert (no dialog, `window.__pwned` stays undefined, the text is shown literally); nothing is loaded from
anywhere but the server, and the Content-Security-Policy never has to block anything.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from omne_server.ui.render import visible
from tests.server.conftest import bearer, create_key, live_server
from tests.ui.browser import LAUNCH_ARGS, browser_missing, chromium_path
from tests.ui.hostile import HOSTILE_QUERY, HOSTILE_TEXTS, HOSTILE_USER, conclusion, hostile_records

MISSING = browser_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"browser tests skipped: {MISSING}")


@dataclass
class Seeded:
    url: str
    token: str
    key_id: str
    fact: dict
    sources: list[dict]
    hostile: list[dict] = field(default_factory=list)


def _add(client: httpx.Client, token: str, records: list[dict]) -> list[dict]:
    response = client.post("/v1/memories", headers=bearer(token), json={"records": records})
    assert response.status_code == 200, response.text
    return response.json()["records"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Iterator[Seeded]:
    data = tmp_path_factory.mktemp("ui-browser") / "data"
    data.mkdir()
    token = create_key(data, "acme")
    with live_server(data) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        scope = {"user_id": "alice", "session_id": "trip"}
        sources = _add(client, token, [
            {"kind": "message", "text": "I moved to Lyon in March.", "scope": scope},
            {"kind": "message", "text": "My new flat is near the Rhône.", "scope": scope},
            {"kind": "message", "text": "What's the weather like tomorrow?", "scope": scope},
        ])  # fmt: skip
        fact = _add(client, token, [{"kind": "fact", "text": "Alice lives in Lyon, near the Rhône.", "scope": scope,
                                     "source_ids": [sources[0]["id"], sources[1]["id"]]}])[0]  # fmt: skip
        hostile = _add(client, token, [r.model_dump(mode="json") for r in hostile_records()])
        from omne_core.memory import MemoryRecord

        insight = conclusion([MemoryRecord.model_validate(h) for h in hostile[:2]])
        hostile += _add(client, token, [insight.model_dump(mode="json")])
        key_id = token.split("_")[1]
        yield Seeded(server.url, token, key_id, fact, sources, hostile)


@dataclass
class Watch:
    """What a page did besides rendering: every request's URL, dialogs, console errors, uncaught errors."""

    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
async def page(seeded) -> AsyncIterator[tuple[object, Watch]]:
    from playwright.async_api import async_playwright

    watch = Watch()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=LAUNCH_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            tab = await context.new_page()
            tab.on("request", lambda r: watch.requests.append(r.url))
            tab.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: watch.errors.append(str(e)))

            async def on_dialog(dialog) -> None:
                watch.dialogs.append(dialog.message)
                await dialog.dismiss()

            tab.on("dialog", on_dialog)
            yield tab, watch
        finally:
            await browser.close()
    assert all(url.startswith(seeded.url + "/") for url in watch.requests), watch.requests  # nothing from elsewhere


async def _login(tab, seeded: Seeded) -> None:
    await tab.goto(f"{seeded.url}/ui/users")
    assert tab.url.endswith("/ui/login")  # no session yet
    await tab.fill("#key", seeded.token)
    await tab.click("button[type=submit]")
    await tab.wait_for_url(re.compile(r".*/ui/users$"))


async def test_log_in_search_open_an_l1_record_follow_a_source_and_delete_with_confirmation(page, seeded):
    tab, watch = page
    await _login(tab, seeded)
    assert await tab.locator("td.user a", has_text="alice").count() == 1
    assert "acme" in await tab.inner_text("header")

    # search: hits with their dense and lexical scores, reasons and carried sources, and the context under the budget
    await tab.click("nav >> text=Search")
    await tab.fill("input[name=q]", "where does Alice live")
    await tab.fill("input[name=user]", "alice")
    await tab.fill("input[name=budget]", "120")
    await tab.click("form.search button[type=submit]")
    await tab.wait_for_url(re.compile(r".*/ui/search\?q=where"))  # the results page has loaded (a click does not wait)
    rows = tab.locator("table.hits tbody tr")
    assert await rows.count() >= 2
    assert await tab.locator("table.hits ul.carried a.rid").count() >= 1  # the L1 hit carries its sources
    first = rows.nth(0)
    assert re.fullmatch(r"\d\.\d{4}", (await first.locator("td.num").nth(1).inner_text()).strip())  # dense score
    assert await first.locator("td.reasons li").count() >= 1
    assert "Lyon" in await tab.inner_text("#context")

    # open the L1 record from the hits, then follow one of its sources
    await tab.click(f"table.hits a.rid >> text={seeded.fact['id']}")
    await tab.wait_for_url(re.compile(r".*/ui/record\?id="))
    assert await tab.inner_text("#record-text") == seeded.fact["text"]
    sources = tab.locator("ul.sources a.rid")
    assert await sources.count() == 2
    await sources.nth(0).click()
    await tab.wait_for_url(re.compile(rf".*id={seeded.sources[0]['id']}$"))
    assert await tab.inner_text("#record-text") == seeded.sources[0]["text"]
    assert await tab.locator(f"ul.cited-by a.rid >> text={seeded.fact['id']}").count() == 1  # the conclusion drawn

    # delete: the confirmation page first (cancel changes nothing), then the delete
    on_delete_page = re.compile(r".*/ui/record/delete\?id=")
    await tab.click("#delete-soft")
    await tab.wait_for_url(on_delete_page)
    assert "Delete this record?" in await tab.inner_text("h1")
    await tab.click("#cancel")
    await tab.wait_for_url(re.compile(rf".*/ui/record\?id={seeded.sources[0]['id']}$"))
    assert await tab.inner_text("h1 .status") == "active"
    await tab.click("#delete-soft")
    await tab.wait_for_url(on_delete_page)
    await tab.click("#confirm")
    await tab.wait_for_url(re.compile(r".*done=deleted"))
    assert await tab.inner_text("h1 .status") == "deleted"
    assert "deleted" in await tab.inner_text("p.notice")
    last = tab.locator("table.history tbody tr").last
    assert await last.locator(".op").inner_text() == "delete"
    assert await last.locator("td.actor").inner_text() == f"ui [key {seeded.key_id}]"
    async with httpx.AsyncClient(base_url=seeded.url) as client:
        stored = await client.get(f"/v1/memories/{seeded.sources[0]['id']}", headers=bearer(seeded.token))
    assert stored.json()["status"] == "deleted"
    assert watch.dialogs == [] and watch.errors == []  # no CSP violation either (it would log an error)


async def test_a_hostile_record_renders_inert(page, seeded):
    tab, watch = page
    await _login(tab, seeded)
    visits = 0
    await tab.goto(f"{seeded.url}/ui/records?" + str(httpx.QueryParams({"user": HOSTILE_USER, "limit": 200})))
    assert await tab.locator("table.records tbody tr").count() == len(HOSTILE_TEXTS) + 1
    for record in seeded.hostile:
        await tab.goto(f"{seeded.url}/ui/record?" + str(httpx.QueryParams({"id": record["id"]})))
        await tab.hover("#record-text")
        await tab.hover("table.fields")
        assert await tab.inner_text("#record-text") == visible(record["text"])
        assert await tab.evaluate("() => window.__pwned") is None
        assert await tab.evaluate("() => document.querySelectorAll('script, img, iframe, svg, base, object').length") == 0
        assert await tab.evaluate("() => [...document.querySelectorAll('*')].filter(e => [...e.attributes]"
                                  ".some(a => a.name.startsWith('on'))).length") == 0  # fmt: skip
        visits += 1
    await tab.goto(f"{seeded.url}/ui/search?" + str(httpx.QueryParams({"user": HOSTILE_USER, "q": HOSTILE_QUERY})))
    assert await tab.input_value("input[name=q]") == HOSTILE_QUERY
    assert "invoice⟨U+202E⟩gnp.exe" in await tab.inner_text("table.hits")
    await tab.goto(f"{seeded.url}/ui/users")
    assert visible(HOSTILE_USER) in await tab.inner_text("table.users")
    assert await tab.evaluate("() => window.__pwned") is None
    assert watch.dialogs == [] and watch.errors == [], (watch.dialogs, watch.errors)
    assert visits == len(HOSTILE_TEXTS) + 1

