"""`RemoteMemoryStore`: the same API and behaviour as `MemoryStore` (each test runs on both), retries with
backoff on 429/503, typed errors from problem codes, a clear error when the server is down."""

from __future__ import annotations

import asyncio
import inspect
import json
from datetime import UTC, datetime

import httpx
import pytest

from omne_core.blobs import BlobNotFoundError
from omne_core.memory import (
    MemoryAuthError,
    MemoryImportError,
    MemoryKind,
    MemoryNotFoundError,
    MemoryPermissionError,
    MemoryRecord,
    MemoryScope,
    MemoryServiceUnavailableError,
    MemoryStatus,
    MemoryStore,
    MemoryStoreAPI,
    MemoryValidationError,
    RemoteMemoryStore,
    ServerStoreConfig,
)
from omne_core.memory.store_access import MemoryStoreAPI as ProtocolClass
from omne_server import create_app
from tests.server.conftest import lifespan_in_own_task
from tests.support.servers import free_port

ALICE = MemoryScope(user_id="alice", session_id="s1")


def rec(text: str, scope: MemoryScope = ALICE, kind: MemoryKind = MemoryKind.MESSAGE, **kw) -> MemoryRecord:
    return MemoryRecord(kind=kind, text=text, scope=scope, **kw)


@pytest.fixture(params=["local", "remote"])
async def store(request, settings, embedder):
    """A `MemoryStore`, or a `RemoteMemoryStore` on the server app (in-process ASGI transport)."""
    if request.param == "local":
        local = await MemoryStore.open(settings, embedder=embedder)
        yield local
        await local.close()
        return
    app = create_app(settings, embedder=embedder)
    _, token = await app.state.omne.keys.create("acme")
    async with lifespan_in_own_task(app):
        remote = await RemoteMemoryStore.open("http://127.0.0.1:8765", key=token, transport=httpx.ASGITransport(app=app))
        remote.served = await app.state.omne.tenants.get("acme")  # type: ignore[attr-defined]  # the server's store
        yield remote
        await remote.close()


def test_both_stores_offer_the_whole_protocol_with_the_same_signatures():
    members = [name for name in ProtocolClass.__dict__ if not name.startswith("_")]
    assert {"add", "search", "list", "update", "delete_many", "forget_user", "export_jsonl", "import_jsonl"} <= set(members)
    for name in members:
        if isinstance(ProtocolClass.__dict__[name], property):
            continue
        want = inspect.signature(getattr(ProtocolClass, name))
        for impl in (MemoryStore, RemoteMemoryStore):
            got = inspect.signature(getattr(impl, name))
            assert list(got.parameters) == list(want.parameters), (impl.__name__, name)
            assert [p.kind for p in got.parameters.values()] == [p.kind for p in want.parameters.values()], (impl.__name__, name)
    local_defaults = {n: p.default for n, p in inspect.signature(MemoryStore.search).parameters.items()}
    remote_defaults = {n: p.default for n, p in inspect.signature(RemoteMemoryStore.search).parameters.items()}
    assert local_defaults == remote_defaults


async def test_add_get_list_search_on_either_store(store):
    assert isinstance(store, MemoryStoreAPI)
    first, second = await store.add([rec("I adopted a grey cat named Pixel"), rec("We flew to Lisbon in May")])
    [again] = await store.add(rec("I adopted a grey cat named Pixel"))
    assert again.id == first.id
    assert (await store.get(first.id)).text == "I adopted a grey cat named Pixel"
    with pytest.raises(MemoryNotFoundError):
        await store.get(first.id, MemoryScope(user_id="bob"))
    with pytest.raises(MemoryNotFoundError):
        await store.get("no-such-id")
    hits = await store.search("what pet does alice have", MemoryScope(user_id="alice"), limit=5)
    assert hits[0].record.id == first.id and hits[0].reasons
    assert await store.search("cat", MemoryScope(user_id="alice"), kinds=["fact"]) == []
    with pytest.raises(MemoryValidationError):
        await store.search("   ", ALICE)
    with pytest.raises(MemoryValidationError):
        await store.search("x", ALICE, limit=0)
    with pytest.raises(MemoryValidationError):
        await store.add("not a record")  # type: ignore[arg-type]
    with pytest.raises(MemoryValidationError):
        await store.add(rec("other words", id=first.id))  # an id that exists with other content


async def test_metadata_filters_keep_their_json_types_on_either_store(store):
    """A condition's value crosses the wire as the JSON scalar it is: 1, "1" and true are three conditions."""
    apollo, zeus, flagged = await store.add([
        rec("Apollo launch notes", metadata={"project": "apollo", "priority": 1}),
        rec("Zeus launch notes", metadata={"project": "zeus", "priority": "1"}),
        rec("Hermes launch notes", metadata={"project": "hermes", "priority": True}),
    ])  # fmt: skip
    assert [h.record.id for h in await store.search("launch notes", ALICE, metadata={"project": "apollo"})] == [apollo.id]
    for value, expected in ((1, apollo), (1.0, apollo), ("1", zeus), (True, flagged)):
        assert [r.id for r in await store.list(ALICE, metadata={"priority": value})] == [expected.id], value
    not_one = await store.list(ALICE, metadata={"priority": {"ne": 1}}, limit=None)  # "1" and true are not 1
    assert sorted(r.id for r in not_one) == sorted([zeus.id, flagged.id])
    assert await store.list(MemoryScope(user_id="bob"), metadata={"project": "apollo"}) == []
    with pytest.raises(MemoryValidationError, match="metadata"):
        await store.search("launch", ALICE, metadata={"project": ["apollo"]})  # type: ignore[dict-item]


async def test_requests_without_metadata_conditions_name_none():
    """A server older than metadata filters refuses unknown fields: a search or list without conditions sends none."""
    bodies: list[dict] = []

    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/healthz"):
            return httpx.Response(200, json={"status": "ok"})
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"hits": []} if request.url.path.endswith("/search") else {"records": []})

    async with RemoteMemoryStore("http://127.0.0.1:8765", key="k", transport=httpx.MockTransport(server)) as remote:
        await remote.search("tea", ALICE)
        await remote.list(ALICE)
        await remote.search("tea", ALICE, metadata={"project": "apollo"})
    assert ["metadata" in body for body in bodies] == [False, False, True]
    assert bodies[2]["metadata"] == {"project": "apollo"}


async def test_short_ids_resolve_within_the_scope_on_either_store(store):
    records = await store.add([rec(f"note {i}") for i in range(17)])  # 17 hex ids: two share a first character
    bob = (await store.add(rec("bob's note", MemoryScope(user_id="bob"))))[0]
    target = records[3]
    assert (await store.resolve(target.id[:8], MemoryScope(user_id="alice"))).id == target.id
    assert (await store.resolve(target.id, ALICE)).id == target.id
    with pytest.raises(MemoryNotFoundError):  # another user's record reads as an unknown id, by prefix or whole
        await store.resolve(bob.id[:8], MemoryScope(user_id="alice"))
    with pytest.raises(MemoryNotFoundError):
        await store.resolve(bob.id, MemoryScope(user_id="alice"))
    first = sorted(r.id for r in records)
    shared = next(a[0] for a, b in zip(first, first[1:], strict=False) if a[0] == b[0])
    with pytest.raises(MemoryValidationError, match="ambiguous"):
        await store.resolve(shared, MemoryScope(user_id="alice"))


async def test_paging_past_one_page(store):
    if isinstance(store, RemoteMemoryStore):
        store.page_size = 100  # several list requests for one call
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    records = [rec(f"entry {i}", event_time=t0.replace(minute=i % 60, hour=i // 60)) for i in range(250)]
    await store.add(records)
    everything = await store.list(ALICE, limit=None, oldest_first=True)
    assert [r.text for r in everything] == [f"entry {i}" for i in range(250)]
    window = await store.list(ALICE, limit=3, after=everything[239].id, oldest_first=True)
    assert [r.text for r in window] == ["entry 240", "entry 241", "entry 242"]
    with pytest.raises(MemoryNotFoundError):
        await store.list(ALICE, after="no-such-id")
    newest = await store.list(ALICE, limit=205)
    assert len(newest) == 205 and newest[0].text == "entry 249" and newest[-1].text == "entry 45"


async def test_change_operators_on_either_store(store):
    [old, new] = await store.add([rec("Alice lives in Lyon", kind=MemoryKind.FACT, payload={"city": "Lyon"}),
                                  rec("Alice lives in Paris", kind=MemoryKind.FACT)])  # fmt: skip
    kept = await store.update(old.id, importance=0.9)
    assert kept.payload == {"city": "Lyon"} and kept.version == 2  # payload left out: unchanged
    cleared = await store.update(old.id, payload=None, event_time=datetime(2025, 5, 1, tzinfo=UTC))
    assert cleared.payload is None and cleared.event_time == datetime(2025, 5, 1, tzinfo=UTC)
    superseded = await store.supersede(old.id, new.id)
    assert superseded.status is MemoryStatus.SUPERSEDED and superseded.superseded_by == new.id
    assert [c.op.value for c in await store.history(old.id)] == ["add", "update", "update", "supersede"]
    with pytest.raises(MemoryNotFoundError):
        await store.update("missing", text="x")
    with pytest.raises(MemoryValidationError):
        await store.update(old.id)
    await store.delete(new.id)
    assert (await store.get(new.id)).status is MemoryStatus.DELETED
    await store.delete(new.id, hard=True)
    with pytest.raises(MemoryNotFoundError):
        await store.get(new.id)
    assert (await store.history(new.id))[-1].op.value == "hard_delete"
    extra = await store.add([rec(f"bulk {i}") for i in range(4)])
    assert await store.delete_many([r.id for r in extra[:3]] + ["unknown"], hard=True) == 3
    stats = await store.stats(MemoryScope(user_id="alice"))
    assert stats.total == 2 and stats.by_status == {"superseded": 1, "active": 1}
    await store.add(rec("bob's note", scope=MemoryScope(user_id="bob")))
    assert await store.forget_user("alice") == 2
    assert (await store.stats(MemoryScope(user_id="bob"))).total == 1


async def test_reflection_style_add_superseding(store):
    [old] = await store.add(rec("Alice lives in Lyon", kind=MemoryKind.FACT))
    [(new, replaced)] = await store.add_superseding([(rec("Alice lives in Paris", kind=MemoryKind.FACT), [old.id])])
    assert replaced == [old.id] and (await store.get(old.id)).superseded_by == new.id
    with pytest.raises(MemoryNotFoundError):
        await store.add_superseding([(rec("x", kind=MemoryKind.FACT), ["missing-id"])])
    assert (await store.stats(ALICE)).total == 2  # the refused call wrote nothing


async def test_export_import_and_blobs_on_either_store(store, tmp_path):
    ref = await store.blobs.aput_bytes(b"\x89PNG fake image bytes")
    assert await store.blobs.aget_bytes(ref) == b"\x89PNG fake image bytes"
    with pytest.raises(BlobNotFoundError):
        await store.blobs.aget_bytes("f" * 64)
    await store.add([rec("a photo", blob_ref=ref, kind=MemoryKind.OBSERVATION), rec("words only")])
    path = tmp_path / "out" / "alice.jsonl"
    assert await store.export_jsonl(path, MemoryScope(user_id="alice")) == 2
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["record"]["scope"]["user_id"] == "alice" for line in lines)
    assert await store.export_jsonl(tmp_path / "again.jsonl", MemoryScope(user_id="alice"), actor="backup") == 2
    logged = [(c.op.value, c.actor.split(" [key ")[0], c.details) for c in await getattr(store, "served", store).activity()]
    assert logged[0] == ("export", "backup", {"user_id": "alice", "records": 2})  # a remote export is logged by its key
    assert len(logged) == (2 if hasattr(store, "served") else 1)  # the server logs every export; a local one only with an actor
    await store.forget_user("alice")
    result = await store.import_jsonl(path)
    assert (result.imported, result.skipped) == (2, 0)
    photo = next(r for r in await store.list(MemoryScope(user_id="alice")) if r.blob_ref)
    assert await store.blobs.aget_bytes(photo.blob_ref) == b"\x89PNG fake image bytes"
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text(lines[0] + "\n{oops\n")
    with pytest.raises(MemoryImportError) as caught:
        await store.import_jsonl(corrupt)
    assert caught.value.line == 2 and caught.value.path == str(corrupt)
    with pytest.raises(MemoryValidationError):
        await store.import_jsonl(tmp_path / "missing.jsonl")


class Flaky:
    """An ASGI wrapper answering the first `failures` requests with `status` (and Retry-After: 0)."""

    def __init__(self, app, failures: int, status: int = 503) -> None:
        self.app, self.failures, self.status, self.calls = app, failures, status, 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] != "/healthz":
            self.calls += 1
            if self.calls <= self.failures:
                await send({"type": "http.response.start", "status": self.status,
                            "headers": [(b"content-type", b"application/problem+json"), (b"retry-after", b"0")]})  # fmt: skip
                body = {"type": "about:blank", "title": "busy", "status": self.status, "code": "overloaded"}
                await send({"type": "http.response.body", "body": json.dumps(body).encode()})
                return
        await self.app(scope, receive, send)


@pytest.mark.parametrize("status", [429, 503])
async def test_retries_with_backoff_then_a_typed_error(settings, embedder, status):
    app = create_app(settings, embedder=embedder)
    _, token = await app.state.omne.keys.create("acme")
    async with lifespan_in_own_task(app):
        flaky = Flaky(app, failures=2, status=status)
        remote = RemoteMemoryStore("http://127.0.0.1:8765", key=token, transport=httpx.ASGITransport(app=flaky),
                                   retries=3, backoff_s=0.01)  # fmt: skip
        [stored] = await remote.add(rec("survives two refusals"))
        assert flaky.calls == 3 and (await remote.get(stored.id)).text == "survives two refusals"
        flaky.calls, flaky.failures = 0, 10
        with pytest.raises(MemoryServiceUnavailableError) as caught:
            await remote.stats(ALICE)
        assert flaky.calls == 4  # the first try and three retries
        assert getattr(caught.value, "status", None) == status
        await remote.close()


async def test_refused_keys_give_typed_errors(settings, embedder):
    app = create_app(settings, embedder=embedder)
    _, reader = await app.state.omne.keys.create("acme", read_only=True)
    async with lifespan_in_own_task(app):
        transport = httpx.ASGITransport(app=app)
        nobody = RemoteMemoryStore("http://127.0.0.1:8765", key="omne_000000000000_" + "x" * 43, transport=transport)
        with pytest.raises(MemoryAuthError):
            await nobody.list(ALICE)
        ro = RemoteMemoryStore("http://127.0.0.1:8765", key=reader, transport=transport)
        with pytest.raises(MemoryPermissionError):
            await ro.add(rec("x"))
        assert await ro.list(ALICE) == []
        for client in (nobody, ro):
            await client.close()


async def test_a_server_that_never_answers_times_out():
    async def silent(reader, writer):  # accepts the connection, reads the request, never answers
        await reader.read(1 << 16)
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        hurried = RemoteMemoryStore(f"http://127.0.0.1:{port}", key="k", timeout_s=0.3)
        with pytest.raises(MemoryServiceUnavailableError, match="did not answer within 0.3 s"):
            await hurried.list(ALICE)
        await hurried.close()
    finally:
        server.close()


async def test_a_server_that_is_down_gives_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}"
    started = asyncio.get_running_loop().time()
    with pytest.raises(MemoryServiceUnavailableError, match="not reachable.*omne serve"):
        await RemoteMemoryStore.open(url, key="k", retries=2, backoff_s=0.01)
    assert asyncio.get_running_loop().time() - started < 10
    with pytest.raises(MemoryValidationError, match="http"):
        RemoteMemoryStore("127.0.0.1:8765")
    assert ServerStoreConfig(url=url).kind == "server"


async def test_ingest_by_upload_knows_a_document_by_its_path_here(settings, embedder, tmp_path):
    """As a local ingest does: unchanged bytes add nothing, new bytes at the path supersede its old chunks, a copy
    in the same upload is a duplicate; the report and the records name the client's paths, not the server's."""
    app = create_app(settings, embedder=embedder)
    _, token = await app.state.omne.keys.create("acme")
    notes, copy = tmp_path / "notes.md", tmp_path / "copy.md"
    notes.write_text("# Trip\n\nWe hiked the Dolomites in July 2025 with Marco.\n")
    copy.write_bytes(notes.read_bytes())
    async with lifespan_in_own_task(app):
        remote = await RemoteMemoryStore.open("http://127.0.0.1:8765", key=token, transport=httpx.ASGITransport(app=app))
        try:
            first = await remote.ingest([notes, copy], ALICE)
            assert [(f.path, f.added > 0, f.duplicate_of) for f in first.files] == [
                (str(notes.resolve()), True, None), (str(copy.resolve()), False, str(notes.resolve()))]
            again = await remote.ingest([notes], ALICE)
            assert again.files[0].added == 0 and again.files[0].superseded == 0
            notes.write_text("# Trip\n\nWe hiked the Julian Alps in August 2025 with Marco.\n")
            changed = await remote.ingest([notes], ALICE)
            assert changed.files[0].added > 0 and changed.files[0].superseded > 0
            chunks = await remote.list(ALICE, kinds=[MemoryKind.DOCUMENT_CHUNK])
            assert [c.text for c in chunks if "Julian" in c.text] and not [c for c in chunks if "Dolomites" in c.text]
            assert {c.metadata["ingested_from"] for c in chunks} == {str(notes.resolve())}
            assert "omne-ingest" not in json.dumps([c.model_dump(mode="json") for c in chunks])
        finally:
            await remote.close()
