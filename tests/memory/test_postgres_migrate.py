"""`omne memory migrate`: embedded -> PostgreSQL -> embedded with everything copied (vectors reused, history,
access counts), counts verified per user; a copy SIGKILLed half-way finishes on the next run with nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from omne_cli.app import app
from omne_core.config import load_settings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore
from omne_core.memory.filters import RecordFilter
from tests.support.backends import vector_ids
from tests.support.postgres import requires_postgres

pytestmark = [pytest.mark.postgres, requires_postgres]
USERS = ("ana", "ben", "chloé")


async def fill(settings, embedder, per_user: int) -> dict[str, str]:
    """Records of three users, one updated, one superseded, one hard-deleted (its history stays); id -> text."""
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        texts = {}
        for user in USERS:
            scope = MemoryScope(user_id=user, session_id=f"{user}-1")
            stored = await store.add([MemoryRecord(kind=MemoryKind.MESSAGE, text=f"{user} visited harbour {i}", scope=scope)
                                      for i in range(per_user)])  # fmt: skip
            await store.update(stored[0].id, text=f"{user} visited the lighthouse")
            await store.supersede(stored[1].id, stored[2].id)
            await store.delete(stored[3].id, hard=True)
            await store.search("harbour", MemoryScope(user_id=user))  # access counts
            texts.update({r.id: r.text for r in await store.list(MemoryScope(user_id=user), limit=None, include_inactive=True)})
        return texts


async def snapshot(settings, embedder) -> tuple:
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        records, histories = {}, {}
        for user in USERS:
            for r in await store.list(MemoryScope(user_id=user), limit=None, include_inactive=True):
                records[r.id] = (r.text, r.status, r.version, r.access_count)
                histories[r.id] = [c.op for c in await store.history(r.id)]
        vectors = await vector_ids(store)
    return records, histories, vectors


async def top_hit(settings, embedder) -> str:
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        return (await store.search("lighthouse", MemoryScope(user_id="ben"), limit=1))[0].record.text


def cli(env: dict[str, str], *args: str):
    result = CliRunner().invoke(app, ["memory", "migrate", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_migrate_embedded_to_postgres_and_back(tmp_path, embedder, postgres_server, postgres_schema, monkeypatch):
    source = load_settings(data_dir=tmp_path / "source")
    texts = asyncio.run(fill(source, embedder, 12))
    url = postgres_server.url_with_password("pw-never-shown")
    env = {"OMNE_DATA_DIR": str(source.data_dir)}
    out = cli(env, "--to", url, "--schema", postgres_schema)
    assert "pw-never-shown" not in out and "records copied: 33" in out and "users: 3" in out

    on_pg = load_settings(data_dir=tmp_path / "pg", store={"backend": "postgres", "postgres_url": url,
                                                             "postgres_schema": postgres_schema})  # fmt: skip
    before = asyncio.run(snapshot(source, embedder))
    after = asyncio.run(snapshot(on_pg, embedder))
    assert after == before and after[2] == set(texts)  # every record, version, access count, history row and vector
    assert asyncio.run(top_hit(on_pg, embedder)) == "ben visited the lighthouse"

    again = cli(env, "--to", url, "--schema", postgres_schema)  # a second run: nothing twice
    assert "records copied: 0 (already there: 33)" in again and "history rows copied: 0" in again

    back_env = {"OMNE_STORE__BACKEND": "postgres", "OMNE_STORE__POSTGRES_URL": url,
                "OMNE_STORE__POSTGRES_SCHEMA": postgres_schema, "OMNE_DATA_DIR": str(tmp_path / "pg")}  # fmt: skip
    cli(back_env, "--to", str(tmp_path / "back"))
    pg_now = asyncio.run(snapshot(on_pg, embedder))
    back = asyncio.run(snapshot(load_settings(data_dir=tmp_path / "back"), embedder))
    assert back == pg_now


KILLED = """
import asyncio, sys
from omne_core.config import load_settings
from omne_core.memory.migrate import migrate, endpoint
from omne_core.memory.backends import open_backend

class Space:
    name, dimension = "test-8", 8

async def main(url, source, target):
    def settings(schema):
        return load_settings(store={"backend": "postgres", "postgres_url": url, "postgres_schema": schema})
    src, dst = await open_backend(settings(source), Space()), await open_backend(settings(target), Space())
    summary = await migrate(endpoint(src), endpoint(dst), page=40, progress=lambda line: print(line, flush=True))
    print("DONE", summary.records_copied, summary.records_present, summary.history_copied, flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


def kill_after_pages(args: list[str], env: dict[str, str], pages: int) -> None:
    """Run the copy and SIGKILL it once it has reported `pages` pages of records."""
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = [child.stdout.readline() for _ in range(pages)]
    child.send_signal(signal.SIGKILL)
    _, err = child.communicate(timeout=60)
    assert all(seen) and child.returncode == -signal.SIGKILL, (seen, err[-3000:])


async def test_migrate_killed_half_way_finishes_on_the_next_run_with_nothing_twice(postgres_server, postgres_schema):
    import numpy as np

    from omne_core.memory.backends import ChangeSet, IndexTexts, NewRecord, open_backend

    class Space:
        name, dimension = "test-8", 8

    def settings(schema):
        return load_settings(store={"backend": "postgres", "postgres_url": postgres_server.url, "postgres_schema": schema})

    target = f"{postgres_schema}_target"
    source = await open_backend(settings(postgres_schema), Space())
    rng = np.random.default_rng(3)
    for user in USERS:
        scope = MemoryScope(user_id=user)
        records = [MemoryRecord(kind=MemoryKind.FACT, text=f"{user} fact {i}", scope=scope) for i in range(80)]
        inserts = [NewRecord(r, r.content_hash(), IndexTexts(r.text, r.text), rng.standard_normal(8).tolist()) for r in records]
        await source.commit(ChangeSet(actor="test", inserts=inserts))
    await source.close()

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [sys.executable, "-c", KILLED, postgres_server.url, postgres_schema, target]
    await asyncio.to_thread(kill_after_pages, args, env, 3)

    rerun = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True, env=env, timeout=300)
    [done] = [line for line in rerun.stdout.splitlines() if line.startswith("DONE")] or [rerun.stderr[-3000:]]
    _, copied, present, history = done.split()
    assert int(present) >= 120 and int(copied) + int(present) == 240 and int(history) == 240

    src, dst = await open_backend(settings(postgres_schema), Space()), await open_backend(settings(target), Space())
    try:
        assert await dst.records_per_user() == await src.records_per_user() == {u: 80 for u in USERS}
        ids = []
        for user in USERS:
            ids += [r.id for r in await dst.list_records(RecordFilter.build(MemoryScope(user_id=user)), None)]
        assert len(ids) == len(set(ids)) == 240
        histories = [len(await dst.history(rid)) for rid in ids]
        assert histories == [1] * 240  # one add each: nothing twice
    finally:
        await src.close()
        await dst.close()
