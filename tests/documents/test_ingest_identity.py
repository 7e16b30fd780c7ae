"""What a folder ingest may take and how a document is identified (issue 14 item 17): an edited file supersedes
its old chunks, the same bytes under another path are not a new document, links out of the folder, special files
and the data directory itself are never read, and chunk sizes are checked before anything is read."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from omne_core.config import load_settings
from omne_core.memory import MemoryScope, MemoryStore, MemoryValidationError
from omne_core.memory.ingest import discover_files, ingest_paths

SCOPE = MemoryScope(user_id="reader", namespace="docs")


@pytest.fixture
async def store(tmp_path, embedder):
    async with await MemoryStore.open(load_settings(data_dir=tmp_path / "data"), embedder=embedder) as opened:
        yield opened


async def _active_texts(store, scope=SCOPE) -> list[str]:
    return sorted(r.text.split("\n", 1)[1] for r in await store.list(scope, limit=None))


async def test_an_edited_file_supersedes_its_old_chunks(tmp_path, store):
    folder = tmp_path / "notes"
    folder.mkdir()
    note = folder / "plan.md"
    note.write_text("The launch is on Monday.\n")
    (folder / "other.md").write_text("The budget is 40 euros.\n")
    first = await ingest_paths(store, [folder], SCOPE)
    assert first.added == 2

    note.write_text("The launch moved to Friday.\n")
    second = await ingest_paths(store, [folder], SCOPE)
    [changed] = [f for f in second.files if f.path.endswith("plan.md")]
    assert changed.added == 1 and changed.superseded == 1
    assert await _active_texts(store) == ["The budget is 40 euros.", "The launch moved to Friday."]
    hits = await store.search("when is the launch", SCOPE, limit=5)
    assert [h.record.text.endswith("Friday.") for h in hits if "launch" in h.record.text] == [True]
    [old] = [r for r in await store.list(SCOPE, limit=None, include_inactive=True) if r.text.endswith("Monday.")]
    assert old.status.value == "superseded"

    third = await ingest_paths(store, [folder], SCOPE)  # nothing changed: nothing converted, nothing added
    assert third.added == 0 and all(f.superseded == 0 for f in third.files)
    assert len(await store.list(SCOPE, limit=None, include_inactive=True)) == 3


async def test_the_same_file_under_another_path_is_not_a_new_document(tmp_path, store):
    folder = tmp_path / "docs"
    (folder / "copy").mkdir(parents=True)
    (folder / "report.txt").write_text("Quarterly revenue rose by 12 percent.\n")
    (folder / "copy" / "report-final.txt").write_text("Quarterly revenue rose by 12 percent.\n")
    report = await ingest_paths(store, [folder], SCOPE)
    assert report.added == 1
    [duplicate] = [f for f in report.files if f.duplicate_of]
    assert duplicate.path.endswith("report-final.txt") and duplicate.duplicate_of.endswith("report.txt")
    moved = tmp_path / "elsewhere.txt"
    moved.write_text("Quarterly revenue rose by 12 percent.\n")
    again = await ingest_paths(store, [moved], SCOPE)
    assert again.added == 0 and again.files[0].duplicate_of.endswith("report.txt")
    assert len(await store.list(SCOPE, limit=None)) == 1
    other_scope = MemoryScope(user_id="someone-else")
    assert (await ingest_paths(store, [moved], other_scope)).added == 1  # another scope's memory is its own

    (folder / "report.txt").write_text("Quarterly revenue fell by 3 percent.\n")  # the copy keeps the old text
    edited = await ingest_paths(store, [folder], SCOPE)
    assert sorted((Path(f.path).name, f.added, f.superseded) for f in edited.files) == [
        ("report-final.txt", 1, 0), ("report.txt", 1, 1),
    ]  # fmt: skip
    assert await _active_texts(store) == ["Quarterly revenue fell by 3 percent.", "Quarterly revenue rose by 12 percent."]


async def test_links_out_of_the_folder_special_files_and_the_data_directory_are_not_read(tmp_path, store):
    project = tmp_path / "project"
    (project / "inside").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("the root password is hunter2\n")
    (project / "readme.txt").write_text("A small project.\n")
    (project / "passwd-link").symlink_to("/etc/passwd")
    (project / "secret-link.txt").symlink_to(secret)
    (project / "inside-link.txt").symlink_to(project / "readme.txt")  # stays inside: the same file, read once
    (project / "outside-folder").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(project / "queue.fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(project / "service.sock"))
    try:
        files, skipped = discover_files([project])
    finally:
        sock.close()
    assert [f.name for f in files] == ["readme.txt"]
    reasons = {os.path.basename(s.path): s.reason for s in skipped}
    assert "leading outside" in reasons["passwd-link"] and "leading outside" in reasons["secret-link.txt"]
    assert reasons["outside-folder"] == "a symbolic link to a folder (not followed)"
    assert reasons["queue.fifo"].startswith("a named pipe (FIFO)") and reasons["service.sock"].startswith("a socket")

    data_dir = store.settings.data_dir
    (data_dir / "note.txt").write_text("inside the data directory\n")
    report = await ingest_paths(store, [project, data_dir, tmp_path], SCOPE)  # tmp_path holds data_dir and project
    texts = await _active_texts(store)
    assert "A small project." in texts and "the root password is hunter2" in texts  # secret.txt: a file of tmp_path
    assert not any("root:" in t or "inside the data directory" in t for t in texts)
    assert texts.count("A small project.") == 1
    assert any(s.error == "DataDirectory" for s in report.skipped)
    assert any(s.error == "SpecialFile" for s in report.skipped)


@pytest.mark.parametrize(("chunk", "overlap"), [(0, None), (1, None), (-5, None), (100, 50), (100, -1)])
async def test_bad_chunk_sizes_are_refused_before_any_file_is_read(tmp_path, store, chunk, overlap):
    unreadable = tmp_path / "never-read.txt"
    unreadable.write_text("x")
    unreadable.chmod(0)
    with pytest.raises(MemoryValidationError, match="chunk_tokens"):
        await ingest_paths(store, [unreadable], SCOPE, chunk_tokens=chunk, overlap_tokens=overlap)


async def test_files_are_converted_and_stored_a_few_at_a_time(tmp_path, store, monkeypatch):
    """At most one converted file per worker waits to be stored: a big folder is never held in memory at once."""
    from omne_core.memory import ingest

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(30):
        (folder / f"note-{i:02}.txt").write_text(f"Note number {i} about the harbour.\n")
    settings = store.settings.model_copy(deep=True)
    settings.documents.worker_processes = 2
    held = peak = 0
    real_convert = ingest.convert_file

    async def counting_convert(*args, **kwargs):
        nonlocal held, peak
        doc = await real_convert(*args, **kwargs)
        held += 1
        peak = max(peak, held)
        return doc

    def counting(method):
        async def stored(*args, **kwargs):
            nonlocal held
            result = await method(*args, **kwargs)
            held -= 1
            return result

        return stored

    monkeypatch.setattr(ingest, "convert_file", counting_convert)
    monkeypatch.setattr(store, "add", counting(store.add))
    monkeypatch.setattr(store, "add_superseding", counting(store.add_superseding))
    report = await ingest_paths(store, [folder], SCOPE, settings=settings)
    assert report.added == 30 and held == 0
    assert peak <= 2
