"""REST under /v1: every memory operator, problem documents, limits — against the real app and real stores."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
from autogen_ext.models.replay import ReplayChatCompletionClient

from omne_core.memory.wire import JSONL_MEDIA_TYPE, PROBLEM_MEDIA_TYPE
from tests.server.conftest import bearer, running_app


def record(text: str, user: str = "alice", kind: str = "message", **extra) -> dict:
    return {"kind": kind, "text": text, "scope": {"user_id": user, **extra.pop("scope", {})}, **extra}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["title"]
    return body


async def test_healthz_and_openapi_name_every_operator(served):
    _, client, _ = served
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    paths = (await client.get("/openapi.json")).json()["paths"]
    expected = {
        ("/v1/memories", "post"), ("/v1/memories", "get"), ("/v1/memories/search", "post"),
        ("/v1/memories/{record_id}", "get"), ("/v1/memories/{record_id}", "patch"),
        ("/v1/memories/{record_id}", "delete"), ("/v1/memories/{record_id}/history", "get"),
        ("/v1/users/{user_id}", "delete"), ("/v1/export", "get"), ("/v1/import", "post"),
        ("/v1/reflect", "post"), ("/v1/summarize", "post"), ("/v1/stats", "get"), ("/v1/ingest", "post"),
    }  # fmt: skip
    assert expected <= {(path, method) for path, ops in paths.items() for method in ops}


async def test_add_one_and_a_batch_then_get_and_page_through_the_list(served):
    _, client, token = served
    one = await client.post("/v1/memories", headers=bearer(token), json=record("I moved to Lyon in May."))
    assert one.status_code == 200, one.text
    [stored] = one.json()["records"]
    batch = [record(f"note number {i} about gardening", event_time=f"2026-01-{i + 1:02d}T10:00:00Z") for i in range(25)]
    many = await client.post("/v1/memories", headers=bearer(token), json={"records": batch, "actor": "importer"})
    assert many.status_code == 200 and len(many.json()["records"]) == 25
    again = await client.post("/v1/memories", headers=bearer(token), json={"record": record("I moved to Lyon in May.")})
    assert again.json()["records"][0]["id"] == stored["id"]  # an exact duplicate returns the stored record

    got = await client.get(f"/v1/memories/{stored['id']}", headers=bearer(token))
    assert got.status_code == 200 and got.json()["text"] == "I moved to Lyon in May."

    seen, after, pages = [], None, 0
    while True:
        params = {"user_id": "alice", "limit": 10, **({"after": after} if after else {})}
        page = (await client.get("/v1/memories", headers=bearer(token), params=params)).json()
        seen += [r["id"] for r in page["records"]]
        pages += 1
        after = page["next_after"]
        if after is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 26
    kinds = await client.post("/v1/memories/list", headers=bearer(token),
                              json={"scope": [{"user_id": "alice"}], "kinds": ["fact"]})  # fmt: skip
    assert kinds.status_code == 200 and kinds.json()["records"] == []
    unknown = await client.get("/v1/memories", headers=bearer(token), params={"user_id": "alice", "after": "zz!"})
    assert assert_problem(unknown, 404, "not_found")["record_id"] == "zz!"
    statuses = await client.get("/v1/memories", headers=bearer(token), params={"user_id": "alice", "status": "deleted"})
    assert statuses.json()["records"] == []
    users = (await client.get("/v1/users", headers=bearer(token))).json()["users"]
    assert [(u["user_id"], u["total"]) for u in users] == [("alice", 26)]


async def test_search_returns_scores_reasons_and_honours_scope_kind_and_time(served):
    _, client, token = served
    h = bearer(token)
    await client.post("/v1/memories", headers=h, json={"records": [
        record("Alice adopted a grey cat named Miso.", event_time="2026-03-01T09:00:00Z"),
        record("Alice prefers green tea to coffee.", kind="preference", event_time="2026-05-01T09:00:00Z"),
        record("Bob adopted a dog named Rex.", user="bob", event_time="2026-03-01T09:00:00Z"),
    ]})  # fmt: skip
    found = await client.post("/v1/memories/search", headers=h,
                              json={"query": "which pet was adopted?", "scope": {"user_id": "alice"}, "limit": 5})  # fmt: skip
    hits = found.json()["hits"]
    assert hits and hits[0]["record"]["text"].startswith("Alice adopted")
    assert all(hit["record"]["scope"]["user_id"] == "alice" for hit in hits)
    assert hits[0]["score"] > 0 and hits[0]["reasons"] and hits[0]["dense_score"] is not None
    only_prefs = await client.post("/v1/memories/search", headers=h, json={
        "query": "cat tea", "scope": {"user_id": "alice"}, "kinds": ["preference"]})  # fmt: skip
    assert [hit["record"]["kind"] for hit in only_prefs.json()["hits"]] == ["preference"]
    april_on = await client.post("/v1/memories/search", headers=h, json={
        "query": "cat tea", "scope": {"user_id": "alice"}, "since": "2026-04-01T00:00:00Z"})  # fmt: skip
    assert [hit["record"]["text"] for hit in april_on.json()["hits"]] == ["Alice prefers green tea to coffee."]


async def test_update_history_supersede_and_delete(served):
    _, client, token = served
    h = bearer(token)
    [old, new] = (await client.post("/v1/memories", headers=h, json={"records": [
        record("Alice lives in Lyon.", kind="fact"), record("Alice lives in Paris.", kind="fact")]})).json()["records"]  # fmt: skip
    patched = await client.patch(f"/v1/memories/{old['id']}", headers=h, json={"importance": 0.9, "payload": None})
    assert patched.status_code == 200 and patched.json()["version"] == 2 and patched.json()["importance"] == 0.9
    superseded = await client.post(f"/v1/memories/{old['id']}/supersede", headers=h, json={"by": new["id"]})
    assert superseded.json()["status"] == "superseded" and superseded.json()["superseded_by"] == new["id"]
    links = (await client.get(f"/v1/memories/{new['id']}/links", headers=h)).json()
    assert [r["id"] for r in links["supersedes"]] == [old["id"]]
    history = (await client.get(f"/v1/memories/{old['id']}/history", headers=h)).json()["changes"]
    assert [c["op"] for c in history] == ["add", "update", "supersede"]
    assert all(f"[key {token.split('_')[1]}]" in c["actor"] for c in history)  # the key that did it is recorded

    soft = await client.delete(f"/v1/memories/{new['id']}", headers=h)
    assert soft.status_code == 204
    assert (await client.get(f"/v1/memories/{new['id']}", headers=h)).json()["status"] == "deleted"
    hard = await client.delete(f"/v1/memories/{new['id']}", headers=h, params={"hard": "true"})
    assert hard.status_code == 204
    assert_problem(await client.get(f"/v1/memories/{new['id']}", headers=h), 404, "not_found")
    assert_problem(await client.patch(f"/v1/memories/{new['id']}", headers=h, json={"text": "x"}), 404, "not_found")
    empty = await client.patch(f"/v1/memories/{old['id']}", headers=h, json={})
    assert_problem(empty, 422, "validation_error")

    batch = (await client.post("/v1/memories", headers=h, json={"records": [record(f"bulk {i}") for i in range(5)]})).json()
    ids = [r["id"] for r in batch["records"]]
    removed = await client.post("/v1/memories/delete", headers=h, json={"ids": [*ids[:3], "unknown-id"], "hard": True})
    assert removed.json() == {"deleted": 3}
    left = (await client.get("/v1/memories", headers=h, params={"user_id": "alice"})).json()["records"]
    assert {r["id"] for r in left} & set(ids) == set(ids[3:])


async def test_forget_user_and_stats(served):
    _, client, token = served
    h = bearer(token)
    await client.post("/v1/memories", headers=h, json={"records": [record("a1"), record("a2"), record("b1", user="bob")]})
    stats = (await client.get("/v1/stats", headers=h, params={"user_id": "alice"})).json()
    assert stats["total"] == 2 and stats["by_kind"] == {"message": 2}
    forgot = await client.delete("/v1/users/alice", headers=h)
    assert forgot.json() == {"removed": 2}
    assert (await client.get("/v1/stats", headers=h, params={"user_id": "alice"})).json()["total"] == 0
    assert (await client.post("/v1/stats", headers=h, json={"scope": {"user_id": "bob"}})).json()["total"] == 1


async def test_export_streams_jsonl_and_import_restores_it_in_another_tenant(served):
    app, client, token = served
    h = bearer(token)
    await client.post("/v1/memories", headers=h, json={"records": [record(f"memory {i} of alice") for i in range(30)]})
    async with client.stream("GET", "/v1/export", headers=h, params={"user_id": "alice"}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith(JSONL_MEDIA_TYPE)
        lines = [line async for line in response.aiter_lines() if line.strip()]
    assert len(lines) == 30 and all(json.loads(line)["format"] == "omne-memory/1" for line in lines)
    [logged] = await (await app.state.omne.tenants.get("acme")).activity()  # who took a copy, with which key
    key_id = token.split("_")[1]
    assert (logged.op.value, logged.actor, logged.details) == ("export", f"user [key {key_id}]", {"user_id": "alice", "records": 30})

    _, other = await app.state.omne.keys.create("globex")
    body = "\n".join(lines).encode()
    imported = await client.post("/v1/import", headers={**bearer(other), "content-type": JSONL_MEDIA_TYPE}, content=body)
    assert imported.status_code == 200 and imported.json() == {"imported": 30, "skipped": 0}
    again = await client.post("/v1/import", headers=bearer(other), content=body)
    assert again.json() == {"imported": 0, "skipped": 30}

    corrupt = body + b"\n{not json\n"
    _, third = await app.state.omne.keys.create("initech")
    rejected = await client.post("/v1/import", headers=bearer(third), content=corrupt)
    problem = assert_problem(rejected, 422, "import_error")
    assert "line 31" in problem["detail"] and "/tmp" not in problem["detail"]
    assert (await client.get("/v1/stats", headers=bearer(third), params={"user_id": "alice"})).json()["total"] == 0


async def test_blobs_and_a_record_citing_one(served):
    _, client, token = served
    h = bearer(token)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    ref = (await client.post("/v1/blobs", headers=h, content=png)).json()["ref"]
    added = await client.post("/v1/memories", headers=h, json=record(
        "a photo of the garden", kind="observation", blob_ref=ref, modality="image", mime_type="image/png"))  # fmt: skip
    assert added.status_code == 200
    assert (await client.get(f"/v1/blobs/{ref}", headers=h)).content == png
    missing = await client.post("/v1/memories", headers=h, json=record("x", blob_ref="0" * 64))
    assert "blob" in assert_problem(missing, 422, "validation_error")["detail"]
    assert_problem(await client.get(f"/v1/blobs/{'1' * 64}", headers=h), 404, "not_found")


async def test_ingest_by_upload(served):
    _, client, token = served
    files = [
        ("files", ("../../etc/notes.md", b"# Trip\n\nWe hiked the Dolomites in July 2025 with Marco.\n", "text/markdown")),
        ("files", ("empty.bin", b"", "application/octet-stream")),
    ]
    response = await client.post("/v1/ingest", headers=bearer(token), files=files, data={"user_id": "alice"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert [f["path"] for f in report["files"]] == ["notes.md"] and report["files"][0]["added"] >= 1
    assert [s["path"] for s in report["skipped"]] == ["empty.bin"]
    assert "omne-ingest" not in response.text
    hits = (await client.post("/v1/memories/search", headers=bearer(token),
                              json={"query": "where did we hike?", "scope": {"user_id": "alice"}})).json()["hits"]  # fmt: skip
    assert hits and "Dolomites" in hits[0]["record"]["text"] and hits[0]["record"]["kind"] == "document_chunk"
    assert hits[0]["record"]["text"].startswith("[notes.md") and "omne-ingest" not in json.dumps(hits)  # its name, not ours
    miscounted = await client.post("/v1/ingest", headers=bearer(token), files=files,
                                   data={"user_id": "alice", "sources": ["/home/alice/notes.md"]})  # fmt: skip
    assert "sources" in assert_problem(miscounted, 422, "invalid_request")["detail"]  # one name per file
    no_user = await client.post("/v1/ingest", headers=bearer(token), files=files[:1])
    assert "user_id" in assert_problem(no_user, 422, "invalid_request")["detail"]


async def test_reflect_and_summarize_need_a_model(served, settings, embedder, tmp_path):
    _, client, token = served
    refused = await client.post("/v1/reflect", headers=bearer(token), json={"scope": {"user_id": "alice"}})
    assert "OMNE_SERVER__REFLECTION_ROLE" in assert_problem(refused, 503, "model_not_configured")["detail"]

    conclusion = {"kind": "fact", "text": "Alice lives in Lyon.", "source_ids": ["S1"], "supersedes": [],
                  "importance": 0.6, "confidence": 0.9}  # fmt: skip
    reflection = json.dumps({"memories": [conclusion]})
    summary = json.dumps({"summary": "Alice said she moved to Lyon."})
    model = ReplayChatCompletionClient([reflection, summary, *["not json at all"] * 3])  # 3 attempts, all unusable
    server = settings.server.model_copy(update={"reflection_role": "main"})  # `main` is the bundled model by default
    async with running_app(settings.model_copy(update={"data_dir": tmp_path / "with-model", "server": server}), embedder,
                           model_factory=lambda: model) as (app, with_model):  # fmt: skip
        _, key = await app.state.omne.keys.create("acme")
        h = bearer(key)
        scope = {"user_id": "alice", "session_id": "s1"}
        [l0] = (await with_model.post("/v1/memories", headers=h, json=record("I moved to Lyon.", scope=scope))).json()["records"]
        reflected = (await with_model.post("/v1/reflect", headers=h, json={"scope": scope})).json()
        assert [r["text"] for r in reflected["created"]] == ["Alice lives in Lyon."]
        assert reflected["created"][0]["source_ids"] == [l0["id"]]
        summarized = await with_model.post("/v1/summarize", headers=h, json={"scope": scope})
        assert summarized.json()["kind"] == "summary" and summarized.json()["source_ids"] == [l0["id"]]
        # the bundled model loops in prose without a repeat penalty; its reflections break their bounds with one
        assert [call["extra_create_args"].get("repeat_penalty") for call in model.create_calls] == [None, 1.3]
        await with_model.post("/v1/memories", headers=h, json=record("I also like jazz.", scope=scope))
        failed = await with_model.post("/v1/reflect", headers=h, json={"scope": scope})
        assert_problem(failed, 502, "reflection_failed")


async def test_bad_json_and_bad_fields_answer_422_naming_the_field(served):
    _, client, token = served
    h = {**bearer(token), "content-type": "application/json"}
    broken = await client.post("/v1/memories", headers=h, content=b'{"records": [')
    assert assert_problem(broken, 422, "invalid_request")["errors"][0]["type"] == "json_invalid"
    bad_kind = await client.post("/v1/memories", headers=h, json=record("x", kind="gossip"))
    problem = assert_problem(bad_kind, 422, "invalid_request")
    assert problem["errors"][0]["loc"] == ["body", "records", 0, "kind"] and "records.0.kind" in problem["detail"]
    blank_user = await client.post("/v1/memories/search", headers=h, json={"query": "x", "scope": {"user_id": " "}})
    assert "scope" in assert_problem(blank_user, 422, "invalid_request")["detail"]
    typo = await client.post("/v1/memories/search", headers=h, json={"query": "x", "scope": {"user_id": "a"}, "limt": 3})
    assert "limt" in assert_problem(typo, 422, "invalid_request")["detail"]
    nested = await client.post("/v1/memories/search", headers=h,
                               json={"query": "x", "scope": {"user_id": "a"}, "metadata": {"p": {"like": 1}}})  # fmt: skip
    assert "'like' is no operator" in assert_problem(nested, 422, "validation_error")["detail"]
    no_condition = await client.post("/v1/memories/list", headers=h, json={"scope": {"user_id": "a"}, "metadata": {}})
    assert "metadata" in assert_problem(no_condition, 422, "validation_error")["detail"]
    big_limit = await client.post("/v1/memories/search", headers=h, json={"query": "x", "scope": {"user_id": "a"}, "limit": 5000})
    assert "limit" in assert_problem(big_limit, 422, "invalid_request")["detail"]
    no_user = await client.get("/v1/memories", headers=h)
    assert "user_id" in assert_problem(no_user, 422, "invalid_request")["detail"]
    empty_text = await client.post("/v1/memories", headers=h, json=record("   "))
    assert "empty" in assert_problem(empty_text, 422, "validation_error")["detail"]
    assert_problem(await client.put("/v1/memories", headers=h), 405, "method_not_allowed")
    assert_problem(await client.get("/v1/nowhere", headers=h), 404, "not_found")


async def test_request_size_limit(settings, embedder):
    small = settings.model_copy(update={"server": settings.server.model_copy(update={"max_request_bytes": 4096})})
    async with running_app(small, embedder) as (app, client):
        _, token = await app.state.omne.keys.create("acme")
        big = await client.post("/v1/memories", headers=bearer(token), json=record("x" * 10_000))
        assert "4096" in assert_problem(big, 413, "payload_too_large")["detail"]

        async def chunks():  # no Content-Length: the limit counts the bytes as they stream in
            for _ in range(10):
                yield b" " * 1000

        streamed = await client.post("/v1/memories", headers={**bearer(token), "content-type": "application/json"},
                                     content=chunks())  # fmt: skip
        assert_problem(streamed, 413, "payload_too_large")
        fits = await client.post("/v1/memories", headers=bearer(token), json=record("short"))
        assert fits.status_code == 200


class SlowEmbedder:
    """The real embedder, 0.5 s slower per call: a request that outlives the server's time limit."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension

    def embed(self, texts):
        import time

        time.sleep(0.5)
        return self.inner.embed(texts)


async def test_request_time_limit_and_in_flight_limit(settings, embedder):
    server = settings.server.model_copy(update={"request_timeout_s": 0.2, "max_in_flight": 1})
    async with running_app(settings.model_copy(update={"server": server}), SlowEmbedder(embedder)) as (app, client):
        _, token = await app.state.omne.keys.create("acme")
        h = bearer(token)
        first, second = await asyncio.gather(
            client.post("/v1/memories/search", headers=h, json={"query": "x", "scope": {"user_id": "a"}}),
            client.get("/v1/memories", headers=h, params={"user_id": "a"}),
        )
        assert "0.2 s" in assert_problem(first, 504, "timeout")["detail"]
        assert_problem(second, 503, "overloaded")
        assert second.headers["retry-after"] == "1"
        await asyncio.sleep(1.5)  # the timed-out search's thread finishes its slow embedding
        after = await client.get("/v1/memories", headers=h, params={"user_id": "a"})
        assert after.status_code == 200, after.text


async def test_an_unexpected_error_is_a_bare_500(served, monkeypatch, caplog):
    app, client, token = served
    store = await app.state.omne.tenants.get("acme")

    async def broken(*args, **kwargs):
        raise RuntimeError("internal detail: /srv/secret/path")

    monkeypatch.setattr(store, "search", broken)
    response = await client.post("/v1/memories/search", headers=bearer(token), json={"query": "x", "scope": {"user_id": "a"}})
    problem = assert_problem(response, 500, "internal_error")
    assert "secret" not in response.text and "see the server log" in problem["detail"]
    assert "internal detail" in caplog.text  # the operator still sees it


async def test_times_are_returned_as_utc(served):
    _, client, token = served
    added = await client.post("/v1/memories", headers=bearer(token),
                              json=record("dated", event_time="2026-06-01T12:00:00+02:00"))  # fmt: skip
    when = datetime.fromisoformat(added.json()["records"][0]["event_time"].replace("Z", "+00:00"))
    assert when == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
