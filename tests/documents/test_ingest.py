"""Ingestion of folders into a real MemoryStore: chunks with provenance, skips with reasons, no duplicates."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from omne_core.config import load_settings
from omne_core.memory import MemoryKind, MemoryScope, MemoryStore
from omne_core.memory.ingest import discover_files, ingest_paths

from . import builders


def _folder(root: Path) -> Path:
    folder = root / "corpus"
    (folder / "nested").mkdir(parents=True)
    (folder / ".git").mkdir()
    builders.make_pdf(folder / "report.pdf", ["Intro", "The reactor output was 451 megawatts."])
    builders.make_xlsx(folder / "inventory.xlsx")
    builders.make_docx(folder / "paper.docx")
    (folder / "nested" / "notes.md").write_text("# Notes\n\nThe courier arrives on Tuesday.")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    (folder / "blob.bin").write_bytes(bytes(range(256)) * 4)
    (folder / ".hidden.txt").write_text("hidden")
    (folder / ".git" / "config").write_text("[core]")
    return folder


def test_discovery_walks_folders_and_skips_hidden(tmp_path):
    folder = _folder(tmp_path)
    files, skipped = discover_files([folder, tmp_path / "missing.txt", folder / "report.pdf"])
    names = sorted(p.name for p in files)
    assert names == ["blob.bin", "broken.pdf", "inventory.xlsx", "notes.md", "paper.docx", "report.pdf"]
    assert [s.reason for s in skipped] == ["no such file or folder"]


async def test_ingesting_a_folder_twice_adds_nothing_the_second_time(tmp_path, embedder):
    settings = load_settings(data_dir=tmp_path / "data")
    scope = MemoryScope(user_id="u1", namespace="docs")
    folder = _folder(tmp_path)
    seen: list[str] = []
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        first = await ingest_paths(store, [folder], scope, on_file=lambda p, r: seen.append(p.name))
        assert sorted(f.kind for f in first.files) == ["docx", "pdf", "text", "xlsx"]
        assert {s.error for s in first.skipped} == {"CorruptFileError", "UnsupportedFileTypeError"}
        assert first.chunks > 0 and first.added == first.chunks
        assert len(seen) == 6
        total = (await store.stats(scope)).total
        assert total == first.chunks

        second = await ingest_paths(store, [folder], scope)
        assert second.chunks == first.chunks and second.added == 0 and second.duplicates == first.chunks
        assert (await store.stats(scope)).total == total

        hits = await store.search("reactor output megawatts", scope, limit=3)
        top = hits[0].record
        assert top.kind is MemoryKind.DOCUMENT_CHUNK and top.metadata["page"] == 2
        assert top.metadata["file_name"] == "report.pdf" and top.blob_ref
        assert store.blobs.get_bytes(top.blob_ref) == (folder / "report.pdf").read_bytes()

        other = MemoryScope(user_id="u2")
        assert (await ingest_paths(store, [folder / "nested"], other)).added == 1  # scopes do not dedupe across


def test_cli_ingest_prints_a_summary_and_is_idempotent(tmp_path, monkeypatch, embedder):
    from omne_cli.app import app
    from omne_core import embeddings

    monkeypatch.setattr(embeddings, "build_embedder", lambda settings: embedder)
    monkeypatch.setattr("omne_core.memory.store.build_embedder", lambda settings: embedder)
    folder = tmp_path / "small"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha facts")
    (folder / "b.csv").write_text("x,y\n1,2\n")
    (folder / "c.pdf").write_bytes(b"%PDF-1.4 broken")
    runner = CliRunner()
    first = runner.invoke(app, ["memory", "ingest", str(folder), "--user", "cli-user"])
    assert first.exit_code == 0, first.output
    assert "2 file(s) ingested: 2 chunks, 2 new, 0 already in memory; 1 skipped" in first.output
    assert "CorruptFileError" in first.output
    second = runner.invoke(app, ["memory", "ingest", str(folder), "--user", "cli-user", "--json"])
    assert second.exit_code == 0, second.output
    assert '"added": 0' in second.output and '"duplicates": 2' in second.output
    missing = runner.invoke(app, ["memory", "ingest", str(tmp_path / "nothing"), "--user", "cli-user"])
    assert missing.exit_code == 1
