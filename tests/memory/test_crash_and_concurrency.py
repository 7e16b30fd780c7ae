"""Crash safety (SIGKILL mid-write) and concurrent writers/readers (tasks and threads)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import threading

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore
from tests.support.backends import both_backends, only_embedded, row_counts, vector_ids

pytestmark = both_backends
SCOPE = MemoryScope(user_id="crash", session_id="s")

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from omne_core.config import load_settings
    from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore

    async def main():
        store = await MemoryStore.open(load_settings(data_dir=sys.argv[1]))
        scope = MemoryScope(user_id="crash", session_id="s")
        i = 0
        while True:
            batch = [MemoryRecord(kind=MemoryKind.MESSAGE, text=f"token{i + j}x unique line {i + j}", scope=scope)
                     for j in range(3)]
            stored = await store.add(batch)
            for r in stored:
                print(r.id, r.text, flush=True)  # acknowledged: add returned
            i += 3

    asyncio.run(main())
    """
)


def store_env(settings) -> dict[str, str]:
    """The environment that makes a child process open the same store (its backend, URL and schema)."""
    store = settings.store
    if store.backend.value == "embedded":
        return {}
    return {
        "OMNE_STORE__BACKEND": store.backend.value,
        "OMNE_STORE__POSTGRES_URL": store.postgres_url.get_secret_value(),
        "OMNE_STORE__POSTGRES_SCHEMA": store.postgres_schema,
    }


async def test_sigkill_loses_no_acknowledged_add(settings, embedder, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **store_env(settings)}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, str(settings.data_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    acked: dict[str, str] = {}

    def ack(line: bytes) -> None:
        rid, text = line.decode().rstrip("\n").split(" ", 1)
        acked[rid] = text

    try:
        async with asyncio.timeout(120):
            while len(acked) < 30 and (line := await child.stdout.readline()):
                ack(line)
        await asyncio.sleep(0.05)  # let it be in the middle of the next writes
    finally:
        child.send_signal(signal.SIGKILL)
        rest, err = await child.communicate()
    # acknowledgements printed before the kill landed; the kill may tear the last line, which then was not
    # a complete acknowledgement (split on b"\n": the last piece is empty or that torn line)
    for line in rest.split(b"\n")[:-1]:
        ack(line)
    assert child.returncode == -signal.SIGKILL
    assert len(acked) >= 30, err.decode()[-2000:]

    async with await MemoryStore.open(settings, embedder=embedder) as store:
        for rid, text in acked.items():
            assert (await store.get(rid)).text == text
        stats = await store.stats(SCOPE)
        assert stats.pending_index == 0  # repaired on open
        records, _, vectors = await row_counts(store)
        assert vectors == records
        for rid, text in list(acked.items())[::7]:
            hits = await store.search(text.split()[0], SCOPE, limit=3)
            assert hits[0].record.id == rid


async def test_repair_on_open_reembeds_missing_and_drops_orphans(settings, embedder):
    store = await MemoryStore.open(settings, embedder=embedder)
    only_embedded(store, "PostgreSQL writes a vector in its record's transaction and removes it by cascade")
    a, b = await store.add([MemoryRecord(kind=MemoryKind.FACT, text=t, scope=SCOPE) for t in ("alpha fact", "beta fact")])
    store.backend.vectors.delete(SCOPE.user_id, [a.id])  # as if the process died before chroma was written
    ghosts = [
        MemoryRecord(kind=MemoryKind.FACT, text="ghost", scope=SCOPE, id="ghost"),
        MemoryRecord(kind=MemoryKind.FACT, text="ghost", scope=MemoryScope(user_id="nobody"), id="ghost-2"),
    ]
    store.backend.vectors.upsert(ghosts, embedder.embed(["ghost", "ghost"]))  # vectors without records, one user unknown
    await store.close()
    async with await MemoryStore.open(settings, embedder=embedder) as reopened:
        assert reopened.backend.vectors.all_ids() == {a.id, b.id}
        assert reopened.backend.vectors.count("nobody") == 0
        hits = await reopened.search("alpha", SCOPE)
        assert hits[0].record.id == a.id and hits[0].dense_score is not None


async def test_concurrent_tasks_and_threads_lose_nothing(store):
    async def writer(w: int) -> list[str]:
        ids = []
        for i in range(10):
            [r] = await store.add(MemoryRecord(kind=MemoryKind.MESSAGE, text=f"task {w} line {i}", scope=SCOPE))
            ids.append(r.id)
        return ids

    async def reader() -> int:
        n = 0
        for _ in range(10):
            n += len(await store.search("line", SCOPE, limit=5))
        return n

    thread_ids: list[str] = []
    errors: list[BaseException] = []

    def thread_writer(t: int) -> None:
        async def run() -> None:
            for i in range(5):
                batch = [MemoryRecord(kind=MemoryKind.MESSAGE, text=f"thread {t} batch {i} item {j}", scope=SCOPE) for j in range(3)]
                thread_ids.extend(r.id for r in await store.add(batch))
                await store.search("thread batch", SCOPE)
        try:
            asyncio.run(run())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=thread_writer, args=(t,)) for t in range(3)]
    for t in threads:
        t.start()
    results = await asyncio.gather(*(writer(w) for w in range(4)), *(reader() for _ in range(2)))
    await asyncio.to_thread(lambda: [t.join() for t in threads])
    assert not errors, errors
    task_ids = [rid for ids in results[:4] for rid in ids]
    all_ids = task_ids + thread_ids
    assert len(set(all_ids)) == 4 * 10 + 3 * 5 * 3
    stored = {r.id for r in await store.list(SCOPE, limit=None)}
    assert stored == set(all_ids)
    assert await vector_ids(store) == stored
    assert (await store.stats(SCOPE)).pending_index == 0
