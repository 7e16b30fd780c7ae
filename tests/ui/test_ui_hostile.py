"""Record text is text, never markup: hostile content in text, metadata, user, session and agent ids and in search
queries comes out of every page as literal text, with nothing a browser would run or load."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from omne_server.ui.render import visible
from tests.ui.conftest import ORIGIN, csrf_of, login
from tests.ui.hostile import (
    BIDI,
    HOSTILE_QUERY,
    HOSTILE_SESSION,
    HOSTILE_TEXTS,
    HOSTILE_USER,
    conclusion,
    hostile_records,
)
from tests.ui.html_check import injected, parse


def _squash(text: str) -> str:
    return " ".join(text.split())


async def test_hostile_memories_render_as_literal_text_on_every_page(ui, tmp_path):
    client, store = ui.client, ui.acme.store
    records = await store.add(hostile_records())
    insight = (await store.add(conclusion(records[:3])))[0]
    await store.export_jsonl(tmp_path / "x.jsonl", records[0].scope, actor=HOSTILE_TEXTS[1])  # the users page's activity
    await login(client, ui.acme.token)
    csrf = await csrf_of(client)
    user_q = urlencode({"user": HOSTILE_USER})
    pages = {
        "users": await client.get("/ui/users"),
        "list": await client.get(f"/ui/records?{user_q}&limit=200"),
        "session list": await client.get("/ui/records?" + urlencode({"user": HOSTILE_USER, "session": HOSTILE_SESSION})),
        "search": await client.get("/ui/search?" + urlencode({"user": HOSTILE_USER, "q": HOSTILE_QUERY, "limit": 20})),
        "insight": await client.get("/ui/record?" + urlencode({"id": insight.id})),
        "edit form": await client.get("/ui/record/edit?" + urlencode({"id": records[0].id})),
        "delete confirm": await client.post("/ui/record/delete?" + urlencode({"id": records[1].id}),
                                            data={"mode": "hard", "csrf": csrf}, headers=ORIGIN),  # fmt: skip
        "forget confirm": await client.post("/ui/users/forget", data={"user": HOSTILE_USER, "csrf": csrf}, headers=ORIGIN),
    }
    pages.update({f"record {i}": await client.get("/ui/record?" + urlencode({"id": r.id})) for i, r in enumerate(records)})
    for name, response in pages.items():
        assert response.status_code == 200, name
        page = parse(response.text)
        assert injected(page) == [], (name, injected(page))
        assert BIDI not in page.text, name  # an override never reaches the page raw: it is shown as ⟨U+202E⟩
    for i, text in enumerate(HOSTILE_TEXTS):  # each record's own page shows its text and metadata literally
        body = parse(pages[f"record {i}"].text).text
        assert visible(text) in body, text
        assert visible(json.dumps(text, ensure_ascii=False)[1:-1]) in body.split("metadata", 1)[1], text  # as JSON
    listing = _squash(parse(pages["list"].text).text)
    assert all(_squash(visible(t))[:60] in listing for t in HOSTILE_TEXTS)
    assert "⟨U+202E⟩" in parse(pages["users"].text).text and visible(HOSTILE_USER) in parse(pages["users"].text).text
    activity = _squash(parse(pages["users"].text).text.split("Activity", 1)[1])
    assert _squash(f"export {HOSTILE_TEXTS[1]} user {visible(HOSTILE_USER)}") in activity
    assert visible(HOSTILE_SESSION) in parse(pages["record 0"].text).text
    search = parse(pages["search"].text)
    assert "invoice⟨U+202E⟩gnp.exe" in search.text  # found, and shown with its override visible
    assert HOSTILE_QUERY in [e.attrs.get("value") for e in search.tags("input")]  # the query is an attribute value
    edit_form = parse(pages["edit form"].text)
    assert HOSTILE_TEXTS[0] in edit_form.text  # the textarea holds the raw text to edit, as text
    template_text = pages["record 7"].text.split('id="record-text"', 1)[1].split("</pre>", 1)[0]
    assert "{{ 7*7 }}" in template_text and "49" not in template_text  # template syntax is not evaluated


async def test_an_edit_with_hostile_text_goes_through_confirmation_and_history_as_text(ui):
    client, store = ui.client, ui.acme.store
    record = (await store.add(hostile_records()[:1]))[0]
    await login(client, ui.acme.token)
    csrf = await csrf_of(client)
    text = HOSTILE_TEXTS[6] + HOSTILE_TEXTS[2]
    form = {"text": text, "importance": "", "confidence": "", "metadata": '{"a": "<script>x</script>"}',
            "version": "1", "csrf": csrf}  # fmt: skip
    ask = await client.post("/ui/record/edit?" + urlencode({"id": record.id}), data=form, headers=ORIGIN)
    confirm = parse(ask.text)
    assert injected(confirm) == [] and text in [e.attrs.get("value") for e in confirm.tags("input")]
    done = await client.post("/ui/record/edit?" + urlencode({"id": record.id}), data={**form, "confirm": "yes"}, headers=ORIGIN)
    assert done.status_code == 303 and (await store.get(record.id)).text == text
    page = parse((await client.get("/ui/record?" + urlencode({"id": record.id}))).text)
    assert injected(page) == [] and text in page.text
    history = page.text.split("History", 1)[1]
    assert "<script>" in history and "update" in history
