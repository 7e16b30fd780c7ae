"""A killed `omne memory ingest` leaves no file text behind that no record cites, and forgetting the user then
leaves none at all (issue 14 item 17): SIGKILL the real command mid-way, reopen, check every blob, forget."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

from omne_core.config import load_settings
from omne_core.memory import MemoryScope, MemoryStore

from .support import OMNE, omne

MARK = "QUOKKA"


def _blob_files(blob_dir):
    return [p for p in blob_dir.rglob("*") if p.is_file() and ".pending" not in p.parts]


def _files_holding(root, needle: bytes):
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_killed_ingest_leaves_no_uncited_file_and_forget_removes_every_copy(tmp_path, embedder):
    folder = tmp_path / "papers"
    folder.mkdir()
    for i in range(400):
        (folder / f"paper-{i:03}.txt").write_text(f"{MARK}-{i} " + f"finding {i} of the survey. " * 40)
    data_dir = tmp_path / "data"
    env = {**os.environ, "OMNE_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [*OMNE, "memory", "ingest", str(folder), "--user", "victim"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    blob_dir = data_dir / "blobs"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None and len(_blob_files(blob_dir)) < 20:
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read().decode()  # killed mid-way, not after the end
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stderr.close()
    assert _blob_files(blob_dir)

    settings = load_settings(data_dir=data_dir)
    scope = MemoryScope(user_id="victim")

    async def cited_and_forget() -> tuple[set[str], set[str], int]:
        async with await MemoryStore.open(settings, embedder=embedder) as store:  # a reopen sweeps the leftovers
            refs = {r.blob_ref for r in await store.list(scope, limit=None, include_inactive=True) if r.blob_ref}
            on_disk = {p.parent.name + p.name for p in _blob_files(blob_dir)}
            forgotten = await store.forget_user("victim")
        return refs, on_disk, forgotten

    refs, on_disk, forgotten = asyncio.run(cited_and_forget())
    assert on_disk == refs, f"{len(on_disk - refs)} blobs no record cites"
    assert forgotten > 0
    assert _blob_files(blob_dir) == []
    assert not any((blob_dir / ".pending").iterdir())
    assert _files_holding(data_dir, MARK.encode()) == []

    done = omne("memory", "ingest", str(folder / "paper-007.txt"), "--user", "victim", env={"OMNE_DATA_DIR": str(data_dir)})
    assert done.returncode == 0, done.stderr  # the store is whole after all this
