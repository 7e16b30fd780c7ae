"""`migrate` between two PostgreSQL stores: everything copied (vectors reused), counts verified per user, and a
copy killed half-way finishes on the next run with nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope
from omne_core.memory.filters import RecordFilter
from omne_core.memory.results import ChangeOp
from tests.support.postgres import drop_schema, fresh_schema, requires_postgres

pytestmark = [pytest.mark.postgres, requires_postgres]

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from omne_core.memory.backends.postgres.backend import PostgresBackend
    from omne_core.memory.migrate import migrate

    async def main(url, source, target):
        src, _ = await PostgresBackend.open(url, source, "test-8", 8)
        dst, _ = await PostgresBackend.open(url, target, "test-8", 8)
        summary = await migrate(src, dst, page=40, progress=lambda line: print(line, flush=True))
        print("DONE", summary.records_copied, summary.records_present, summary.history_copied, flush=True)

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def fill_source(backend, users: list[str], per_user: int) -> dict[str, list[float]]:
    from omne_core.memory.backends.postgres.backend import NewRecord

    rng = np.random.default_rng(11)
    vectors: dict[str, list[float]] = {}
    for user in users:
        scope = MemoryScope(user_id=user, session_id=f"{user}-s")
        records = [MemoryRecord(kind=MemoryKind.MESSAGE, text=f"{user} says thing {i}", scope=scope) for i in range(per_user)]
        async with backend.transaction() as conn:
            for r in records:
                v = rng.standard_normal(8)
                vectors[r.id] = (v / np.linalg.norm(v)).tolist()
            await backend.insert(conn, [NewRecord(r, r.text, r.text, vectors[r.id]) for r in records])
            for r in records:
                await backend.log(conn, ChangeOp.ADD, "test", r.id, user, version=1, after=r)
        async with backend.transaction() as conn:  # a removed record keeps its (purged) history rows
            await backend.remove(conn, [records[0].id])
            await backend.log(conn, ChangeOp.HARD_DELETE, "test", records[0].id, user, version=1)
        del vectors[records[0].id]
    async with backend.transaction() as conn:
        await backend.log(conn, ChangeOp.FORGET_USER, "test", None, None, details={"records": 0})
    return vectors


def kill_after_pages(args: list[str], env: dict[str, str], pages: int) -> None:
    """Run the migration and SIGKILL it once it has reported `pages` pages."""
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = [child.stdout.readline() for _ in range(pages)]
    child.send_signal(signal.SIGKILL)
    _, err = child.communicate(timeout=60)
    assert all(seen) and child.returncode == -signal.SIGKILL, (seen, err[-3000:])


async def test_migrate_killed_half_way_finishes_on_the_next_run_with_nothing_twice(postgres_server, postgres_schema):
    from omne_core.memory.backends.postgres.backend import PostgresBackend

    target_schema = fresh_schema()
    users = [f"user-{i}" for i in range(5)]
    source, _ = await PostgresBackend.open(postgres_server.url, postgres_schema, "test-8", 8)
    try:
        vectors = await fill_source(source, users, 60)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        args = [sys.executable, "-c", CHILD, postgres_server.url, postgres_schema, target_schema]
        await asyncio.to_thread(kill_after_pages, args, env, 6)
        rerun = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True, env=env, timeout=300)
        done = [line for line in rerun.stdout.splitlines() if line.startswith("DONE")]
        assert done, rerun.stderr[-3000:]
        _, copied, present, history = done[0].split()
        assert int(copied) > 0 and int(present) > 0  # the first run had copied some

        target, _ = await PostgresBackend.open(postgres_server.url, target_schema, "test-8", 8)
        try:
            assert await target.user_counts() == await source.user_counts() == {u: 59 for u in users}
            assert await target.history_counts_by_user() == await source.history_counts_by_user()
            exported = await target.export_records(0, 10_000)
            assert len(exported) == len({r.record.id for r in exported}) == len(vectors)
            for r in exported:
                assert np.allclose(r.embedding, vectors[r.record.id], atol=1e-6)  # reused, not recomputed
            rid = exported[0].record.id
            assert [c.op for c in await target.history(rid)] == [c.op for c in await source.history(rid)]
            hits = await target.lexical({"thing": 1}, RecordFilter.build(MemoryScope(user_id="user-3")), 5, 4)
            assert len(hits) == 5 and all(h in {r.record.id for r in exported} for h, _ in hits)
        finally:
            await target.close()
    finally:
        await source.close()
        drop_schema(postgres_server, target_schema)
