"""A store whose every vector is pending (written under another dense-text format, as before an upgrade), and an
embedder that holds the first re-embedding batch in flight: the background re-embedding's tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from omne_core.config import OmneSettings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore, indexing
from omne_core.memory import backends as backends_module
from tests.support.embedders import HashEmbedder, RecordingEmbedder

USER = MemoryScope(user_id="u")
WORDS = ["sunset", "violin", "harbour", "lantern", "meadow"]


class GatedEmbedder(RecordingEmbedder):
    """The first documents' call waits at a gate (a re-embedding batch held in flight); later calls and search
    queries pass."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.gate, self.waiting, self.fail = threading.Event(), threading.Event(), fail

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not self.waiting.is_set():
            self.waiting.set()
            if not self.gate.wait(60):
                raise TimeoutError("the test never opened the gate")
        if self.fail:
            raise RuntimeError("the embedding service is down")
        return super().embed(texts)

    def embed_query(self, texts: Sequence[str]) -> list[list[float]]:
        return HashEmbedder.embed(self, texts)


async def stored_under_another_format(
    settings: OmneSettings, monkeypatch, records: list[MemoryRecord] | None = None
) -> list[MemoryRecord]:
    """`records` (default: five notes of USER on WORDS) with vectors made under another dense-text format: all
    pending at the next open."""
    records = records or [MemoryRecord(kind=MemoryKind.FACT, text=f"a note on the {w}", scope=USER) for w in WORDS]
    with monkeypatch.context() as patch:
        patch.setattr(backends_module, "DENSE_FORMAT", "names-in")
        patch.setattr(indexing, "without_names", lambda text, names: text)
        async with await MemoryStore.open(settings, embedder=RecordingEmbedder()) as store:
            return await store.add(records)


async def wait_for(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 30), "the re-embedding never started"
