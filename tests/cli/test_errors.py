"""Errors, never Tracebacks: the real `omne` command on unusable data directories, broken configuration and bad
paths prints one `error: ...` line and exits non-zero (issue 14 item 18)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from omne_core.config import load_settings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore

from .support import invoke, omne, one_line_error


@pytest.fixture(scope="module")
def made_store(tmp_path_factory):
    """A real store with a few records, copied by the tests that damage it."""
    data_dir = tmp_path_factory.mktemp("made-store")

    async def fill() -> None:
        async with await MemoryStore.open(load_settings(data_dir=data_dir)) as store:
            scope = MemoryScope(user_id="u")
            await store.add([MemoryRecord(kind=MemoryKind.FACT, text=f"fact number {i}", scope=scope) for i in range(50)])

    asyncio.run(fill())
    return data_dir


def _copy(source, target):
    import shutil

    shutil.copytree(source, target)
    return target


def test_a_file_instead_of_a_data_directory(tmp_path):
    a_file = tmp_path / "data"
    a_file.write_text("not a folder")
    done = omne("memory", "stats", "--user", "u", env={"OMNE_DATA_DIR": str(a_file)})
    one_line_error(done, str(a_file), "is a file, not a folder")
    assert a_file.read_text() == "not a folder"
    doctor = omne("doctor", "--timeout", "1", env={"OMNE_DATA_DIR": str(a_file)})
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr
    assert any(line.startswith("FAIL") and "data directory" in line and "is a file" in line for line in doctor.stdout.splitlines())


def test_not_a_database_and_a_truncated_database(tmp_path, made_store):
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "memory.sqlite3").write_bytes(b"this is not sqlite at all\n" * 100)
    done = omne("memory", "list", "--user", "u", env={"OMNE_DATA_DIR": str(garbage)})
    one_line_error(done, "memory database", "memory.sqlite3", "not a database")

    truncated = _copy(made_store, tmp_path / "truncated")
    database = truncated / "memory.sqlite3"
    for suffix in ("-wal", "-shm"):
        (truncated / f"memory.sqlite3{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(database) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    assert pages > 4
    database.write_bytes(database.read_bytes()[: 4096 * 3])
    done = omne("memory", "list", "--user", "u", env={"OMNE_DATA_DIR": str(truncated)})
    one_line_error(done, "memory database", "memory.sqlite3")

    for broken, needle in ((garbage, "not a usable database"), (truncated, "memory.sqlite3")):
        doctor = omne("doctor", "--timeout", "1", env={"OMNE_DATA_DIR": str(broken)})
        assert doctor.returncode == 1 and "Traceback" not in doctor.stderr, doctor.stderr
        [line] = [line for line in doctor.stdout.splitlines() if "memory database" in line]
        assert line.startswith("FAIL") and needle in line, doctor.stdout


def test_a_read_only_data_directory(tmp_path, made_store):
    store = _copy(made_store, tmp_path / "read-only")
    (store / "memory.sqlite3-wal").unlink(missing_ok=True)
    (store / "memory.sqlite3-shm").unlink(missing_ok=True)
    modes = {}
    for path in [store, *store.rglob("*")]:
        modes[path] = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
    missing = tmp_path / "locked" / "data"
    missing.parent.mkdir()
    missing.parent.chmod(0o555)
    try:
        for command in (["add", "new fact"], ["list"]):
            done = omne("memory", *command, "--user", "u", env={"OMNE_DATA_DIR": str(store)}, no_root_override=True)
            one_line_error(done, f"the data directory {store} is not writable")
        done = omne("memory", "stats", "--user", "u", env={"OMNE_DATA_DIR": str(missing)}, no_root_override=True)
        one_line_error(done, f"the data directory {missing} is not writable", "permission denied")
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
        (tmp_path / "locked").chmod(0o755)


@pytest.mark.parametrize(
    ("toml", "env", "needles"),
    [
        ("[memory\nbroken = ", {}, ["is not valid TOML"]),
        ("[memory]\nverify_index = false\n", {}, ["memory.verify_index: unknown field"]),
        ("colour = 'teal'\n", {}, ["colour: unknown field"]),
        ("", {"OMNE_CHROMA__PORT": "not-a-port"}, ["chroma.port", "not-a-port"]),
        ("", {"OMNE_MEMORY__RECENCY_WEIGHTS": "1"}, ["memory.recency_weights: unknown field"]),
        ("", {"OMNE_MODELS__MAIN__PROVIDER": "bogus"}, ["models.main.provider", "'bogus'"]),
    ],
)
def test_config_show_reports_bad_configuration_in_one_sentence(tmp_path, toml, env, needles):
    config = tmp_path / "omne.toml"
    config.write_text(toml)
    done = omne("config", "show", env={"OMNE_CONFIG": str(config), **env})
    line = one_line_error(done, *needles)
    assert "pydantic" not in line and "For further information" not in line


def test_omne_config_naming_a_missing_file_is_an_error(tmp_path):
    missing = tmp_path / "nowhere" / "omne.toml"
    done = omne("config", "show", env={"OMNE_CONFIG": str(missing)})
    one_line_error(done, "OMNE_CONFIG", str(missing))
    result = invoke("memory", "stats", "--user", "u")  # the default test config exists: fine
    assert result.exit_code == 0, result.output


def test_memory_export_to_a_folder_or_an_unwritable_place(tmp_path, embedder):
    folder = tmp_path / "exports"
    folder.mkdir()
    result = invoke("memory", "export", str(folder), "--user", "u")
    assert result.exit_code == 1 and result.output.startswith(f"error: {folder} is a folder")
    assert list(folder.iterdir()) == []
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    result = invoke("memory", "export", str(blocker / "out.jsonl"), "--user", "u")
    assert result.exit_code == 1 and result.output.startswith("error: ")
    assert len(result.output.strip().splitlines()) == 1
