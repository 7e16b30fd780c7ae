"""The storage seam: backend choice from settings, the protocols, no SQL outside the backends, and the store's
retry of a read-modify-write that a concurrent writer raced (the backend's version check)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omne_cli.app import app
from omne_core.config import StoreBackend, load_settings
from omne_core.errors import ConfigurationError
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore
from omne_core.memory.backends import (
    ChangeSet,
    LexicalIndex,
    Migrations,
    RecordBackend,
    Replacement,
    StorageBackend,
    VectorIndex,
    VersionConflict,
)
from omne_core.memory.backends.embedded import EmbeddedBackend
from tests.support.backends import both_backends

ROOT = Path(__file__).resolve().parents[2]
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX))\b", re.I)


def test_the_store_settings_come_from_their_env_names_and_hide_the_password(monkeypatch):
    monkeypatch.setenv("OMNE_STORE__BACKEND", "postgres")
    monkeypatch.setenv("OMNE_STORE__POSTGRES_URL", "postgresql://omne:hunter2-secret@db.example:5432/omne")
    settings = load_settings()
    assert settings.store.backend is StoreBackend.POSTGRES
    assert settings.store.postgres_url is not None and "hunter2-secret" in settings.store.postgres_url.get_secret_value()
    assert settings.store.postgres_schema == "omne"
    assert "hunter2-secret" not in str(settings.redacted()) and "hunter2-secret" not in repr(settings)
    shown = CliRunner().invoke(app, ["config", "show"])
    assert shown.exit_code == 0 and "hunter2-secret" not in shown.output and "postgres" in shown.output
    from omne_core.memory.store_config import StoreConfig

    dumped = StoreConfig.from_settings(settings).without_secrets().model_dump_json()
    assert '"backend":"postgres"' in dumped and "hunter2-secret" not in dumped  # a dumped OmneMemory keeps no password
    with pytest.raises(ValueError):
        load_settings(store={"postgres_schema": "Robert'); DROP TABLE x;--"})


async def test_postgres_without_a_url_is_a_clear_configuration_error(settings, embedder):
    chosen = settings.model_copy(update={"store": settings.store.model_copy(update={"backend": StoreBackend.POSTGRES})})
    with pytest.raises(ConfigurationError, match="OMNE_STORE__POSTGRES_URL"):
        await MemoryStore.open(chosen, embedder=embedder)
    assert not (settings.data_dir / settings.memory.sqlite_file).exists()  # the embedded store was not opened


@both_backends
async def test_each_backend_implements_every_protocol(store, store_backend):
    backend = store.backend
    assert backend.name == store_backend
    if store_backend == "embedded":
        assert isinstance(backend, EmbeddedBackend) and await backend.schema_version() == "1"
    else:
        from omne_core.memory.backends.postgres import schema

        assert await backend.schema_version() == str(schema.LATEST)
    for protocol in (RecordBackend, LexicalIndex, VectorIndex, Migrations, StorageBackend):
        missing = [name for name in dir(protocol) if not name.startswith("_") and not hasattr(backend, name)]
        assert isinstance(backend, protocol) and not missing, (protocol.__name__, missing)


def test_no_sql_outside_the_backends():
    offenders = []
    for path in (ROOT / "omne_core").rglob("*.py"):
        if "backends" in path.relative_to(ROOT / "omne_core").parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SQL.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
    assert SQL.search('conn.execute("SELECT kind, count(*) FROM records r")')  # the check sees SQL


async def test_a_stale_replacement_is_refused_whole(store):
    scope = MemoryScope(user_id="race")
    [record] = await store.add(MemoryRecord(kind=MemoryKind.FACT, text="the kettle is blue", scope=scope))
    await store.update(record.id, text="the kettle is green")  # version 2 now
    stale = record.model_copy(update={"text": "the kettle is red", "version": 2})
    with pytest.raises(VersionConflict):
        await store.backend.commit(ChangeSet(replacements=[Replacement(stale, expected_version=1)]))
    assert (await store.get(record.id)).text == "the kettle is green"


async def test_concurrent_updates_of_one_record_all_apply_in_turn(store):
    scope = MemoryScope(user_id="race")
    [record] = await store.add(MemoryRecord(kind=MemoryKind.FACT, text="counter", scope=scope))
    keys = [f"k{i}" for i in range(6)]

    async def bump(key: str) -> None:
        current = await store.get(record.id)
        await store.update(record.id, importance=0.5, metadata={**current.metadata, key: True})

    await asyncio.gather(*(bump(k) for k in keys))
    final = await store.get(record.id)
    history = await store.history(record.id)
    assert final.version == 1 + len(keys)
    assert [c.version for c in history] == list(range(1, len(keys) + 2))  # one new version per update, none lost
