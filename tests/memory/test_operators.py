"""Operators on a real store (each backend: SQLite + FTS5 + chroma, and PostgreSQL + pgvector; MiniLM): add, search,
get, list, update, delete, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omne_core.memory import (
    ChangeOp,
    MemoryKind,
    MemoryNotFoundError,
    MemoryRecord,
    MemoryScope,
    MemoryStatus,
    MemoryStore,
    MemoryValidationError,
    Modality,
    build_context,
)
from tests.support.backends import (
    both_backends,
    history_mentions,
    lexical_rows,
    other_store,
    stored_labels,
    vector_ids,
)

pytestmark = both_backends
ALICE = MemoryScope(user_id="alice", session_id="s1")


def rec(text: str, scope: MemoryScope = ALICE, kind: MemoryKind = MemoryKind.MESSAGE, **kw) -> MemoryRecord:
    return MemoryRecord(kind=kind, text=text, scope=scope, **kw)


async def test_add_search_get_roundtrip(store):
    added = await store.add(
        [rec("I adopted a grey cat named Pixel"), rec("My job is teaching chemistry"), rec("We flew to Lisbon in May")]
    )
    assert len(added) == 3 and len({r.id for r in added}) == 3
    hits = await store.search("what pet does alice have", MemoryScope(user_id="alice"))
    assert hits[0].record.id == added[0].id
    assert hits[0].dense_score is not None and hits[0].reasons
    # BM25 finds the exact rare word; the hit explains both signals
    [top, *_] = await store.search("Lisbon", ALICE)
    assert top.record.text == "We flew to Lisbon in May"
    assert top.lexical_score is not None and any("lexical" in r for r in top.reasons)
    got = await store.get(added[1].id)
    assert got.text == "My job is teaching chemistry" and got.scope == ALICE


async def test_exact_duplicate_returns_existing(store):
    [first] = await store.add(rec("same words", kind=MemoryKind.FACT))
    [again] = await store.add(rec("same words", kind=MemoryKind.FACT))
    assert again.id == first.id
    assert (await store.stats(ALICE)).total == 1
    # the same words in another scope are another memory
    [other] = await store.add(rec("same words", scope=MemoryScope(user_id="bob"), kind=MemoryKind.FACT))
    assert other.id != first.id
    # two identical raw messages at different times are two events, not duplicates
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    a, b = await store.add([rec("ok", event_time=t0), rec("ok", event_time=t0 + timedelta(minutes=1))])
    assert a.id != b.id


async def test_batch_dedup_is_exact_to_the_scope_and_ignores_deleted_records(store):
    fact = MemoryKind.FACT
    kept, gone = await store.add([rec("tea at noon", kind=fact), rec("gone soon", kind=fact)])
    await store.delete(gone.id)
    batch = [
        rec("tea at noon", kind=fact),  # a stored duplicate
        rec("tea at noon", scope=MemoryScope(user_id="alice", session_id="s2"), kind=fact),  # another session
        rec("tea at noon", scope=MemoryScope(user_id="alice", session_id="s1", agent_id="a"), kind=fact),
        rec("gone soon", kind=fact),  # its twin was deleted: this one is new
        rec("new words", kind=fact),
        rec("new words", kind=fact),  # a duplicate within the batch
    ]
    out = await store.add(batch)
    assert out[0].id == kept.id
    assert len({out[1].id, out[2].id, kept.id}) == 3
    assert out[3].id != gone.id and out[3].status is MemoryStatus.ACTIVE
    assert out[4].id == out[5].id
    assert (await store.stats(MemoryScope(user_id="alice"))).by_status == {"active": 5, "deleted": 1}


async def test_one_id_twice_with_other_content_in_a_batch_is_rejected(store):
    first = rec("first words", kind=MemoryKind.FACT)
    clash = rec("other words", kind=MemoryKind.FACT, id=first.id)
    with pytest.raises(MemoryValidationError, match="already exists with other content"):
        await store.add([first, clash])
    assert (await store.stats(MemoryScope(user_id="alice"))).total == 0


async def test_access_count_updated_on_hits(store):
    [r] = await store.add(rec("the wifi password is hunter2"))
    await store.search("wifi password", ALICE)
    await store.search("wifi password", ALICE)
    got = await store.get(r.id)
    assert got.access_count == 2 and got.last_accessed_at is not None


async def test_kind_time_and_status_filters_are_hard(store):
    old = datetime(2020, 5, 1, tzinfo=UTC)
    new = datetime(2024, 5, 1, tzinfo=UTC)
    m_old, m_new, fact = await store.add(
        [
            rec("hiking trip to the Alps", event_time=old),
            rec("hiking trip to Norway", event_time=new),
            rec("Alice likes hiking", kind=MemoryKind.PREFERENCE),
        ]
    )
    hits = await store.search("hiking", ALICE, kinds=[MemoryKind.PREFERENCE])
    assert [h.record.id for h in hits] == [fact.id]
    hits = await store.search("hiking", ALICE, kinds=[MemoryKind.MESSAGE], since=datetime(2023, 1, 1, tzinfo=UTC))
    assert [h.record.id for h in hits] == [m_new.id]
    hits = await store.search("hiking", ALICE, until=datetime(2021, 1, 1))  # naive = UTC
    assert [h.record.id for h in hits] == [m_old.id]
    await store.delete(m_new.id)
    assert m_new.id not in {h.record.id for h in await store.search("hiking Norway", ALICE)}
    assert m_new.id in {h.record.id for h in await store.search("hiking Norway", ALICE, include_inactive=True)}


async def test_scope_union_and_partial_scope(store):
    team = MemoryScope(user_id="alice", namespace="team-x")
    private = MemoryScope(user_id="alice", agent_id="coder")
    other_agent = MemoryScope(user_id="alice", agent_id="writer")
    a, b, c = await store.add([rec("deploy on fridays is banned", team), rec("deploy uses blue green", private),
                               rec("deploy notes for the blog", other_agent)])
    hits = await store.search("deploy", [team, private])
    assert {h.record.id for h in hits} == {a.id, b.id}
    listed = await store.list([team, private])
    assert {r.id for r in listed} == {a.id, b.id}
    assert {r.id for r in await store.list(MemoryScope(user_id="alice"))} >= {a.id, b.id, c.id}


async def test_update_versions_and_reindexes(store):
    [r] = await store.add(rec("my favourite colour is blue", kind=MemoryKind.PREFERENCE))
    updated = await store.update(r.id, text="my favourite colour is green", importance=0.9, actor="tester")
    assert updated.version == 2 and updated.importance == 0.9
    hits = await store.search("green", ALICE)
    assert hits and hits[0].record.id == r.id and hits[0].record.text.endswith("green")
    assert not [h for h in await store.search("blue", ALICE) if h.lexical_score is not None]
    changes = await store.history(r.id)
    assert [c.op for c in changes] == [ChangeOp.ADD, ChangeOp.UPDATE]
    assert changes[1].before["text"].endswith("blue") and changes[1].after["text"].endswith("green")
    assert changes[1].actor == "tester"


async def test_supersede_keeps_old_record(store):
    old, new = await store.add([rec("Alice lives in Paris", kind=MemoryKind.FACT), rec("Alice lives in Rome", kind=MemoryKind.FACT)])
    await store.supersede(old.id, new.id, actor="reflect")
    got = await store.get(old.id)
    assert got.status is MemoryStatus.SUPERSEDED and got.superseded_by == new.id
    assert old.id not in {h.record.id for h in await store.search("where does Alice live", ALICE)}


async def test_history_survives_restart(settings, embedder):
    store = await MemoryStore.open(settings, embedder=embedder)
    [r] = await store.add(rec("version one"), actor="a1")
    await store.update(r.id, text="version two", actor="a2")
    await store.delete(r.id, actor="a3")
    await store.close()
    async with await MemoryStore.open(settings, embedder=embedder) as reopened:
        changes = await reopened.history(r.id)
        assert [(c.op, c.actor, c.version) for c in changes] == [
            (ChangeOp.ADD, "a1", 1), (ChangeOp.UPDATE, "a2", 2), (ChangeOp.DELETE, "a3", 3)
        ]
        assert (await reopened.get(r.id)).status is MemoryStatus.DELETED


async def test_hard_delete_purges_text_vector_and_unshared_blob(store):
    shared = await store.blobs.aput_bytes(b"shared image bytes")
    own = await store.blobs.aput_bytes(b"own image bytes")
    a, b, c = await store.add(
        [
            rec("photo of the harbour", kind=MemoryKind.OBSERVATION, modality=Modality.IMAGE, blob_ref=shared),
            rec("same photo again", kind=MemoryKind.OBSERVATION, modality=Modality.IMAGE, blob_ref=shared),
            rec("photo of the secret zebra", kind=MemoryKind.OBSERVATION, modality=Modality.IMAGE, blob_ref=own),
        ]
    )
    await store.delete(a.id, hard=True)
    await store.delete(c.id, hard=True)
    assert store.blobs.exists(shared) and not store.blobs.exists(own)
    with pytest.raises(MemoryNotFoundError):
        await store.get(c.id)
    assert c.id not in await vector_ids(store)
    assert c.id not in {h.record.id for h in await store.search("zebra", ALICE, include_inactive=True)}
    changes = await store.history(c.id)
    assert changes[-1].op is ChangeOp.HARD_DELETE and all(ch.before is None and ch.after is None for ch in changes)
    assert await lexical_rows(store, "zebra") == 0


async def test_delete_many_soft_and_hard_in_one_call(store):
    a, b, c, d = await store.add([rec("first note"), rec("second note"), rec("third note about zebras"), rec("kept note")])
    assert await store.delete_many([a.id, b.id, "no-such-id", a.id], actor="bulk") == 2
    assert [(await store.get(r.id)).status for r in (a, b, d)] == [MemoryStatus.DELETED, MemoryStatus.DELETED, MemoryStatus.ACTIVE]
    assert (await store.history(a.id))[-1].op is ChangeOp.DELETE
    assert await store.delete_many([a.id]) == 0  # already deleted: nothing to do

    assert await store.delete_many([a.id, c.id], hard=True) == 2
    for gone in (a, c):
        with pytest.raises(MemoryNotFoundError):
            await store.get(gone.id)
    assert await vector_ids(store) == {b.id, d.id}
    assert await lexical_rows(store, "zebras") == 0
    assert await store.delete_many([]) == 0
    with pytest.raises(MemoryValidationError):
        await store.delete_many(a.id)  # one id is not a list of ids
    with pytest.raises(MemoryNotFoundError):
        await store.delete(a.id, hard=True)  # `delete` still says when the id is unknown


async def test_forget_user_purges_everything(store):
    ref = await store.blobs.aput_bytes(b"bob's scan")
    await store.add([rec("bob secret one", MemoryScope(user_id="bob"), metadata={"tag": "bob-label", "l": ["bob-item"]}),
                     rec("bob scan", MemoryScope(user_id="bob"), kind=MemoryKind.OBSERVATION, blob_ref=ref)])
    [kept] = await store.add(rec("alice stays"))
    assert await stored_labels(store, "bob-label") == 1
    removed = await store.forget_user("bob", actor="gdpr")
    assert removed == 2
    assert await store.list(MemoryScope(user_id="bob"), include_inactive=True) == []
    assert not store.blobs.exists(ref)
    assert await vector_ids(store) == {kept.id}
    assert await history_mentions(store, "bob", "bob") == 0
    assert await lexical_rows(store, "bob") == 0
    assert await stored_labels(store, "bob-label") == 0 and await stored_labels(store, "bob-item") == 0
    assert (await store.get(kept.id)).text == "alice stays"


async def test_export_import_reembeds(store, tmp_path, embedder):
    ref = await store.blobs.aput_bytes(b"\x89PNG fake")
    records = await store.add([rec("the launch code is tango"), rec("picture", kind=MemoryKind.OBSERVATION, blob_ref=ref)])
    await store.supersede(records[0].id, records[1].id)
    path = tmp_path / "export.jsonl"
    assert await store.export_jsonl(path, MemoryScope(user_id="alice")) == 2
    fresh_settings = other_store(store.settings, tmp_path / "other")
    async with await MemoryStore.open(fresh_settings, embedder=embedder) as other:
        result = await other.import_jsonl(path)
        assert (result.imported, result.skipped) == (2, 0)
        assert (await other.get(records[0].id)).status is MemoryStatus.SUPERSEDED
        assert other.blobs.get_bytes(ref) == b"\x89PNG fake"
        assert len(await vector_ids(other)) == 2  # re-embedded
        hits = await other.search("launch code", ALICE, include_inactive=True)
        assert hits[0].record.id == records[0].id and hits[0].dense_score is not None
        again = await other.import_jsonl(path)
        assert (again.imported, again.skipped) == (0, 2)


async def test_build_context_budget_dates_and_sources(store):
    when = datetime(2023, 3, 14, tzinfo=UTC)
    src = await store.add([rec(f"turn {i} about gardening tomatoes", event_time=when + timedelta(hours=i)) for i in range(3)])
    [fact] = await store.add(rec("Alice grows tomatoes", kind=MemoryKind.FACT, source_ids=[r.id for r in src]))
    hits = await store.search("tomatoes", ALICE, limit=10)
    ctx = build_context(hits, max_tokens=400)
    assert fact.id in ctx.record_ids and "2023-03-14" in ctx.text and src[0].id[:8] in ctx.text
    assert ctx.tokens <= 400
    small = build_context(hits, max_tokens=60)
    assert small.tokens <= 60 and len(small.record_ids) < len(ctx.record_ids)
    huge = MemoryRecord(kind=MemoryKind.DOCUMENT_CHUNK, text="word " * 5000, scope=ALICE)
    cut = build_context([huge], max_tokens=200)
    assert cut.record_ids == [huge.id] and cut.tokens <= 200 and cut.text.endswith(f"<id:{huge.id[:8]}>")
    assert build_context([], 100).text == ""


async def test_add_superseding_adds_and_supersedes_in_one_step(store):
    [old] = await store.add([rec("lives in Paris", kind=MemoryKind.FACT)])

    [(new, superseded)] = await store.add_superseding([(rec("lives in Lyon", kind=MemoryKind.FACT), [old.id])])

    assert superseded == [old.id]
    assert (await store.get(old.id)).status is MemoryStatus.SUPERSEDED
    assert (await store.get(old.id)).superseded_by == new.id
    assert [c.op for c in await store.history(old.id)] == [ChangeOp.ADD, ChangeOp.SUPERSEDE]
    assert [h.record.id for h in await store.search("where does she live", ALICE)] == [new.id]


@pytest.mark.parametrize("bad_old", ["unknown-id", "other-user"])
async def test_add_superseding_writes_nothing_when_one_replacement_is_invalid(store, bad_old):
    [old] = await store.add([rec("likes tea", kind=MemoryKind.PREFERENCE)])
    [foreign] = await store.add([rec("likes tea", scope=MemoryScope(user_id="bob"), kind=MemoryKind.PREFERENCE)])
    bad = foreign.id if bad_old == "other-user" else bad_old
    items = [(rec("likes coffee", kind=MemoryKind.PREFERENCE), [old.id]), (rec("likes cocoa", kind=MemoryKind.PREFERENCE), [bad])]

    with pytest.raises((MemoryNotFoundError, MemoryValidationError)):
        await store.add_superseding(items)

    assert [r.text for r in await store.list(ALICE, include_inactive=True)] == ["likes tea"]
    assert (await store.get(old.id)).status is MemoryStatus.ACTIVE
    assert [c.op for c in await store.history(old.id)] == [ChangeOp.ADD]
    assert {h.record.text for h in await store.search("coffee cocoa", ALICE)} == {"likes tea"}
