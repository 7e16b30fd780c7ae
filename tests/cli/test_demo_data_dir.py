"""`omne demo --data-dir DIR` empties only a folder a previous demo made, never a project or a real store
(issue 14 item 15). The reset of a previous demo's folder is covered in tests/assistant/test_demo_cli.py."""

from __future__ import annotations

import asyncio

from omne_cli.demo_cmd import MARKER
from omne_core.config import load_settings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore

from .support import invoke


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_project_folder_is_refused_and_left_untouched(tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.py").write_text("print('hello')\n")
    (project / "notes.md").write_text("# my notes\n")
    before = _snapshot(project)
    result = invoke("demo", "--data-dir", str(project))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: demo failed: ") and len(result.stderr.strip().splitlines()) == 1
    assert "is not empty" in result.stderr and "no previous demo made it" in result.stderr
    assert _snapshot(project) == before


def test_an_existing_memory_store_is_refused_and_keeps_its_records(tmp_path, embedder):
    data_dir = tmp_path / "store"

    async def fill(text: str) -> int:
        async with await MemoryStore.open(load_settings(data_dir=data_dir), embedder=embedder) as store:
            await store.add(MemoryRecord(kind=MemoryKind.FACT, text=text, scope=MemoryScope(user_id="u")))
            return (await store.stats(MemoryScope(user_id="u"))).total

    assert asyncio.run(fill("keep me")) == 1
    before = _snapshot(data_dir)
    result = invoke("demo", "--data-dir", str(data_dir))
    assert result.exit_code == 1 and "no previous demo made it" in result.output
    assert _snapshot(data_dir) == before
    assert asyncio.run(fill("and me")) == 2  # the store still opens with its record (and takes a new one)


def test_a_demo_folder_holding_other_files_and_a_file_path_are_refused(tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / MARKER).write_text("made by omne demo\n")
    (demo / "blobs").mkdir()
    (demo / "thesis.docx").write_bytes(b"precious")
    result = invoke("demo", "--data-dir", str(demo))
    assert result.exit_code == 1 and "thesis.docx" in result.output and "did not write" in result.output
    assert (demo / "thesis.docx").read_bytes() == b"precious" and (demo / "blobs").is_dir()

    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    result = invoke("demo", "--data-dir", str(a_file))
    assert result.exit_code == 1 and "is a file" in result.output and a_file.read_text() == "not a folder"
