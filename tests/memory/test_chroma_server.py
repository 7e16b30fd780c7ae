"""The same store code against a real `chroma run` server on 127.0.0.1 (ChromaSettings.mode = http)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from omne_core.config import ChromaMode, ChromaSettings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore
from omne_core.memory.backends.embedded.chroma import VectorIndexError
from tests.support.servers import free_port

pytestmark = pytest.mark.chroma_server

SCOPE = MemoryScope(user_id="srv")


def chroma_executable() -> str:
    local = Path(sys.executable).with_name("chroma")
    found = str(local) if local.exists() else shutil.which("chroma")
    if not found:
        pytest.fail("the `chroma` CLI (installed with chromadb) is missing")
    return found


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [chroma_executable(), "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"chroma server did not start: {proc.stderr.read().decode()[-2000:]}")
    yield port
    proc.terminate()
    proc.wait(timeout=10)


async def test_store_on_chroma_server(settings, embedder, chroma_server):
    http = settings.model_copy(update={"chroma": ChromaSettings(mode=ChromaMode.HTTP, host="127.0.0.1", port=chroma_server)})
    store = await MemoryStore.open(http, embedder=embedder)
    a, b = await store.add([MemoryRecord(kind=MemoryKind.FACT, text="the server stores vectors", scope=SCOPE),
                            MemoryRecord(kind=MemoryKind.FACT, text="bananas are yellow", scope=SCOPE)])
    hits = await store.search("which fruit is yellow", SCOPE)
    assert hits[0].record.id == b.id and hits[0].dense_score is not None
    assert not (http.data_dir / "chroma").exists()  # nothing embedded on disk: vectors live in the server
    await store.delete(a.id, hard=True)
    assert store.backend.vectors.all_ids() == {b.id}
    await store.close()
    # reopen against the same server: nothing to repair, search still works
    async with await MemoryStore.open(http, embedder=embedder) as reopened:
        assert reopened.backend.vectors.all_ids() == {b.id}
        assert (await reopened.search("bananas", SCOPE))[0].record.id == b.id
        assert await reopened.search("bananas", MemoryScope(user_id="never-seen")) == []  # no collection yet
        await reopened.add([MemoryRecord(kind=MemoryKind.FACT, text="kiwis are green", scope=MemoryScope(user_id="tmp"))])
        assert sorted(reopened.backend.vectors.users()) == ["srv", "tmp"]
        assert await reopened.forget_user("tmp") == 1
        assert reopened.backend.vectors.users() == ["srv"]  # the user's collection is gone from the server


async def test_unreachable_server_is_a_clear_error(settings, embedder):
    http = settings.model_copy(update={"chroma": ChromaSettings(mode=ChromaMode.HTTP, host="127.0.0.1", port=free_port())})
    with pytest.raises(VectorIndexError, match="cannot open chroma"):
        await MemoryStore.open(http, embedder=embedder)
