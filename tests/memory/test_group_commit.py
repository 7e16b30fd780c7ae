"""Group commit: concurrent writes share one backend commit, each caller answered only after its own durable
commit, a failing write failing only its own caller; and the embedded backend's vector writes in commit order,
outside SQLite's write lock."""

from __future__ import annotations

import asyncio
import random
import threading
import uuid

import pytest

from omne_core.memory import MemoryKind, MemoryNotFoundError, MemoryRecord, MemoryScope, MemoryStore
from omne_core.memory.backends.embedded.turns import Turns
from tests.support.backends import both_backends, only_embedded, vector_ids

SCOPE = MemoryScope(user_id="grouped")


def record(rng: random.Random, scope: MemoryScope = SCOPE) -> MemoryRecord:
    words = " ".join(rng.choice(["river", "violin", "pepper", "harbor", "lantern", "meadow"]) for _ in range(5))
    return MemoryRecord(kind=MemoryKind.MESSAGE, text=f"{words} {uuid.uuid4().hex[:8]}", scope=scope)


class HeldCommits:
    """Wraps the backend's `commit`: the first one waits for `release()`, so the writes that come meanwhile queue
    up; records the number of inserts and replacements of every commit the backend is asked for."""

    def __init__(self, store: MemoryStore) -> None:
        self.store, self.sizes, self.gate = store, [], asyncio.Event()
        backend = store.backend
        real = backend.commit

        async def commit(changes):
            self.sizes.append(len(changes.inserts) + len(changes.replacements))
            if len(self.sizes) == 1:
                await self.gate.wait()
            return await real(changes)

        backend.commit = commit  # type: ignore[method-assign]

    async def started(self, n: int = 1) -> None:
        for _ in range(1000):
            if len(self.sizes) >= n:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the first commit never started")

    async def queued(self, n: int) -> None:
        """Until `n` writes wait for the next group (each computed its change set: embedded, checked)."""
        for _ in range(3000):
            if sum(len(q.pending) for q in self.store._commits._queues.values()) >= n:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{n} writes never queued")


@both_backends
async def test_concurrent_adds_commit_as_one_group_and_each_gets_its_own_durable_record(store, settings, embedder):
    rng = random.Random(7)
    held = HeldCommits(store)
    first = asyncio.create_task(store.add(record(rng)))
    await held.started()
    others = [record(rng, MemoryScope(user_id=rng.choice(["grouped", "other", "third"]))) for _ in range(7)]
    tasks = [asyncio.create_task(store.add(r)) for r in others]
    await held.queued(len(others))
    held.gate.set()
    [stored_first] = await first
    results = await asyncio.gather(*tasks)
    assert held.sizes == [1, 7]  # the seven that came during the first commit: one commit
    for sent, [stored] in zip(others, results, strict=True):
        assert (stored.id, stored.text, stored.scope) == (sent.id, sent.text, sent.scope)
    await store.close()
    async with await MemoryStore.open(settings, embedder=embedder) as reopened:  # acknowledged means durable
        for sent in [stored_first, *others]:
            assert (await reopened.get(sent.id)).text == sent.text
        assert {r.id for r in others} <= await vector_ids(reopened)
        hits = await reopened.search(others[3].text, others[3].scope, limit=1)
        assert hits[0].record.id == others[3].id


@both_backends
async def test_a_write_that_fails_its_group_fails_alone(store):
    rng = random.Random(11)
    held = HeldCommits(store)
    first = asyncio.create_task(store.add(record(rng)))
    await held.started()
    good = [record(rng) for _ in range(5)]
    bad = record(rng)
    tasks = [asyncio.create_task(store.add(r)) for r in good[:3]]
    failing = asyncio.create_task(store.add_superseding([(bad, ["no-such-record"])]))  # fails inside the commit
    tasks += [asyncio.create_task(store.add(r)) for r in good[3:]]
    await held.queued(6)
    held.gate.set()
    await first
    results = await asyncio.gather(*tasks)
    with pytest.raises(MemoryNotFoundError):
        await failing
    assert held.sizes[:2] == [1, 6]  # the group was tried, then each write alone
    assert [r.id for [r] in results] == [r.id for r in good]
    for sent in good:
        assert (await store.get(sent.id)).text == sent.text
    with pytest.raises(MemoryNotFoundError):
        await store.get(bad.id)  # the group's transaction was rolled back; alone it failed again
    assert (await store.stats(SCOPE)).total == 1 + len(good)


@both_backends
async def test_concurrent_updates_of_one_record_in_one_group_both_apply(store):
    [target] = await store.add(MemoryRecord(kind=MemoryKind.FACT, text="the ferry leaves at nine", scope=SCOPE))
    rng = random.Random(3)
    held = HeldCommits(store)
    first = asyncio.create_task(store.add(record(rng)))
    await held.started()
    updates = [
        asyncio.create_task(store.update(target.id, importance=0.9)),
        asyncio.create_task(store.update(target.id, metadata={"checked": True})),
    ]
    await held.queued(2)
    held.gate.set()
    await first
    await asyncio.gather(*updates)  # the second's stale version failed the group; alone it was read again
    now = await store.get(target.id)
    assert now.version == target.version + 2
    assert (now.importance, now.metadata) == (0.9, {"checked": True})


async def test_a_search_does_not_wait_for_a_vector_write_in_progress(store):
    only_embedded(store, "the vector index is chroma, written after the SQLite commit")
    rng = random.Random(5)
    seed = [record(rng) for _ in range(5)]
    await store.add(seed)
    vectors = store.backend.vectors
    real = vectors.upsert
    writing, release = threading.Event(), threading.Event()

    def slow_upsert(records, embeddings):
        writing.set()
        release.wait(30)
        return real(records, embeddings)

    vectors.upsert = slow_upsert
    new = record(rng)
    adding = asyncio.create_task(store.add(new))
    try:
        assert await asyncio.to_thread(writing.wait, 30)
        # its access counters are a SQLite write: they used to wait for the whole commit, chroma included
        hits = await asyncio.wait_for(store.search(seed[2].text, SCOPE, limit=3), 10)
        assert hits[0].record.id == seed[2].id
        assert not adding.done()  # the add is acknowledged only once its vector is written
    finally:
        release.set()
    [stored] = await adding
    assert stored.id == new.id and new.id in await vector_ids(store)
    assert (await store.search(new.text, SCOPE, limit=1))[0].record.id == new.id


def test_turns_are_served_in_ticket_order_even_after_an_error():
    turns = Turns()
    tickets = [turns.take() for _ in range(4)]
    served: list[int] = []

    def run(ticket: int) -> None:
        try:
            with turns.turn(ticket):
                served.append(ticket)
                if ticket == 1:
                    raise RuntimeError("a failed vector write still ends its turn")
        except RuntimeError:
            pass

    threads = [threading.Thread(target=run, args=(t,)) for t in reversed(tickets)]  # they arrive last first
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert served == tickets
