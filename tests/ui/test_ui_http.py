"""The inspector over real HTTP semantics (in-process ASGI, real stores and keys): login and sessions, the
security headers, CSRF and origin checks, read-only keys, tenant isolation, and the pages' content."""

from __future__ import annotations

import asyncio
import random
import re
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStatus, build_context
from omne_server.keys import parse_token
from omne_server.tenants import TenantStores
from tests.server.conftest import running_app
from tests.support.reembedding import GatedEmbedder, stored_under_another_format, wait_for
from tests.ui.conftest import BASE, ORIGIN, _tenant, csrf_of, form_value, login
from tests.ui.html_check import parse, record_ids

PAGES = ("/ui/users", "/ui/records?user=alice", "/ui/search?user=alice&q=tea")


async def _seed(store) -> tuple[list[MemoryRecord], MemoryRecord]:
    scope = MemoryScope(user_id="alice", session_id="s1")
    raw = await store.add([MemoryRecord(kind=MemoryKind.MESSAGE, text=t, scope=scope)
                           for t in ["I moved to Lyon last spring", "I drink green tea every morning"]])  # fmt: skip
    fact = (await store.add(MemoryRecord(kind=MemoryKind.FACT, text="Alice lives in Lyon and drinks tea", scope=scope,
                                         source_ids=[r.id for r in raw])))[0]  # fmt: skip
    return raw, fact


# -- login and sessions ----------------------------------------------------------------------------
async def test_pages_need_a_login_and_a_login_gives_a_strict_cookie_that_is_not_the_key(ui):
    client = ui.client
    for path in PAGES:
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    done = await login(client, ui.acme.token)
    assert done.status_code == 303 and done.headers["location"] == "/ui/"
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("omne_ui="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes and "samesite=strict" in cookie.lower()
    value = cookie.split(";")[0].split("=", 1)[1]
    _, secret = parse_token(ui.acme.token)
    assert ui.acme.token not in cookie and secret not in cookie and secret[:12] not in value and len(value) >= 40
    page = await client.get("/ui/users")
    assert page.status_code == 200 and "tenant <b>acme</b>" in page.text
    assert ui.acme.token not in page.text and secret not in page.text


async def test_a_bad_key_or_a_forged_login_form_logs_nobody_in(ui):
    client = ui.client
    bad = await login(client, ui.acme.token[:-3] + "abc")
    assert bad.status_code == 401 and "not valid" in bad.text and "omne_ui=" not in bad.headers.get("set-cookie", "")
    garbage = await login(client, "<script>alert(1)</script>")
    assert garbage.status_code == 401 and "<script>alert" not in garbage.text
    page = await client.get("/ui/login")
    token = form_value(page.text, "login_token")
    no_token = await client.post("/ui/login", data={"key": ui.acme.token}, headers=ORIGIN)
    elsewhere = await client.post("/ui/login", data={"key": ui.acme.token, "login_token": token},
                                  headers={"origin": "https://evil.example"})  # fmt: skip
    wrong = await client.post("/ui/login", data={"key": ui.acme.token, "login_token": "x" + token[1:]}, headers=ORIGIN)
    for response in (no_token, elsewhere, wrong):
        assert response.status_code == 403 and "omne_ui=" not in response.headers.get("set-cookie", "")
    assert (await client.get("/ui/users")).status_code == 303


async def test_logout_ends_the_session_even_for_a_replayed_cookie(ui):
    client = ui.client
    await login(client, ui.acme.read_only)  # a read-only key may log out too
    cookie = client.cookies.get("omne_ui")
    out = await client.post("/ui/logout", data={"csrf": await csrf_of(client)}, headers=ORIGIN)
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    client.cookies.set("omne_ui", cookie, domain="127.0.0.1", path="/ui")
    assert (await client.get("/ui/users")).status_code == 303


@asynccontextmanager
async def _app_with(ui_settings, embedder, **server: object):
    """The app with some server settings changed, and a fresh read-write key of tenant acme."""
    from tests.server.conftest import running_app

    settings = ui_settings.model_copy(update={"server": ui_settings.server.model_copy(update=server)})
    async with running_app(settings, embedder) as (app, client):
        key, token = await app.state.omne.keys.create("acme")
        await login(client, token)
        assert (await client.get("/ui/users")).status_code == 200
        yield app, client, key


async def test_a_revoked_key_ends_its_sessions(ui_settings, embedder):
    async with _app_with(ui_settings, embedder, key_cache_s=0.0) as (app, client, key):
        await app.state.omne.keys.revoke(key.key_id)
        assert (await client.get("/ui/users")).status_code == 303


async def test_an_idle_session_expires(ui_settings, embedder):
    async with _app_with(ui_settings, embedder, ui_idle_s=0.5) as (_, client, _key):
        await asyncio.sleep(0.8)
        assert (await client.get("/ui/users")).status_code == 303


async def test_a_local_server_without_keys_can_be_entered_without_one_until_a_key_exists(ui_settings, embedder):
    from tests.server.conftest import running_app

    settings = ui_settings.model_copy(update={"server": ui_settings.server.model_copy(update={"key_cache_s": 0.0})})
    async with running_app(settings, embedder, allow_open=True) as (app, client):
        page = await client.get("/ui/login")
        assert 'id="keyless"' in page.text
        token = form_value(page.text, "login_token")
        rebound = await client.post("/ui/login", data={"keyless": "1", "login_token": token},
                                    headers={"origin": "http://evil.example:8765", "host": "evil.example:8765"})  # fmt: skip
        assert rebound.status_code == 401  # a DNS-rebinding page on a loopback server gets nothing
        token = form_value(rebound.text, "login_token")  # each form shown carries a fresh token
        entered = await client.post("/ui/login", data={"keyless": "1", "login_token": token}, headers=ORIGIN)
        assert entered.status_code == 303
        users = await client.get("/ui/users")
        assert users.status_code == 200 and "tenant <b>default</b>" in users.text
        await app.state.omne.keys.create("acme")  # the first key ends keyless access, and keyless sessions
        assert (await client.get("/ui/users")).status_code == 303
        again = await client.get("/ui/login")
        assert 'id="keyless"' not in again.text
        refused = await client.post("/ui/login", data={"keyless": "1", "login_token": form_value(again.text, "login_token")},
                                    headers=ORIGIN)  # fmt: skip
        assert refused.status_code == 401


# -- headers and assets ----------------------------------------------------------------------------
async def test_every_ui_response_carries_strict_security_headers_and_loads_nothing_from_elsewhere(ui):
    client = ui.client
    await _seed(ui.acme.store)
    login_page = await client.get("/ui/login")
    await login(client, ui.acme.token)
    pages = [login_page] + [await client.get(p) for p in (*PAGES, "/ui/record?id=nope")]
    css = await client.get("/ui/static/ui.css")
    for response in (*pages, css):
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'none'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert [r.status_code for r in pages] == [200, 200, 200, 200, 404]
    assert all(r.headers["cache-control"] == "no-store" and "text/html" in r.headers["content-type"] for r in pages)
    assert "text/css" in css.headers["content-type"]
    for response in pages:
        page = parse(response.text)
        loaded = [e.attrs.get("href") or e.attrs.get("src") for e in page.elements if e.tag in {"link", "script", "img"}]
        assert loaded and all(url.startswith("/ui/static/") for url in loaded), loaded
    assert "@import" not in css.text and "url(" not in css.text and "@font-face" not in css.text
    api = await client.get("/v1/stats", params={"user_id": "a"}, headers={"authorization": f"Bearer {ui.acme.token}"})
    assert api.status_code == 200 and "content-security-policy" not in api.headers  # the REST API is not a page


# -- actions: CSRF, origin, read-only --------------------------------------------------------------
async def test_an_action_needs_the_session_csrf_token_and_this_origin(ui):
    client = ui.client
    raw, _ = await _seed(ui.acme.store)
    await login(client, ui.acme.token)
    target = f"/ui/record/delete?id={raw[0].id}"
    csrf = await csrf_of(client, f"/ui/record?id={raw[0].id}")
    attempts = [
        ({"mode": "soft", "confirm": "yes"}, ORIGIN),
        ({"mode": "soft", "confirm": "yes", "csrf": csrf[:-2] + "xx"}, ORIGIN),
        ({"mode": "soft", "confirm": "yes", "csrf": csrf}, {"origin": "http://evil.example"}),
        ({"mode": "soft", "confirm": "yes", "csrf": csrf}, {"origin": "null"}),
        ({"mode": "soft", "confirm": "yes", "csrf": csrf}, {"origin": "null", "sec-fetch-site": "cross-site"}),
        ({"mode": "soft", "confirm": "yes", "csrf": csrf}, {"origin": BASE, "sec-fetch-site": "same-site"}),
        ({"mode": "soft", "confirm": "yes", "csrf": csrf}, {"sec-fetch-site": "cross-site"}),
    ]
    for data, headers in attempts:
        refused = await client.post(target, data=data, headers=headers)
        assert refused.status_code == 403, (data, headers)
    assert (await ui.acme.store.get(raw[0].id)).status is MemoryStatus.ACTIVE
    # another session's token is no good either
    other = await _second_client_csrf(ui)
    refused = await client.post(target, data={"mode": "soft", "confirm": "yes", "csrf": other}, headers=ORIGIN)
    assert refused.status_code == 403 and (await ui.acme.store.get(raw[0].id)).status is MemoryStatus.ACTIVE
    # the right token: a confirmation page first, then the delete
    # a browser under no-referrer sends `Origin: null` for its own form posts, and says same-origin
    browser_like = {"origin": "null", "sec-fetch-site": "same-origin"}
    ask = await client.post(target, data={"mode": "soft", "csrf": csrf}, headers=browser_like)
    assert ask.status_code == 200 and 'name="confirm" value="yes"' in ask.text
    assert (await ui.acme.store.get(raw[0].id)).status is MemoryStatus.ACTIVE
    done = await client.post(target, data={"mode": "soft", "csrf": csrf, "confirm": "yes"}, headers=ORIGIN)
    assert done.status_code == 303 and (await ui.acme.store.get(raw[0].id)).status is MemoryStatus.DELETED


async def _second_client_csrf(ui) -> str:
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ui.app), base_url=BASE) as second:
        await login(second, ui.acme.token)
        return await csrf_of(second)


async def test_a_read_only_key_sees_no_action_and_is_refused_every_one(ui):
    client = ui.client
    raw, fact = await _seed(ui.acme.store)
    await login(client, ui.acme.read_only)
    for path in (*PAGES, f"/ui/record?id={fact.id}", f"/ui/record?id={raw[0].id}"):
        page = parse((await client.get(path)).text)
        assert page.forms() in ([], ["/ui/logout"], ["/ui/logout", "/ui/records"], ["/ui/logout", "/ui/search"]), path
        assert not any(link.endswith("/edit") for link in page.links())
    csrf = await csrf_of(client)
    posts = [
        (f"/ui/record/edit?id={fact.id}", {"text": "changed", "version": "1"}),
        (f"/ui/record/supersede?id={fact.id}", {"by": raw[0].id}),
        (f"/ui/record/delete?id={raw[0].id}", {"mode": "hard"}),
        ("/ui/users/forget", {"user": "alice", "typed": "alice"}),
        ("/ui/users/export", {"user": "alice"}),
    ]
    for path, data in posts:
        response = await client.post(path, data={**data, "csrf": csrf, "confirm": "yes"}, headers=ORIGIN)
        assert response.status_code == 403 and "read-only" in response.text, path
    assert (await ui.acme.store.get(fact.id)).text == "Alice lives in Lyon and drinks tea"
    assert (await ui.acme.store.stats(MemoryScope(user_id="alice"))).by_status == {"active": 3}


# -- actions write history ---------------------------------------------------------------------------
async def test_each_action_confirms_first_then_writes_history_naming_the_key_id(ui):
    client, store = ui.client, ui.acme.store
    raw, fact = await _seed(store)
    newer = (await store.add(MemoryRecord(kind=MemoryKind.FACT, text="Alice lives in Paris now",
                                          scope=MemoryScope(user_id="alice"))))[0]  # fmt: skip
    await login(client, ui.acme.token)
    csrf = await csrf_of(client)
    actor = f"ui [key {ui.acme.key_id}]"

    async def act(path: str, data: dict, confirm: bool) -> object:
        return await client.post(path, data={**data, "csrf": csrf, **({"confirm": "yes"} if confirm else {})}, headers=ORIGIN)

    edit = {"text": "Alice lives in Lyon, drinks tea", "importance": "0.9", "confidence": "", "metadata": '{"checked": true}',
            "version": "1"}  # fmt: skip
    ask = await act(f"/ui/record/edit?id={fact.id}", edit, confirm=False)
    assert ask.status_code == 200 and "version 2" in ask.text and (await store.get(fact.id)).version == 1
    assert (await act(f"/ui/record/edit?id={fact.id}", edit, confirm=True)).status_code == 303
    edited = await store.get(fact.id)
    assert (edited.text, edited.importance, edited.metadata, edited.version) == (edit["text"], 0.9, {"checked": True}, 2)
    stale = await act(f"/ui/record/edit?id={fact.id}", {**edit, "text": "again"}, confirm=True)  # form of version 1
    assert stale.status_code == 422 and (await store.get(fact.id)).text == edit["text"]

    assert (await act(f"/ui/record/supersede?id={fact.id}", {"by": newer.id}, confirm=False)).status_code == 200
    assert (await store.get(fact.id)).status is MemoryStatus.ACTIVE
    assert (await act(f"/ui/record/supersede?id={fact.id}", {"by": newer.id}, confirm=True)).status_code == 303
    assert (await store.get(fact.id)).superseded_by == newer.id

    assert (await act(f"/ui/record/delete?id={raw[1].id}", {"mode": "hard"}, confirm=False)).status_code == 200
    assert (await act(f"/ui/record/delete?id={raw[1].id}", {"mode": "hard"}, confirm=True)).status_code == 303
    assert (await store.links(fact.id)).missing_sources == [raw[1].id]

    history = await store.history(fact.id)
    assert [(c.op.value, c.actor) for c in history] == [("add", "user"), ("update", actor), ("supersede", actor)]
    assert [(c.op.value, c.actor) for c in await store.history(raw[1].id)][-1] == ("hard_delete", actor)
    assert all(ui.acme.token not in c.actor for c in history)

    exported = await act("/ui/users/export", {"user": "alice"}, confirm=True)
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    assert {line.count('"id"') >= 1 for line in exported.text.splitlines()} == {True}
    assert len(exported.text.splitlines()) == 3  # a message, the fact and the newer fact: the purged one is gone
    activity = (await client.get("/ui/users")).text.split('<section class="activity">', 1)[1]
    assert re.search(rf'class="op export">export<.*{re.escape(actor)}.*user <bdi>alice</bdi>, 3 records', activity, re.S)

    unconfirmed = await act("/ui/users/forget", {"user": "alice", "typed": "alic"}, confirm=True)
    assert unconfirmed.status_code == 200 and "does not match" in unconfirmed.text
    assert (await store.stats(MemoryScope(user_id="alice"))).total == 3
    assert (await act("/ui/users/forget", {"user": "alice", "typed": "alice"}, confirm=True)).status_code == 303
    assert (await store.stats(MemoryScope(user_id="alice"))).total == 0
    activity = (await client.get("/ui/users")).text.split('<section class="activity">', 1)[1]
    assert re.search(rf'class="op forget_user">forget_user<.*{re.escape(actor)}.*3 records purged', activity, re.S)
    assert "alice" not in activity and "export" not in activity  # the export named alice: forgotten with her


# -- pages ---------------------------------------------------------------------------------------------
async def test_the_record_page_shows_provenance_both_ways_the_chain_and_the_history(ui):
    client, store = ui.client, ui.acme.store
    raw, fact = await _seed(store)
    [(newer, _)] = await store.add_superseding([(MemoryRecord(kind=MemoryKind.PREFERENCE, text="Alice prefers tea",
                                                              scope=fact.scope, source_ids=[raw[1].id]), [fact.id])])  # fmt: skip
    await login(client, ui.acme.token)

    def section(html: str, name: str) -> str:
        return html.split(f'<section class="{name}">', 1)[1].split("</section>", 1)[0]

    of_fact = (await client.get(f"/ui/record?id={fact.id}")).text
    cites = section(of_fact, "provenance").split("Conclusions drawn", 1)[0]
    assert f"/ui/record?id={raw[0].id}" in cites and f"/ui/record?id={raw[1].id}" in cites
    assert f"/ui/record?id={newer.id}" in section(of_fact, "chain")
    assert re.search(r'class="op add">add<.*class="op supersede">supersede<', section(of_fact, "history"), re.S)

    of_raw = (await client.get(f"/ui/record?id={raw[1].id}")).text
    drawn = section(of_raw, "provenance").split("Conclusions drawn", 1)[1]
    assert f"/ui/record?id={fact.id}" in drawn and f"/ui/record?id={newer.id}" in drawn
    assert f"/ui/record?id={raw[0].id}" not in drawn
    of_newer = (await client.get(f"/ui/record?id={newer.id}")).text
    chain = section(of_newer, "chain")
    assert chain.index(f"/ui/record?id={fact.id}") < chain.index("this record")


async def test_the_record_list_walks_keyset_pages_and_filters(ui):
    client, store = ui.client, ui.acme.store
    rng = random.Random(5)
    scopes = [MemoryScope(user_id="bob", session_id=f"s{i}") for i in range(3)]
    added = await store.add([MemoryRecord(kind=rng.choice([MemoryKind.MESSAGE, MemoryKind.EVENT]), text=f"entry {i}",
                                          scope=rng.choice(scopes)) for i in range(75)])  # fmt: skip
    await store.delete(added[0].id)
    await login(client, ui.acme.token)
    seen: list[str] = []
    path = "/ui/records?user=bob&limit=20"
    while path:
        page = parse((await client.get(path)).text)
        seen += record_ids(page)
        nxt = [e.attrs["href"] for e in page.tags("a") if e.attrs.get("rel") == "next"]
        path = nxt[0].replace("&amp;", "&") if nxt else ""
    expected = [r.id for r in await store.list(MemoryScope(user_id="bob"), limit=None)]
    assert seen == expected and len(expected) == 74

    events = (await client.get("/ui/records?user=bob&kind=event&session=s1&limit=200")).text
    listed = set(record_ids(parse(events)))
    assert listed == {r.id for r in added[1:] if r.kind is MemoryKind.EVENT and r.scope.session_id == "s1"}
    deleted = (await client.get("/ui/records?user=bob&status=deleted")).text
    assert set(record_ids(parse(deleted))) == {added[0].id}
    every = (await client.get("/ui/records?user=bob&status=any&limit=200")).text
    assert set(record_ids(parse(every))) == {r.id for r in added}  # the deleted one too
    future = (await client.get("/ui/records?user=bob&since=2999-01-01T00:00")).text
    assert "No record matches" in future
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    timed = await store.add([MemoryRecord(kind=MemoryKind.MESSAGE, text=f"hour {h}", scope=MemoryScope(user_id="carol"),
                                          event_time=t0 + timedelta(hours=h)) for h in rng.sample(range(48), 48)])  # fmt: skip
    lo, hi = sorted(rng.sample(range(48), 2))
    window = (await client.get("/ui/records", params={"user": "carol", "since": f"2026-05-{1 + lo // 24:02d}T{lo % 24:02d}:00",
                                                      "until": f"2026-05-{1 + hi // 24:02d}T{hi % 24:02d}:00"})).text  # fmt: skip
    inside = sorted((r for r in timed if lo <= (r.event_time - t0).total_seconds() / 3600 <= hi),
                    key=lambda r: r.event_time, reverse=True)  # fmt: skip
    assert record_ids(parse(window)) == [r.id for r in inside][:50] and inside, (lo, hi)
    bad = await client.get("/ui/records?user=bob&since=yesterday&kind=nonsense")
    assert bad.status_code == 200 and "since: not a date" in bad.text and "kind: unknown kind" in bad.text


async def test_the_label_field_filters_the_record_list_and_the_search_by_metadata(ui):
    client, store = ui.client, ui.acme.store
    bob = MemoryScope(user_id="bob")
    apollo, two, zeus = await store.add([
        MemoryRecord(kind=MemoryKind.FACT, text="Launch window opens in May", scope=bob, metadata={"project": "apollo"}),
        MemoryRecord(kind=MemoryKind.FACT, text="Launch review, priority two", scope=bob, metadata={"priority": 2}),
        MemoryRecord(kind=MemoryKind.FACT, text="Launch window for Zeus", scope=bob, metadata={"project": "zeus"}),
    ])  # fmt: skip
    await login(client, ui.acme.token)
    listed = (await client.get("/ui/records", params={"user": "bob", "label": "project=apollo"})).text
    assert record_ids(parse(listed)) == [apollo.id] and 'value="project=apollo"' in listed  # the form keeps it
    assert record_ids(parse((await client.get("/ui/records", params={"user": "bob", "label": "priority=2"})).text)) == [two.id]
    assert "No record matches" in (await client.get("/ui/records", params={"user": "bob", "label": 'priority="2"'})).text
    found = (await client.get("/ui/search", params={"user": "bob", "q": "launch window", "label": "project=zeus"})).text
    rows = found.split('<table class="grid hits">', 1)[1].split("</table>", 1)[0]
    assert f"/ui/record?id={zeus.id}" in rows and apollo.id not in rows and two.id not in rows
    bad = await client.get("/ui/records", params={"user": "bob", "label": "<b>project</b>"})
    assert bad.status_code == 200 and "label: &#39;&lt;b&gt;project&lt;/b&gt;&#39; is not key=value" in bad.text
    # conditions as JSON, with operators, as the REST API takes them
    either = '{"project": {"in": ["apollo", "zeus"]}}'
    assert sorted(record_ids(parse((await client.get("/ui/records", params={"user": "bob", "label": either})).text))) == sorted(
        [apollo.id, zeus.id]
    )  # fmt: skip
    ranged = (await client.get("/ui/records", params={"user": "bob", "label": '{"priority": {"gte": 1.5}}'})).text
    assert record_ids(parse(ranged)) == [two.id] and 'value="{&#34;priority&#34;: {&#34;gte&#34;: 1.5}}"' in ranged
    for wrong, said in (('{"project": <i>', "not a JSON object"), ('{"p": {"like": "a"}}', "is no operator")):
        shown = await client.get("/ui/records", params={"user": "bob", "label": wrong})
        assert shown.status_code == 200 and "label: " in shown.text and said in shown.text and "<i>" not in shown.text


async def test_the_search_playground_shows_scores_reasons_carried_sources_and_the_exact_context(ui):
    client, store = ui.client, ui.acme.store
    raw, fact = await _seed(store)
    await store.add(MemoryRecord(kind=MemoryKind.MESSAGE, text="Green tea again today, no coffee.",
                                 scope=MemoryScope(user_id="alice", session_id="s2")))  # fmt: skip
    await login(client, ui.acme.token)
    html = (await client.get("/ui/search", params={"user": "alice", "q": "what does Alice drink", "budget": "80"})).text
    page = parse(html)
    hits = await store.search("what does Alice drink", MemoryScope(user_id="alice"))
    rows = html.split('<table class="grid hits">', 1)[1].split("</table>", 1)[0]
    assert rows.count("<tr>") == len(hits) + 1 and len(hits) >= 2  # the header, then one row per hit
    assert re.search(r'<td class="num">0\.\d{4}</td>', rows) and "<li>" in rows  # scores and reasons
    carried = [h for h in hits if h.sources]
    assert carried and all(f"/ui/record?id={s.id}" in rows for h in carried for s in h.sources)  # an L1 hit's sources
    expected = build_context(hits, max_tokens=80)
    shown = html.split('<pre class="context" id="context">', 1)[1].split("</pre>", 1)[0]
    assert parse(shown).text == expected.text and expected.text
    assert f"{expected.tokens} of 80 tokens" in page.text


async def test_a_tenant_never_sees_another_tenants_users_or_records(ui, tmp_path):
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    mine = []
    for tenant in (ui.acme, ui.other):
        users = [f"{tenant.name}-user-{rng.randrange(10**6)}" for _ in range(3)]
        owners = users + [rng.choice(users) for _ in range(9)]  # every user has a record
        records = await tenant.store.add([MemoryRecord(kind=MemoryKind.MESSAGE, text=f"{tenant.name} secret {i}",
                                                       scope=MemoryScope(user_id=owner)) for i, owner in enumerate(owners)])  # fmt: skip
        mine.append((users, records))
        await tenant.store.export_jsonl(tmp_path / f"{tenant.name}.jsonl", MemoryScope(user_id=users[0]), actor="ui")
    await login(ui.client, ui.other.token)
    users_page = (await ui.client.get("/ui/users")).text
    assert not any(user in users_page for user in mine[0][0]), seed
    for record in rng.sample(mine[0][1], 5):
        response = await ui.client.get(f"/ui/record?id={record.id}")
        assert response.status_code == 404 and "acme secret" not in response.text, seed
        listed = (await ui.client.get("/ui/records", params={"user": record.scope.user_id})).text
        assert "acme secret" not in listed, seed
        found = (await ui.client.get("/ui/search", params={"user": record.scope.user_id, "q": "secret"})).text
        assert "acme secret" not in found, seed
    assert all(user in users_page for user in mine[1][0])
    assert users_page.split('<section class="activity">', 1)[1].count('class="op export"') == 1  # its own export only


@pytest.mark.parametrize("path", ["/ui/record?id=%2E%2E%2Fetc", "/ui/record?id=" + "x" * 5000, "/ui/record", "/ui/nowhere/at/all"])
async def test_odd_paths_and_record_ids_answer_a_page_not_a_crash(ui, path):
    await login(ui.client, ui.acme.token)
    response = await ui.client.get(path)
    assert response.status_code in (404, 422) and "text/html" in response.headers["content-type"]


async def test_the_search_playground_says_while_the_store_is_embedding_its_records_again(ui_settings, monkeypatch):
    """After an upgrade the tenant's store re-embeds in the background: the playground says its hits are found by
    their words meanwhile, and stops saying so when it is done."""
    await stored_under_another_format(TenantStores(ui_settings).settings_for("acme"), monkeypatch)
    gated = GatedEmbedder()
    notice = "records not yet embedded are found by their words only"
    async with running_app(ui_settings, gated) as (app, client):
        try:
            acme = await _tenant(app, "acme")  # opens the store: its first batch is held in flight
            await wait_for(gated.waiting)
            await login(client, acme.token)
            html = (await client.get("/ui/search", params={"user": "u", "q": "harbour"})).text
            assert notice in html and "a note on the harbour" in html
            gated.gate.set()
            await acme.store.wait_reembedded()
            html = (await client.get("/ui/search", params={"user": "u", "q": "harbour"})).text
            assert notice not in html and "a note on the harbour" in html
        finally:
            gated.gate.set()
