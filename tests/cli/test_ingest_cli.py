"""`omne memory ingest` options and reports (issue 14 item 17, CLI side)."""

from __future__ import annotations

import os

import pytest

from .support import flat, invoke, ok


@pytest.mark.parametrize("value", ["0", "1", "-5"])
def test_chunk_tokens_below_the_minimum_are_refused_alike(tmp_path, value):
    (tmp_path / "a.txt").write_text("alpha")
    result = invoke("memory", "ingest", str(tmp_path / "a.txt"), "--user", "u", "--chunk-tokens", value)
    assert result.exit_code == 2
    assert f"chunk_tokens must be at least 32, got {value}" in flat(result.output)
    assert not (tmp_path / "omne-data").exists()  # refused before the store was opened


def test_links_out_special_files_duplicates_and_edits_are_reported(tmp_path, embedder, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # table cells on one line each
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "a-plan.txt").write_text("The meeting is on Monday.\n")
    (folder / "b-copy.txt").write_text("The meeting is on Monday.\n")
    (folder / "passwd").symlink_to("/etc/passwd")
    os.mkfifo(folder / "pipe")
    out = flat(ok("memory", "ingest", str(folder), "--user", "u"))
    assert "2 file(s) ingested: 1 chunks, 1 new" in out and "2/4" not in out
    assert f"{folder / 'b-copy.txt'}: same content as {folder / 'a-plan.txt'}, already in memory" in out
    assert "SymbolicLink" in out and "symbolic link leading outside" in out
    assert "SpecialFile a named pipe (FIFO), not a regular file" in out
    (folder / "a-plan.txt").write_text("The meeting moved to Tuesday.\n")
    out = flat(ok("memory", "ingest", str(folder), "--user", "u"))
    assert f"{folder / 'a-plan.txt'}: changed; 1 chunks of its earlier version superseded" in out
    listed = flat(ok("memory", "list", "--user", "u"))
    assert "a-plan.txt] The meeting moved to Tuesday." in listed
    assert "b-copy.txt] The meeting is on Monday." in listed  # the copy, unchanged, is a document of its own now
    assert "a-plan.txt] The meeting is on Monday." not in listed
