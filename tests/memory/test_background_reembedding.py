"""`MemoryStore.open(reembed_in_background=True)` (the server's): a store whose every vector is pending (another
dense-text format, as after an upgrade) opens at once and re-embeds behind it; searches meanwhile find records by
their words; `close` waits for the batch in flight only, and what is left stays pending for the next open."""

from __future__ import annotations

import asyncio
import logging
import random
import threading

import pytest

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore
from omne_core.memory import store as store_module
from omne_core.memory.background import logger as job_logger
from tests.support.backends import both_backends, dense_texts, vector_ids
from tests.support.embedders import HashEmbedder, RecordingEmbedder
from tests.support.reembedding import USER, WORDS, GatedEmbedder, stored_under_another_format, wait_for


@both_backends
async def test_open_returns_before_the_re_embedding_and_searches_find_records_by_their_words(
    settings, monkeypatch, caplog
):
    added = await stored_under_another_format(settings, monkeypatch)
    monkeypatch.setattr(store_module, "_REPAIR_BATCH", 2)
    gated = GatedEmbedder()
    with caplog.at_level(logging.WARNING, logger=store_module.__name__):
        store = await MemoryStore.open(settings, embedder=gated, reembed_in_background=True)
        try:
            await wait_for(gated.waiting)  # its first batch is held in flight: open returned before any vector
            stats = await store.stats(USER)
            assert store.reembedding and stats.reembedding and stats.pending_index == 5
            hits = await store.search("harbour", USER)
            assert hits and hits[0].record.id == added[2].id  # found by its words
            [late] = await store.add([MemoryRecord(kind=MemoryKind.FACT, text="a note on the comet", scope=USER)])
            gated.gate.set()
            await store.wait_reembedded()
            stats = await store.stats(USER)
            assert not store.reembedding and not stats.reembedding and stats.pending_index == 0
            assert await vector_ids(store) == {r.id for r in [*added, late]}
            encoded = sorted(text for call in gated.calls for text in call)  # each once: the add's by the add
            assert encoded == sorted(f"a note on the {w}" for w in [*WORDS, "comet"])
        finally:
            gated.gate.set()
            await store.close()
    said = [r.getMessage() for r in caplog.records if r.name == store_module.__name__]
    assert said[0].endswith("in the background: until it ends, searches find the records not yet embedded by their "
                            "words only") and said[1] == "embedded the vectors of 5 records"  # fmt: skip


@both_backends
async def test_close_waits_for_the_batch_in_flight_and_the_next_open_embeds_the_rest(settings, monkeypatch):
    added = await stored_under_another_format(settings, monkeypatch)
    monkeypatch.setattr(store_module, "_REPAIR_BATCH", 2)
    gated = GatedEmbedder()
    store = await MemoryStore.open(settings, embedder=gated, reembed_in_background=True)
    await wait_for(gated.waiting)
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0.3)
    assert not closing.done()  # the batch in flight holds it: the backend is not closed under a write
    gated.gate.set()
    await asyncio.wait_for(closing, 30)
    assert len(gated.calls) == 1  # asked to stop: no batch after the one in flight
    recording = RecordingEmbedder()
    async with await MemoryStore.open(settings, embedder=recording) as store:  # the next open embeds the rest
        assert len([text for call in recording.calls for text in call]) == 3
        assert await vector_ids(store) == {r.id for r in added}
        assert len(await store.list(USER, limit=None)) == 5  # nothing lost


class OneAtATimeEmbedder(GatedEmbedder):
    """Encodes one call at a time, queries too (as a local model does), and keeps the order of its calls; the first
    documents' call holds the model at the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.lock, self.order, self.query_waits = threading.Lock(), [], threading.Event()

    def embed(self, texts):
        with self.lock:
            self.order.append("documents")
            return super().embed(texts)

    def embed_query(self, texts):
        self.query_waits.set()
        with self.lock:
            self.order.append("query")
            return super().embed_query(texts)


async def test_a_search_waits_for_one_piece_of_a_background_batch_not_for_the_whole_batch(settings, monkeypatch):
    """The re-embedding encodes its batch a piece at a time, so a search's query gets the model between pieces."""
    records = [MemoryRecord(kind=MemoryKind.FACT, text=f"a note on the {w} {i}", scope=USER) for i in range(2) for w in WORDS]
    await stored_under_another_format(settings, monkeypatch, records[:6])
    monkeypatch.setattr(store_module, "_REPAIR_BATCH", 6)
    monkeypatch.setattr(store_module, "_BACKGROUND_PIECE", 2)
    model = OneAtATimeEmbedder()
    store = await MemoryStore.open(settings, embedder=model, reembed_in_background=True)
    try:
        await wait_for(model.waiting)  # the first piece has the model
        searching = asyncio.create_task(store.search("harbour", USER))
        await wait_for(model.query_waits)  # the search waits for it
        model.gate.set()
        assert (await asyncio.wait_for(searching, 30))[0].record.text == "a note on the harbour 0"
        await store.wait_reembedded()
    finally:
        model.gate.set()
        await store.close()
    assert model.order.count("documents") == 3
    assert model.order.index("query") < len(model.order) - 1  # before the batch's last piece, not after all of it


@both_backends
async def test_a_failing_background_re_embedding_is_logged_and_leaves_its_records_pending(
    settings, monkeypatch, caplog
):
    added = await stored_under_another_format(settings, monkeypatch)
    failing = GatedEmbedder(fail=True)
    failing.gate.set()
    with caplog.at_level(logging.WARNING, logger=job_logger.name):
        store = await MemoryStore.open(settings, embedder=failing, reembed_in_background=True)
        try:
            await store.wait_reembedded()
            assert "re-embedding stopped: the embedding service is down" in [r.getMessage() for r in caplog.records]
            assert (await store.stats(USER)).pending_index == 5
            assert [h.record.id for h in await store.search("meadow", USER)][:1] == [added[4].id]  # still searchable
            failing.fail = False  # the service is back: a repair catches up
            await store.repair(full=False)
            assert await vector_ids(store) == {r.id for r in added}
        finally:
            await store.close()


@both_backends
async def test_a_record_changed_during_the_re_embedding_keeps_the_vector_of_its_new_text(settings, monkeypatch):
    """The batch in flight was derived from a record's old text; the record changes meanwhile (its own write embeds
    the new text): the batch's stale vector is not written over it."""
    added = await stored_under_another_format(settings, monkeypatch)
    gated = GatedEmbedder()
    store = await MemoryStore.open(settings, embedder=gated, reembed_in_background=True)
    try:
        await wait_for(gated.waiting)  # every record's old text is in the batch in flight
        await store.update(added[2].id, text="a note on the lighthouse")
        gated.gate.set()
        await store.wait_reembedded()
        assert (await dense_texts(store))[added[2].id] == "a note on the lighthouse"
        stored = (await store.backend.embeddings("u", [added[2].id]))[added[2].id]
        assert stored == pytest.approx(HashEmbedder().embed(["a note on the lighthouse"])[0])
        assert await vector_ids(store) == {r.id for r in added}  # the others written by the batch
    finally:
        gated.gate.set()
        await store.close()


@both_backends
@pytest.mark.parametrize("seed", [11, 12])
async def test_during_and_after_a_background_re_embedding_each_user_sees_only_their_own_records_randomized(
    settings, monkeypatch, seed
):
    """Randomized: records of three users, re-embedded in batches that mix them, each batch encoded in pieces that
    split it; while a batch is held and once all are written, a user's searches and vectors hold that user's
    records only, and each record holds the vector of its own text."""
    rng = random.Random(seed)
    users = ["ana", "bo", "cy"]
    records = [MemoryRecord(kind=MemoryKind.FACT, text=f"a note on the {rng.choice(WORDS)} {i}",
                            scope=MemoryScope(user_id=rng.choice(users))) for i in range(15)]  # fmt: skip
    added = await stored_under_another_format(settings, monkeypatch, records)
    owned = {u: {r.id for r in added if r.scope.user_id == u} for u in users}
    monkeypatch.setattr(store_module, "_REPAIR_BATCH", 4)
    monkeypatch.setattr(store_module, "_BACKGROUND_PIECE", 3)
    gated = GatedEmbedder()
    store = await MemoryStore.open(settings, embedder=gated, reembed_in_background=True)
    try:
        await wait_for(gated.waiting)
        for phase in ("held", "done"):
            for user in users:
                hits = await store.search(f"note on the {rng.choice(WORDS)}", MemoryScope(user_id=user), limit=50)
                assert {h.record.id for h in hits} <= owned[user], (seed, phase, user)
                others = set().union(*(owned[u] for u in users if u != user))
                assert await store.backend.embeddings(user, sorted(others)) == {}, (seed, phase, user)
            gated.gate.set()
            await store.wait_reembedded()
        assert sorted(map(len, gated.calls)) == [1, 1, 1, 3, 3, 3, 3]  # four batches (4, 4, 4, 3) in pieces of 3
        texts = await dense_texts(store)
        for user in users:  # every vector written, each under its own user, each its own record's
            stored = await store.backend.embeddings(user, sorted(owned[user]))
            assert set(stored) == owned[user], (seed, user)
            for rid, vector in stored.items():
                assert vector == pytest.approx(HashEmbedder().embed([texts[rid]])[0]), (seed, user, rid)
    finally:
        gated.gate.set()
        await store.close()


async def test_the_servers_tenant_store_opens_while_it_re_embeds(tmp_path, monkeypatch):
    """A tenant's first request after an upgrade is answered at once (the server opens stores in the background)."""
    from omne_core.config import load_settings
    from omne_server.tenants import TenantStores

    tenants = TenantStores(load_settings(data_dir=tmp_path), embedder=RecordingEmbedder())
    added = await stored_under_another_format(tenants.settings_for("acme"), monkeypatch)
    gated = GatedEmbedder()
    tenants = TenantStores(load_settings(data_dir=tmp_path), embedder=gated)
    try:
        store = await asyncio.wait_for(tenants.get("acme"), 30)  # the gate is shut: open did not embed
        await wait_for(gated.waiting)
        assert store.reembedding and [h.record.id for h in await store.search("lantern", USER)][:1] == [added[3].id]
    finally:
        gated.gate.set()
        await tenants.close()


@pytest.fixture
async def held_default_embedder(settings, monkeypatch):
    """The store of `settings` written under another format, and the embedder that a store opened from its settings
    alone gets: it holds the first batch until the test releases it."""
    await stored_under_another_format(settings, monkeypatch)
    gated = GatedEmbedder()
    monkeypatch.setattr(store_module, "build_embedder", lambda _: gated)
    yield gated
    gated.gate.set()


async def test_open_store_passes_the_background_re_embedding_on_to_a_local_store(settings, held_default_embedder):
    """`open_store` (what `omne mcp` opens with: an MCP client waits for the session to start)."""
    from omne_core.memory import open_store

    store = await asyncio.wait_for(open_store(None, settings, reembed_in_background=True), 30)
    await wait_for(held_default_embedder.waiting)
    assert isinstance(store, MemoryStore) and store.reembedding
    held_default_embedder.gate.set()
    await store.close()


async def test_omne_mcp_serves_while_its_store_re_embeds(settings, held_default_embedder, monkeypatch):
    """`omne mcp` (`serve_stdio`) with the stdio transport replaced: the session's tools reach a store that is
    still re-embedding, and a search finds a record by its words meanwhile; the store is closed at the end."""
    from omne_server import mcp_stdio

    seen: dict[str, object] = {}

    class Transport:
        def __init__(self, resolve):
            self.resolve = resolve

        async def run_stdio_async(self) -> None:
            caller = await self.resolve(None)
            await wait_for(held_default_embedder.waiting)
            seen.update(caller=caller, reembedding=caller.store.reembedding)
            seen["found"] = [h.record.text for h in await caller.store.search("harbour", USER)]
            held_default_embedder.gate.set()

    monkeypatch.setattr(mcp_stdio, "build_mcp", Transport)
    await asyncio.wait_for(mcp_stdio.serve_stdio(settings, user_id="u", read_only=True), 30)
    caller = seen["caller"]
    assert seen["reembedding"] is True and seen["found"][:1] == ["a note on the harbour"]
    assert (caller.user_id, caller.read_only) == ("u", True) and not caller.store.is_open


async def test_omne_memory_opens_its_store_with_the_re_embedding_in_the_background_when_asked(
    settings, held_default_embedder
):
    """AutoGen's `OmneMemory` (`reembed_in_background` in its config): a query is answered while the batch is held."""
    from omne_core.memory import OmneMemory, OmneMemoryConfig, StoreConfig

    config = OmneMemoryConfig(user_id="u", store=StoreConfig.from_settings(settings), reembed_in_background=True)
    memory = OmneMemory._from_config(config)
    result = await asyncio.wait_for(memory.query("harbour"), 30)
    assert [r.content for r in result.results][:1] == ["a note on the harbour"]
    assert (await memory.get_store()).reembedding  # type: ignore[attr-defined]
    assert memory.dump_component().config["reembed_in_background"] is True  # kept in the component's config
    held_default_embedder.gate.set()
    await memory.close()
