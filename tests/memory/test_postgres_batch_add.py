"""A batch add on PostgreSQL writes while it encodes (`PostgresBackend.commit_encoding`): the next part's vectors
are encoded while the previous part is committed, each part one transaction. A failure half-way loses nothing
acknowledged, and adding the batch again stores every record exactly once."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Sequence

import psycopg
import pytest

from omne_core.config import load_settings
from omne_core.config.memory import StoreSettings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore
from omne_core.memory.backends.postgres.backend import write_parts
from omne_core.memory.errors import MemoryValidationError
from tests.support.embedders import HashEmbedder
from tests.support.postgres import requires_postgres

pytestmark = [pytest.mark.postgres, requires_postgres]

PART = StoreSettings().postgres_write_part
SIZE = 3 * PART + 7


class FailingEmbedder(HashEmbedder):
    """Encodes as HashEmbedder; on the `fail_call`-th encode: raises (`mode="raise"`), or returns a NaN vector for
    the part's last text, which PostgreSQL refuses when that part is written (`mode="nan"`)."""

    def __init__(self, fail_call: int | None, mode: str = "raise") -> None:
        self.fail_call, self.mode, self.calls = fail_call, mode, 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        vectors = super().embed(texts)
        if self.calls == self.fail_call and len(texts) > 1:
            if self.mode == "raise":
                raise RuntimeError("the embedding model failed")
            vectors[-1] = [math.nan] * self.dimension
        return vectors


def records(n: int, user: str = "u") -> list[MemoryRecord]:
    return [
        MemoryRecord(kind=MemoryKind.MESSAGE, text=f"batch record {i} about topic {i % 7}", scope=MemoryScope(user_id=user))
        for i in range(n)
    ]


def part_sizes(batch: Sequence[MemoryRecord]) -> list[int]:
    """How many records each part of `batch` holds, in the order they are written (longest texts first)."""
    return [len(part) for part in write_parts([len(r.text) for r in batch], PART)]


def settings_for(postgres_server, postgres_schema, tmp_path, **store):
    return load_settings(
        data_dir=tmp_path / "data",
        store={"backend": "postgres", "postgres_url": postgres_server.url, "postgres_schema": postgres_schema, **store},
    )


def stored_state(url: str, schema: str) -> tuple[list[str], int, int]:
    """(the stored texts, records with a vector, history rows) read straight from the database."""
    with psycopg.connect(url, autocommit=True) as conn:
        texts = [row[0] for row in conn.execute(f'SELECT body->>\'text\' FROM "{schema}".records ORDER BY seq')]
        vectors = conn.execute(f'SELECT count(*) FROM "{schema}".vectors').fetchone()[0]
        history = conn.execute(f'SELECT count(*) FROM "{schema}".history').fetchone()[0]
    return texts, vectors, history


@pytest.mark.parametrize("mode", ["raise", "nan"], ids=["encoder-fails", "database-refuses-a-part"])
async def test_a_batch_failing_half_way_loses_nothing_and_adding_it_again_stores_each_record_once(
    postgres_server, postgres_schema, tmp_path, mode
):
    settings = settings_for(postgres_server, postgres_schema, tmp_path)
    batch = records(SIZE)
    failing = FailingEmbedder(fail_call=3, mode=mode)
    store = await MemoryStore.open(settings, embedder=failing)
    try:
        with pytest.raises(Exception) as raised:
            await store.add(batch)
        assert "embedding model failed" in str(raised.value) or "NaN" in str(raised.value)
    finally:
        await store.close()
    texts, vectors, history = stored_state(postgres_server.url, postgres_schema)
    # the two parts committed before the failure stay, whole (record, vector, history row); nothing of the rest.
    # Parts are cut from the longest texts down, and the stored records keep the batch's order.
    committed = sum(part_sizes(batch)[:2])
    assert 0 < committed < SIZE and len(texts) == committed and (vectors, history) == (committed, committed)
    position = {r.text: i for i, r in enumerate(batch)}
    assert [position[t] for t in texts] == sorted(position[t] for t in texts)
    assert min(map(len, texts)) >= max(len(r.text) for r in batch if r.text not in texts)

    store = await MemoryStore.open(settings, embedder=HashEmbedder())
    try:
        stored = await store.add(batch)
        assert [r.text for r in stored] == [r.text for r in batch]
        assert [r.id for r in stored if r.text in texts] == [r.id for r in batch if r.text in texts]
    finally:
        await store.close()
    texts, vectors, history = stored_state(postgres_server.url, postgres_schema)
    assert sorted(texts) == sorted(r.text for r in batch)  # every record once
    assert (vectors, history) == (SIZE, SIZE)


async def test_a_record_postgres_cannot_store_rejects_the_batch_before_any_part_is_written(
    postgres_server, postgres_schema, tmp_path
):
    batch = records(SIZE)
    batch[-1] = MemoryRecord(kind=MemoryKind.MESSAGE, text="nul \x00 at the end", scope=MemoryScope(user_id="u"))
    store = await MemoryStore.open(settings_for(postgres_server, postgres_schema, tmp_path), embedder=HashEmbedder())
    try:
        with pytest.raises(MemoryValidationError, match="NUL"):
            await store.add(batch)
    finally:
        await store.close()
    assert stored_state(postgres_server.url, postgres_schema) == ([], 0, 0)


class WatchingEmbedder(HashEmbedder):
    """On its second encode, waits (up to 20 s) to see the first part committed in the database: it is, only if
    the store writes a part while it encodes the next."""

    def __init__(self, url: str, schema: str) -> None:
        self.url, self.schema, self.calls = url, schema, 0
        self.seen_while_encoding: int | None = None
        self.lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        with self.lock:
            self.calls += 1
            call = self.calls
        if call == 2:
            deadline = time.monotonic() + 20
            with psycopg.connect(self.url, autocommit=True) as conn:
                while time.monotonic() < deadline:
                    n = conn.execute(f'SELECT count(*) FROM "{self.schema}".vectors').fetchone()[0]
                    if n:
                        self.seen_while_encoding = n
                        break
                    time.sleep(0.02)
        return super().embed(texts)


async def test_the_next_part_encodes_while_the_previous_one_is_written(postgres_server, postgres_schema, tmp_path):
    watcher = WatchingEmbedder(postgres_server.url, postgres_schema)
    store = await MemoryStore.open(settings_for(postgres_server, postgres_schema, tmp_path), embedder=watcher)
    try:
        watcher.calls = 0  # opening the store may embed nothing, but count from here
        stored = await store.add(records(SIZE))
    finally:
        await store.close()
    assert len(stored) == SIZE
    sizes = part_sizes(records(SIZE))
    assert watcher.calls == len(sizes) > 2  # one encode per part
    assert watcher.seen_while_encoding == sizes[0]  # the first part was committed while the second encoded


async def test_with_parts_switched_off_a_batch_is_one_transaction(postgres_server, postgres_schema, tmp_path):
    """`store.postgres_write_part = 0`: the batch is encoded in one call, then written all or nothing."""
    settings = settings_for(postgres_server, postgres_schema, tmp_path, postgres_write_part=0)
    failing = FailingEmbedder(fail_call=1, mode="nan")  # the batch's last vector is NaN: PostgreSQL refuses it
    store = await MemoryStore.open(settings, embedder=failing)
    try:
        with pytest.raises(Exception, match="NaN"):
            await store.add(records(SIZE))
        assert failing.calls == 1
    finally:
        await store.close()
    assert stored_state(postgres_server.url, postgres_schema) == ([], 0, 0)


async def test_a_batch_keeps_its_order_and_resolves_its_copies_to_their_first_occurrence(
    postgres_server, postgres_schema, tmp_path
):
    """Randomized: texts of very different lengths (encoded in parts of similar length, longest first) in random
    order, with copies (same content, or same id) later in the batch. The records are stored in input order, each
    copy comes back as its first occurrence's record, and nothing is stored twice, as with one transaction."""
    rng = random.Random(seed := random.randrange(10**6))
    originals = [
        MemoryRecord(kind=MemoryKind.MESSAGE, text=f"note {i} " + "word " * rng.randint(0, 60),
                     scope=MemoryScope(user_id=rng.choice(["u", "v"])))
        for i in range(2 * PART + 30)
    ]  # fmt: skip
    batch, lead = list(originals), list(range(len(originals)))
    for _ in range(20):  # copies after their original: the same record again, or its text and scope with a new id
        j = rng.randrange(len(originals))
        copy = originals[j] if rng.random() < 0.5 else MemoryRecord(
            kind=MemoryKind.MESSAGE, text=originals[j].text, scope=originals[j].scope)  # fmt: skip
        at = rng.randint(batch.index(originals[j]) + 1, len(batch))
        batch.insert(at, copy)
        lead.insert(at, j)
    store = await MemoryStore.open(settings_for(postgres_server, postgres_schema, tmp_path), embedder=HashEmbedder())
    try:
        stored = await store.add(batch)
    finally:
        await store.close()
    assert [r.id for r in stored] == [originals[j].id for j in lead], seed
    texts, vectors, history = stored_state(postgres_server.url, postgres_schema)
    assert texts == [r.text for r in originals], seed  # in input order, each once
    assert (vectors, history) == (len(originals), len(originals)), seed


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        return super().embed(texts)


@pytest.mark.parametrize("part", [16, 40])
async def test_a_batch_of_more_than_one_part_is_written_in_parts_of_the_setting(
    postgres_server, postgres_schema, tmp_path, part
):
    """The part size is the setting's, also below 64: a batch of more records is written in parts, a batch of
    at most one part is encoded and committed at once."""
    settings = settings_for(postgres_server, postgres_schema, tmp_path, postgres_write_part=part)
    counter = CountingEmbedder()
    store = await MemoryStore.open(settings, embedder=counter)
    try:
        counter.calls = []
        await store.add(records(part))  # one part: one encode
        assert counter.calls == [part]
        counter.calls = []
        await store.add(records(50, user="w"))
        assert max(counter.calls) <= part and sum(counter.calls) == 50 and len(counter.calls) > 1
    finally:
        await store.close()
