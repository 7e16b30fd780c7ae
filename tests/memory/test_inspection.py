"""What an inspector reads: keyset pages, the status filter, provenance both ways (`links`) and users with counts."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from omne_core.memory import (
    MemoryKind,
    MemoryNotFoundError,
    MemoryRecord,
    MemoryScope,
    MemoryStatus,
    MemoryStore,
)
from omne_core.memory.errors import AmbiguousIdError, MemoryValidationError
from omne_core.memory.filters import RecordFilter
from tests.support.backends import both_backends, only_embedded

pytestmark = both_backends

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _message(user: str, text: str, minutes: int, session: str = "s1") -> MemoryRecord:
    return MemoryRecord(kind=MemoryKind.MESSAGE, text=text, scope=MemoryScope(user_id=user, session_id=session),
                        event_time=T0 + timedelta(minutes=minutes))  # fmt: skip


async def _pages(store: MemoryStore, scope: MemoryScope, size: int, **filters) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    while True:
        page = await store.list(scope, limit=size, after=after, **filters)
        if not page:
            return pages
        pages.append([r.id for r in page])
        after = page[-1].id


async def test_keyset_pages_walk_the_whole_list_in_order_with_ties_on_time(store):
    rng = random.Random(7)
    alice = MemoryScope(user_id="alice")
    # many records share an event time: the pages must still neither skip nor repeat one
    await store.add([_message("alice", f"note {i}", rng.randrange(12), session=f"s{i % 3}") for i in range(57)])
    await store.add([_message("bob", f"other {i}", i) for i in range(5)])
    for oldest_first in (False, True):
        whole = [r.id for r in await store.list(alice, limit=None, oldest_first=oldest_first)]
        assert len(whole) == 57
        for size in (1, 5, 10, 56, 57, 100):
            pages = await _pages(store, alice, size, oldest_first=oldest_first)
            assert [rid for page in pages for rid in page] == whole
            assert all(len(page) == size for page in pages[:-1])
    session = MemoryScope(user_id="alice", session_id="s1")
    whole = [r.id for r in await store.list(session, limit=None)]
    assert [rid for page in await _pages(store, session, 4) for rid in page] == whole and len(whole) == 19


async def test_a_page_after_an_unknown_record_is_an_error_not_the_first_page(store):
    await store.add(_message("alice", "hello", 1))
    with pytest.raises(MemoryNotFoundError):
        await store.list(MemoryScope(user_id="alice"), after="no-such-record")
    with pytest.raises(MemoryValidationError):
        await store.list(MemoryScope(user_id="alice"), after="")


async def test_the_status_filter_keeps_exactly_the_statuses_asked_for(store):
    alice = MemoryScope(user_id="alice")
    records = await store.add([_message("alice", f"m{i}", i) for i in range(6)])
    newer = (await store.add(MemoryRecord(kind=MemoryKind.FACT, text="newer", scope=alice)))[0]
    await store.supersede(records[0].id, newer.id)
    await store.delete(records[1].id)
    await store.delete(records[2].id)
    ids = {r.id for r in records}

    async def listed(**filters) -> set[str]:
        return {r.id for r in await store.list(alice, limit=None, **filters)} & ids

    assert await listed(statuses=["superseded"]) == {records[0].id}
    assert await listed(statuses=[MemoryStatus.DELETED]) == {records[1].id, records[2].id}
    assert await listed(statuses=["active", "deleted"]) == ids - {records[0].id}
    assert await listed() == await listed(statuses=["active"]) == {r.id for r in records[3:]}
    assert await listed(include_inactive=True) == ids
    assert await listed(statuses=["deleted"], include_inactive=False) == {records[1].id, records[2].id}  # statuses win
    with pytest.raises(MemoryValidationError, match="unknown status"):
        await store.list(alice, statuses=["gone"])


async def test_links_show_provenance_both_ways_and_the_supersession_neighbours(store):
    alice = MemoryScope(user_id="alice", session_id="s1")
    raw = await store.add([_message("alice", text, i) for i, text in enumerate(["I moved to Lyon", "I like tea", "noise"])])
    first = (await store.add(MemoryRecord(kind=MemoryKind.FACT, text="Alice lives in Lyon", scope=alice,
                                          source_ids=[raw[0].id])))[0]  # fmt: skip
    [(second, replaced)] = await store.add_superseding(
        [(MemoryRecord(kind=MemoryKind.PREFERENCE, text="Alice lives in Lyon and likes tea", scope=alice,
                       source_ids=[raw[0].id, raw[1].id]), [first.id])]  # fmt: skip
    )
    assert replaced == [first.id]

    of_raw = await store.links(raw[0].id)
    assert [r.id for r in of_raw.cited_by] == [first.id, second.id]  # the superseded conclusion too, oldest first
    assert of_raw.sources == [] and of_raw.supersedes == [] and of_raw.superseded_by is None
    assert (await store.links(raw[2].id)).cited_by == []

    of_second = await store.links(second.id)
    assert [r.id for r in of_second.sources] == [raw[0].id, raw[1].id]
    assert [r.id for r in of_second.supersedes] == [first.id] and of_second.superseded_by is None
    of_first = await store.links(first.id)
    assert of_first.superseded_by is not None and of_first.superseded_by.id == second.id
    assert of_first.record.status is MemoryStatus.SUPERSEDED

    # an update that drops a source drops the link; a hard-deleted source is reported missing
    await store.update(second.id, source_ids=[raw[1].id, raw[2].id])
    assert [r.id for r in (await store.links(raw[0].id)).cited_by] == [first.id]
    assert [r.id for r in (await store.links(raw[2].id)).cited_by] == [second.id]
    await store.delete(raw[1].id, hard=True)
    after = await store.links(second.id)
    assert [r.id for r in after.sources] == [raw[2].id] and after.missing_sources == [raw[1].id]
    await store.delete(second.id, hard=True)
    assert (await store.links(raw[2].id)).cited_by == [] and (await store.links(first.id)).superseded_by is None

    with pytest.raises(MemoryNotFoundError):
        await store.links(first.id, MemoryScope(user_id="bob"))  # scoped like `get`


async def test_links_of_a_store_written_before_the_link_index_are_indexed_on_open(settings, embedder):
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        only_embedded(store, "PostgreSQL indexes links by a schema migration (test_postgres_backend.py)")
        source = (await store.add(_message("alice", "I moved to Lyon", 1)))[0]
        fact = (await store.add(MemoryRecord(kind=MemoryKind.FACT, text="lives in Lyon",
                                             scope=MemoryScope(user_id="alice"), source_ids=[source.id])))[0]  # fmt: skip
    with sqlite3.connect(settings.data_dir / settings.memory.sqlite_file) as conn:  # as an older release left it
        conn.execute("DROP TABLE record_links")
        conn.execute("DELETE FROM meta WHERE key = 'record_links'")
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        assert [r.id for r in (await store.links(source.id)).cited_by] == [fact.id]


async def test_users_are_counted_by_kind_and_status(store):
    rng = random.Random(11)
    expected: dict[str, dict[str, int]] = {}
    for u in range(4):
        user = f"user-{u}-{rng.randrange(1000)}"
        n = rng.randrange(1, 6)
        records = await store.add([_message(user, f"{user} says {i}", i) for i in range(n)])
        facts = await store.add([MemoryRecord(kind=MemoryKind.FACT, text=f"{user} fact {i}", scope=MemoryScope(user_id=user))
                                 for i in range(u)])  # fmt: skip
        await store.delete(records[0].id)
        expected[user] = {"message": n, "fact": len(facts)}
    users = await store.users()
    assert [u.user_id for u in users] == sorted(expected)
    for summary in users:
        assert {k: v for k, v in summary.by_kind.items() if v} == {k: v for k, v in expected[summary.user_id].items() if v}
        assert summary.by_status.get("deleted") == 1 and summary.total == sum(expected[summary.user_id].values())


async def test_an_id_prefix_resolves_within_the_scope_taken_literally(store):
    rng = random.Random(19)
    base = "".join(rng.choice("0123456789abcdef") for _ in range(20))
    alice, bob = MemoryScope(user_id="alice"), MemoryScope(user_id="bob")
    mine = [MemoryRecord(id=f"{base}_x{i}", kind=MemoryKind.FACT, text=f"alice fact {i}", scope=alice) for i in range(2)]
    odd = MemoryRecord(id=f"{base}%zz", kind=MemoryKind.FACT, text="alice odd id", scope=alice)
    theirs = MemoryRecord(id=f"{base}_y", kind=MemoryKind.FACT, text="bob fact", scope=bob)
    await store.add([*mine, odd, theirs])

    assert (await store.resolve(f"{base}_x1", alice)).text == "alice fact 1"
    assert (await store.resolve(f"{base}%", alice)).id == odd.id  # `%` and `_` are characters, not patterns
    with pytest.raises(AmbiguousIdError) as many:
        await store.resolve(f"{base}_", alice)
    assert set(many.value.candidates) == {r.id for r in mine}  # bob's `{base}_y` is not a candidate of alice
    with pytest.raises(MemoryNotFoundError):
        await store.resolve(f"{base}_y", alice)
    assert (await store.resolve(f"{base}_", bob)).id == theirs.id
    assert await store.backend.ids_starting(base, RecordFilter.build(alice, include_inactive=True), 2) == sorted(
        [odd.id, *(r.id for r in mine)]
    )[:2]


async def test_exports_and_forgetting_are_the_tenants_activity_and_forgetting_drops_the_users_exports(store, tmp_path):
    rng = random.Random(23)
    users = [f"user-{i}-{rng.randrange(10_000)}" for i in range(3)]
    sizes = {user: rng.randrange(1, 6) for user in users}
    for user in users:
        await store.add([_message(user, f"{user} says {i}", i) for i in range(sizes[user])])
    keep, gone, unlogged = users
    assert await store.activity() == []

    assert await store.export_jsonl(tmp_path / "quiet.jsonl", MemoryScope(user_id=unlogged)) == sizes[unlogged]
    assert await store.activity() == []  # no actor: an export of the library's own (CLI, backups) is not logged
    both = [MemoryScope(user_id=keep), MemoryScope(user_id=gone), MemoryScope(user_id="nobody")]
    assert await store.export_jsonl(tmp_path / "both.jsonl", both, actor="auditor") == sizes[keep] + sizes[gone]
    logged = await store.activity()
    assert [(c.op.value, c.actor, c.record_id) for c in logged] == [("export", "auditor", None)] * 3
    assert {c.details["user_id"]: c.details["records"] for c in logged} == {keep: sizes[keep], gone: sizes[gone], "nobody": 0}

    assert await store.forget_user(gone, actor="admin") == sizes[gone]
    after = await store.activity()
    assert (after[0].op.value, after[0].actor, after[0].details) == ("forget_user", "admin", {"records": sizes[gone]})
    assert gone not in repr(after)  # the forgotten user's exports went with them
    assert {c.details.get("user_id") for c in after[1:]} == {keep, "nobody"}
    assert [c.seq for c in after] == sorted((c.seq for c in after), reverse=True)
    assert len(await store.activity(limit=1)) == 1
    with pytest.raises(MemoryValidationError):
        await store.activity(limit=0)
