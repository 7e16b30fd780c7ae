"""Embedders: the offline MiniLM, and the OpenAI embedder against a local OpenAI-compatible HTTP server."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from omne_core.config import EmbeddingBackend, EmbeddingSettings
from omne_core.embeddings import EmbeddingError, LocalEmbedder, OpenAIEmbedder, build_embedder
from tests.support.servers import free_port, json_server


def test_local_minilm_is_offline_normalized_and_semantic(embedder):
    assert embedder.name == "all-MiniLM-L6-v2-384" and embedder.dimension == 384
    cat, kitten, tax = embedder.embed(["a cat sleeps", "a kitten naps", "quarterly tax filing"])
    assert math.isclose(sum(x * x for x in cat), 1.0, rel_tol=1e-4)
    dot = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731
    assert dot(cat, kitten) > dot(cat, tax) + 0.2
    assert isinstance(build_embedder(EmbeddingSettings()), LocalEmbedder)


_THREADS_SCRIPT = """
import json, torch
from omne_core.embeddings import LocalEmbedder
before = torch.get_num_threads()
embedder = LocalEmbedder()
texts = [f"note number {i} about the garden and the bees" for i in range(12)]
alone = embedder.embed(texts[:1])  # a query comes first, as in an app that searches before it adds
after_query = torch.get_num_threads()
batch = embedder.embed(texts)
print(json.dumps({"before": before, "query": after_query, "batch": torch.get_num_threads(),
                  "gap": max(abs(a - b) for a, b in zip(alone[0], batch[0]))}))
"""


def test_a_query_is_encoded_on_one_thread_and_a_batch_on_all_of_torchs():
    # A fresh interpreter: torch's thread count is process state that other tests have already changed.
    out = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["query"] == 1  # the other core is left to the BM25 side of a search
    assert seen["batch"] == seen["before"]  # a batch gets every thread torch would use
    assert seen["gap"] < 1e-5  # the thread count does not change the vector


@pytest.fixture
def embeddings_server():
    calls: list[dict] = []

    def embeddings(method: str, path: str, raw: bytes) -> tuple[int, dict]:
        body = json.loads(raw)
        calls.append(body)
        data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(body["input"])]
        return 200, {"object": "list", "data": data[::-1], "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}

    with json_server(embeddings) as (url, _):
        yield f"{url}/v1", calls


def test_openai_embedder_batches_orders_and_normalizes(embeddings_server):
    url, calls = embeddings_server
    embedder = build_embedder(EmbeddingSettings(backend=EmbeddingBackend.OPENAI, model="emb-x", base_url=url, batch_size=2))
    assert isinstance(embedder, OpenAIEmbedder)
    vectors = embedder.embed(["a", "bbb", "cc"])
    assert [len(c["input"]) for c in calls] == [2, 1] and calls[0]["model"] == "emb-x"
    expected = [[n / math.sqrt(n * n + 1), 1 / math.sqrt(n * n + 1), 0.0] for n in (1, 3, 2)]
    for got, want in zip(vectors, expected, strict=True):
        assert got == pytest.approx(want)
    assert embedder.name == "emb-x-3"


def test_openai_embedder_unreachable_is_a_clear_error():
    embedder = OpenAIEmbedder("emb-x", base_url=f"http://127.0.0.1:{free_port()}/v1", timeout_s=2)
    with pytest.raises(EmbeddingError, match="unreachable"):
        embedder.embed(["hello"])


_NO_MODEL_SCRIPT = """
import asyncio, json, sys
from omne_core.config import load_settings
from omne_core.memory import MemoryScope, MemoryStore

async def main():
    async with await MemoryStore.open(load_settings()) as store:
        scope = MemoryScope(user_id="lazy")
        [record] = await store.list(scope)
        found = await store.get(record.id, scope)
        return (await store.stats(scope)).total, found.text, store.embedder.name

total, text, name = asyncio.run(main())
loaded = sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules)
print(json.dumps({"total": total, "text": text, "name": name, "loaded": loaded}))
"""


def test_opening_listing_and_counting_never_load_the_embedding_model(tmp_path, embedder, monkeypatch):
    """The CLI's stats/list/show wait for no model: the vector size comes from the model folder's files."""
    import asyncio

    from omne_core.config import load_settings
    from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore

    monkeypatch.setenv("OMNE_DATA_DIR", str(tmp_path / "data"))

    async def fill() -> None:
        async with await MemoryStore.open(load_settings(), embedder=embedder) as store:
            await store.add(MemoryRecord(kind=MemoryKind.FACT, text="lazy facts", scope=MemoryScope(user_id="lazy")))

    asyncio.run(fill())
    done = subprocess.run([sys.executable, "-c", _NO_MODEL_SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"total": 1, "text": "lazy facts", "name": "all-MiniLM-L6-v2-384", "loaded": []}


def minilm_copy(folder: Path) -> Path:
    """The bundled MiniLM's folder again at `folder`: the weights linked, the small JSON files copied (to edit)."""
    from omne_core.embeddings import bundled_minilm_path

    source = bundled_minilm_path()
    folder.mkdir()
    for item in source.rglob("*"):
        target = folder / item.relative_to(source)
        if item.is_dir():
            target.mkdir(exist_ok=True)
        elif item.suffix == ".json":
            target.write_text(item.read_text())
        else:
            target.symlink_to(item)
    return folder


def test_the_declared_vector_size_is_checked_against_the_loaded_model(tmp_path):
    from omne_core.embeddings import bundled_minilm_path, declared_dimension

    assert declared_dimension(bundled_minilm_path()) == 384 == LocalEmbedder().dimension
    lying = minilm_copy(tmp_path / "model")
    pooling = lying / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({**json.loads(pooling.read_text()), "pooling_mode_max_tokens": True}))
    assert LocalEmbedder(str(lying)).dimension == 768  # mean and max pooling, as the files say
    pooling.write_text(json.dumps({**json.loads(pooling.read_text()), "word_embedding_dimension": 512}))
    model = LocalEmbedder(str(lying))
    assert model.dimension == 1024  # what the files claim; the model's tokens are 384 wide
    with pytest.raises(EmbeddingError, match="but its files declare"):
        model.embed(["hello"])
    assert declared_dimension(tmp_path / "nowhere") is None


def test_a_coalescing_embedder_encodes_concurrent_callers_together_and_returns_each_its_own():
    import threading
    import time

    from omne_core.embeddings import CoalescingEmbedder
    from tests.support.embedders import HashEmbedder

    class Recording(HashEmbedder):
        def __init__(self) -> None:
            self.calls: list[int] = []

        def embed(self, texts):
            self.calls.append(len(texts))
            time.sleep(0.05)  # an encode takes a while: callers arriving meanwhile wait for the next batch
            return super().embed(texts)

    inner = Recording()
    coalescing = CoalescingEmbedder(inner)
    texts = [[f"query {i}", f"other {i}"][: 1 + i % 2] for i in range(16)]
    results: dict[int, list[list[float]]] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, coalescing.embed(texts[i]))) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert all(results[i] == HashEmbedder().embed(texts[i]) for i in range(16))  # each got its own vectors, in order
    assert sum(inner.calls) == sum(len(t) for t in texts) and len(inner.calls) < 16  # fewer encodes than callers
    assert coalescing.name == inner.name and coalescing.dimension == inner.dimension

    class Failing(HashEmbedder):
        def embed(self, texts):
            raise RuntimeError("model gone")

    with pytest.raises(RuntimeError, match="model gone"):  # the error reaches the caller
        CoalescingEmbedder(Failing()).embed(["x"])
    assert CoalescingEmbedder(HashEmbedder()).embed([]) == []


async def test_async_callers_of_a_coalescing_embedder_share_batches_without_holding_threads():
    import asyncio
    import time
    from concurrent.futures import ThreadPoolExecutor

    from omne_core.embeddings import CoalescingEmbedder, aembed
    from tests.support.embedders import HashEmbedder

    class Recording(HashEmbedder):
        def __init__(self) -> None:
            self.calls: list[int] = []

        def embed(self, texts):
            self.calls.append(len(texts))
            time.sleep(0.05)
            return super().embed(texts)

    inner = Recording()
    coalescing = CoalescingEmbedder(inner)
    # One worker thread: callers that waited in a thread for their turn would each encode alone, one by one.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
    texts = [[f"query {i}", f"other {i}"][: 1 + i % 2] for i in range(16)]
    results = await asyncio.gather(*(aembed(coalescing, t) for t in texts))
    assert results == [HashEmbedder().embed(t) for t in texts]
    assert sum(inner.calls) == sum(len(t) for t in texts) and len(inner.calls) <= 3  # the first alone, then the rest

    class Failing(HashEmbedder):
        def embed(self, texts):
            raise RuntimeError("model gone")

    with pytest.raises(RuntimeError, match="model gone"):
        await aembed(CoalescingEmbedder(Failing()), ["x"])
    assert await aembed(coalescing, []) == []


def test_a_model_with_query_and_document_prompts_encodes_queries_and_documents_each_with_its_own(tmp_path):
    """Asymmetric models (E5, BGE, EmbeddingGemma) name a query and a document prompt in their folder: `embed`
    (what is searched) uses the document one, `embed_query` the query one. The default MiniLM names none."""
    folder = minilm_copy(tmp_path / "prompted")
    config = folder / "config_sentence_transformers.json"
    settings = json.loads(config.read_text()) if config.exists() else {}
    config.write_text(json.dumps({**settings, "prompts": {"query": "query: ", "document": "passage: "}}))
    prompted, plain = LocalEmbedder(str(folder)), LocalEmbedder()
    gap = lambda a, b: max(abs(x - y) for x, y in zip(a, b, strict=True))  # noqa: E731
    text = "where does the cat sleep at night"
    assert gap(prompted.embed_query([text])[0], plain.embed(["query: " + text])[0]) < 1e-5
    assert gap(prompted.embed([text])[0], plain.embed(["passage: " + text])[0]) < 1e-5
    assert gap(prompted.embed_query([text])[0], prompted.embed([text])[0]) > 1e-3
    assert gap(plain.embed_query([text])[0], plain.embed([text])[0]) < 1e-6  # no prompts: one side


class TwoSided:
    """A test embedder with a query side: documents as HashEmbedder, queries as HashEmbedder of "Q|" + text;
    it records which side encoded which texts."""

    name, dimension = "two-sided-16", 16

    def __init__(self, delay: float = 0.0) -> None:
        from tests.support.embedders import HashEmbedder

        self.hash, self.delay = HashEmbedder(), delay
        self.calls: list[tuple[str, list[str]]] = []

    def embed(self, texts):
        import time

        self.calls.append(("document", list(texts)))
        time.sleep(self.delay)
        return self.hash.embed(texts)

    def embed_query(self, texts):
        self.calls.append(("query", list(texts)))
        return self.hash.embed(["Q|" + t for t in texts])


async def test_queries_and_documents_asked_at_once_of_a_coalescing_embedder_each_reach_their_own_side():
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from omne_core.embeddings import CoalescingEmbedder, aembed
    from tests.support.embedders import HashEmbedder

    inner = TwoSided(delay=0.05)
    coalescing = CoalescingEmbedder(inner)
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
    texts = [f"text {i}" for i in range(12)]
    asked = [aembed(coalescing, [t], query=bool(i % 3)) for i, t in enumerate(texts)]
    results = await asyncio.gather(*asked)
    hashed = HashEmbedder()
    assert results == [hashed.embed(["Q|" + t] if i % 3 else [t]) for i, t in enumerate(texts)]
    sides = {side: [t for s, batch in inner.calls if s == side for t in batch] for side in ("query", "document")}
    assert sorted(sides["query"]) == sorted(t for i, t in enumerate(texts) if i % 3)
    assert sorted(sides["document"]) == sorted(t for i, t in enumerate(texts) if not i % 3)
    assert len(inner.calls) < len(texts)  # still coalesced: fewer encodes than callers


async def test_a_search_embeds_its_query_on_the_query_side_and_an_add_its_records_on_the_document_side(tmp_path):
    from omne_core.config import load_settings
    from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore

    embedder = TwoSided()
    scope = MemoryScope(user_id="sides")
    async with await MemoryStore.open(load_settings(data_dir=tmp_path / "data"), embedder=embedder) as store:
        await store.add([MemoryRecord(kind=MemoryKind.FACT, text=f"the heron nests by pond {i}", scope=scope)
                         for i in range(3)])  # fmt: skip
        added = list(embedder.calls)
        embedder.calls.clear()
        hits = await store.search("where does the heron nest", scope=scope, limit=3)
    assert hits and {side for side, _ in added} == {"document"}
    assert [side for side, _ in embedder.calls] == ["query"]
    assert "heron nest" in embedder.calls[0][1][0]
