"""The memory contract tests run on both storage backends: the settings for each, and probes that look inside a
store's storage (vectors, the lexical index, history rows) the same way whichever backend holds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omne_core.config import OmneSettings, load_settings

BACKENDS = ("embedded", "postgres")
both_backends = pytest.mark.parametrize("store_backend", BACKENDS, indirect=True)


def backend_settings(request: pytest.FixtureRequest, data_dir: Path, backend: str) -> OmneSettings:
    """Settings of a fresh store on `backend` (postgres: a schema of the test's own, dropped afterwards)."""
    if backend == "embedded":
        return load_settings(data_dir=data_dir)
    server = request.getfixturevalue("postgres_server")
    schema = request.getfixturevalue("postgres_schema")
    return load_settings(
        data_dir=data_dir, store={"backend": "postgres", "postgres_url": server.url, "postgres_schema": schema}
    )


def other_store(settings: OmneSettings, data_dir: Path) -> OmneSettings:
    """Settings of a second, empty store beside `settings`' (another data directory, or another schema)."""
    if settings.store.backend.value == "embedded":
        return settings.model_copy(update={"data_dir": data_dir})
    store = settings.store.model_copy(update={"postgres_schema": f"{settings.store.postgres_schema}_b"})
    return settings.model_copy(update={"data_dir": data_dir, "store": store})


def only_embedded(store: Any, why: str) -> None:
    if store.backend.name != "embedded":
        pytest.skip(f"embedded backend only: {why}")


async def _pg(store: Any, query: str, *params: Any) -> list[tuple[Any, ...]]:
    backend = store.backend
    async with backend._connection() as conn:
        cur = await conn.execute(backend.rows.q(query), params or None)
        return await cur.fetchall()


async def vector_ids(store: Any) -> set[str]:
    """Ids of the records that have a vector in the store's vector index."""
    if store.backend.name == "embedded":
        return set(store.backend.vectors.all_ids())
    return {rid for (rid,) in await _pg(store, "SELECT r.id FROM {s}.vectors v JOIN {s}.records r ON r.seq = v.seq")}


async def dense_texts(store: Any) -> dict[str, str]:
    """The stored dense text of every record (what its vector was made from), by id."""
    if store.backend.name == "embedded":
        return dict(store.backend.db.conn().execute("SELECT id, dense_text FROM records").fetchall())
    return dict(await _pg(store, "SELECT id, dense_text FROM {s}.records"))


async def lexical_rows(store: Any, word: str) -> int:
    """How many records the lexical index finds holding `word`."""
    if store.backend.name == "embedded":
        conn = store.backend.db.conn()
        return conn.execute("SELECT count(*) FROM records_fts WHERE records_fts MATCH ?", (f'"{word}"',)).fetchone()[0]
    from omne_core.memory.backends.lexical_tokens import query_tokens

    [token] = query_tokens([word])
    return (await _pg(store, "SELECT count(*) FROM {s}.postings WHERE term = %s", token))[0][0]


async def stored_labels(store: Any, value: str) -> int:
    """How many metadata values equal to `value` the store still holds (the embedded label index, or records)."""
    if store.backend.name == "embedded":
        conn = store.backend.db.conn()
        return conn.execute("SELECT count(*) FROM record_labels WHERE value = ?", (value,)).fetchone()[0]
    rows = await _pg(store, "SELECT count(*) FROM {s}.records WHERE body::text LIKE %s", f"%{value}%")
    return rows[0][0]


async def history_mentions(store: Any, user_id: str, text: str) -> int:
    """History rows of the user, or whose before/after content holds `text`."""
    if store.backend.name == "embedded":
        conn = store.backend.db.conn()
        return conn.execute(
            "SELECT count(*) FROM history WHERE user_id = ? OR before LIKE ? OR after LIKE ?",
            (user_id, f"%{text}%", f"%{text}%"),
        ).fetchone()[0]
    rows = await _pg(
        store,
        "SELECT count(*) FROM {s}.history WHERE user_id = %s OR before::text LIKE %s OR after::text LIKE %s",
        user_id, f"%{text}%", f"%{text}%",
    )  # fmt: skip
    return rows[0][0]


async def row_counts(store: Any) -> tuple[int, int, int]:
    """(records, history rows, vectors) of the whole store."""
    if store.backend.name == "embedded":
        conn = store.backend.db.conn()
        return (
            conn.execute("SELECT count(*) FROM records").fetchone()[0],
            conn.execute("SELECT count(*) FROM history").fetchone()[0],
            store.backend.vectors.count(),
        )
    [(records, history, vectors)] = await _pg(
        store,
        "SELECT (SELECT count(*) FROM {s}.records), (SELECT count(*) FROM {s}.history), (SELECT count(*) FROM {s}.vectors)",
    )
    return records, history, vectors
