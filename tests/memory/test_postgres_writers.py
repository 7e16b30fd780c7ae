"""Eight writer processes against one PostgreSQL store, some SIGKILLed mid-way: every acknowledged add is there,
and nothing is there twice (not even the records every writer adds)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter

import pytest

from omne_core.memory import MemoryScope, MemoryStore
from tests.support.backends import backend_settings
from tests.support.embedders import HashEmbedder
from tests.support.postgres import requires_postgres

pytestmark = [pytest.mark.postgres, requires_postgres]

WRITERS, ADDS, KILLED = 8, 500, (1, 4, 6)

# A writer: 500 adds, one record per call; every 10th is a record all writers add (the same words in the same
# scope: one record in the end). Prints the id once `add` has returned (acknowledged). A hashing embedder: the
# storage is what is tested, not the model.
WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from omne_core.config import load_settings
    from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore
    from tests.support.embedders import HashEmbedder

    async def main(writer, adds):
        store = await MemoryStore.open(load_settings(), embedder=HashEmbedder())
        scope = MemoryScope(user_id=f"user-{writer % 2}", session_id="shared")
        for i in range(adds):
            text = f"shared fact {i}" if i % 10 == 0 else f"writer {writer} note {i}"
            [stored] = await store.add(MemoryRecord(kind=MemoryKind.FACT, text=text, scope=scope))
            print(stored.id, text, flush=True)
        await store.close()

    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
    """
)


def store_env(settings) -> dict[str, str]:
    return {
        "OMNE_STORE__BACKEND": "postgres",
        "OMNE_STORE__POSTGRES_URL": settings.store.postgres_url.get_secret_value(),
        "OMNE_STORE__POSTGRES_SCHEMA": settings.store.postgres_schema,
        "OMNE_DATA_DIR": str(settings.data_dir),
    }


def run_writer(writer: int, env: dict[str, str], acked: dict[int, list[tuple[str, str]]], errors: list[str]) -> None:
    """Run one writer; a writer in KILLED gets SIGKILL once it has acknowledged 100 adds."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(writer), str(ADDS)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    lines = acked[writer]
    for line in proc.stdout:
        if not line.endswith("\n"):
            break  # torn by the kill: not a complete acknowledgement
        rid, text = line.rstrip("\n").split(" ", 1)
        lines.append((rid, text))
        if writer in KILLED and len(lines) == 100:
            proc.send_signal(signal.SIGKILL)
            break
    _, err = proc.communicate(timeout=600)
    expected = -signal.SIGKILL if writer in KILLED else 0
    if proc.returncode != expected:
        errors.append(f"writer {writer} ended with {proc.returncode}: {err[-2000:]}")


async def test_eight_writers_some_killed_lose_no_acknowledged_add_and_store_nothing_twice(request, tmp_path):
    settings = backend_settings(request, tmp_path / "data", "postgres")
    async with await MemoryStore.open(settings, embedder=HashEmbedder()):  # the schema exists first
        pass
    env = {**os.environ, **store_env(settings), "PYTHONPATH": os.pathsep.join(sys.path)}
    acked: dict[int, list[tuple[str, str]]] = {w: [] for w in range(WRITERS)}
    errors: list[str] = []
    threads = [threading.Thread(target=run_writer, args=(w, env, acked, errors)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for w in range(WRITERS):
        assert len(acked[w]) == (100 if w in KILLED else ADDS), w

    async with await MemoryStore.open(settings, embedder=HashEmbedder()) as store:
        stored = []
        for user in ("user-0", "user-1"):
            stored += await store.list(MemoryScope(user_id=user), limit=None, include_inactive=True)
        by_id = {r.id: r for r in stored}
        for w, lines in acked.items():
            for rid, text in lines:
                assert by_id[rid].text == text, (w, rid)  # acknowledged: present, with its words
        per_scope_text = Counter((r.scope, r.text) for r in stored)
        assert max(per_scope_text.values()) == 1  # nothing twice, not even what every writer added
        shared = {r.text for r in stored if r.text.startswith("shared fact")}
        assert shared == {f"shared fact {i}" for i in range(0, ADDS, 10)}
        for r in stored[::50]:
            assert len(await store.history(r.id)) == 1  # one add logged per record
