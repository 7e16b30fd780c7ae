"""Embedded mode across processes: a second process on a data directory gets a clear error naming the holder
and the ways out; the lock dies with its holder (SIGKILL included); stores within one process share it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from omne_core.config import load_settings
from omne_core.memory import DataDirectoryInUseError, MemoryKind, MemoryRecord, MemoryScope, MemoryStore

# A child process that opens the store (a cheap hashing embedder: the lock is what is tested), adds a record,
# says so, and then waits for stdin to close before closing the store.
HOLDER = textwrap.dedent(
    """
    import asyncio, hashlib, sys
    from omne_core.config import load_settings
    from omne_core.memory import DataDirectoryInUseError, MemoryKind, MemoryRecord, MemoryScope, MemoryStore

    class HashEmbedder:
        name, dimension = "hash-8", 8
        def embed(self, texts):
            out = []
            for t in texts:
                d = hashlib.sha256(t.encode()).digest()[:8]
                v = [b - 127.5 for b in d]
                n = sum(x * x for x in v) ** 0.5
                out.append([x / n for x in v])
            return out

    async def main():
        try:
            store = await MemoryStore.open(load_settings(data_dir=sys.argv[1]), embedder=HashEmbedder())
        except DataDirectoryInUseError as exc:
            print("LOCKED", exc, flush=True)
            return
        await store.add(MemoryRecord(kind=MemoryKind.FACT, text=sys.argv[2], scope=MemoryScope(user_id="u")))
        print("READY", flush=True)
        await asyncio.to_thread(sys.stdin.read)
        await store.close()
        print("CLOSED", flush=True)

    asyncio.run(main())
    """
)


def start_holder(data_dir, text: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir), text, "--as-holder"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def first_line(proc: subprocess.Popen[str]) -> str:
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(f"child ended without a word: {proc.stderr.read()[-2000:]}")
    return line.strip()


async def test_second_process_is_refused_and_the_lock_dies_with_its_holder(tmp_path, embedder):
    data_dir = tmp_path / "data"
    holder = start_holder(data_dir, "held by the first process")
    try:
        assert await asyncio.to_thread(first_line, holder) == "READY"

        # this process: refused, with the holder's pid and command and the ways out
        with pytest.raises(DataDirectoryInUseError) as refused:
            await MemoryStore.open(load_settings(data_dir=data_dir), embedder=embedder)
        message = str(refused.value)
        assert f"pid {holder.pid}" in message and "--as-holder" in message
        assert "omne serve" in message and "OMNE_STORE__BACKEND=postgres" in message
        assert str(data_dir.resolve()) in message

        # another process: refused the same way, and it wrote nothing
        second = start_holder(data_dir, "written by the second process")
        out, err = await asyncio.to_thread(second.communicate, "", 120)
        assert out.startswith("LOCKED") and f"pid {holder.pid}" in out, err[-2000:]
    finally:
        holder.send_signal(signal.SIGKILL)  # no close, no cleanup: the kernel drops the lock
        await asyncio.to_thread(holder.wait, 60)
    assert holder.returncode == -signal.SIGKILL

    async with await MemoryStore.open(load_settings(data_dir=data_dir), embedder=embedder) as store:
        texts = {r.text for r in await store.list(MemoryScope(user_id="u"), limit=None)}
    assert texts == {"held by the first process"}


async def test_stores_in_one_process_share_the_lock_and_closing_the_last_frees_it(tmp_path, embedder):
    settings = load_settings(data_dir=tmp_path / "data")
    first = await MemoryStore.open(settings, embedder=embedder)
    second = await MemoryStore.open(settings, embedder=embedder)  # same process: allowed
    await second.add(MemoryRecord(kind=MemoryKind.FACT, text="from the second store", scope=MemoryScope(user_id="u")))
    await second.close()
    await first.add(MemoryRecord(kind=MemoryKind.FACT, text="first store still open", scope=MemoryScope(user_id="u")))

    child = start_holder(settings.data_dir, "child while the first store is open")
    out, _ = await asyncio.to_thread(child.communicate, "", 120)
    assert out.startswith("LOCKED") and f"pid {os.getpid()}" in out

    await first.close()
    child = start_holder(settings.data_dir, "child after every store closed")
    try:
        assert await asyncio.to_thread(first_line, child) == "READY"
    finally:
        out, err = await asyncio.to_thread(child.communicate, "", 120)
    assert "CLOSED" in out, err[-2000:]
