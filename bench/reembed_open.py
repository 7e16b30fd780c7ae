"""Opening a store after a change of embedder (every record pending): `open` re-embedding before it returns (the
library's default) against `open(reembed_in_background=True)` (the server's): when `open` returns, when the
re-embedding ends, and how long searches take meanwhile. Each arm opens its own copy of the same records.

Run: .venv/bin/python bench/reembed_open.py [--records 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from omne_core.config import load_settings
from omne_core.embeddings import Embedder, build_embedder
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.embedders import HashEmbedder  # noqa: E402  (the model the store was written with)

TOPICS = "garden piano shelter puppy museum pottery camping marathon harbour lantern".split()


async def written_with_old_model(data_dir: Path, n: int) -> None:
    records = [
        MemoryRecord(kind=MemoryKind.MESSAGE, text=f"turn {i}: we talked about the {TOPICS[i % 10]} and {TOPICS[i % 7]}",
                     scope=MemoryScope(user_id=f"u{i % 5}", session_id=f"s{i // 20}"), metadata={"speaker": "Ana"})
        for i in range(n)
    ]  # fmt: skip
    async with await MemoryStore.open(load_settings(data_dir=data_dir), embedder=HashEmbedder()) as store:
        for start in range(0, n, 500):
            await store.add(records[start : start + 500])


async def arm(data_dir: Path, embedder: Embedder, background: bool) -> None:
    started = time.perf_counter()
    store = await MemoryStore.open(load_settings(data_dir=data_dir), embedder=embedder, reembed_in_background=background)
    opened = time.perf_counter() - started
    searches: list[float] = []
    try:
        while store.reembedding:
            t = time.perf_counter()
            await store.search(f"what about the {TOPICS[len(searches) % 10]}?", MemoryScope(user_id="u1"))
            searches.append(time.perf_counter() - t)
        await store.wait_reembedded()
        done = time.perf_counter() - started
        pending = (await store.stats(MemoryScope(user_id="u1"))).pending_index
    finally:
        await store.close()
    during = f"{len(searches)} searches meanwhile, p50 {statistics.median(searches) * 1000:.0f} ms, max " \
             f"{max(searches) * 1000:.0f} ms" if searches else "no search meanwhile"  # fmt: skip
    label = "background" if background else "before open returns"
    print(f"{label:<20} open {opened:6.2f} s   re-embedded after {done:6.2f} s   {during}   pending after: {pending}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()
    embedder = build_embedder(load_settings().embedding)
    embedder.embed(["warm the model up"])
    print(f"{args.records} records written with another model, re-embedded with {embedder.name}; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for background in (False, True):
            data_dir = Path(tmp) / ("background" if background else "blocking")
            await written_with_old_model(data_dir, args.records)
            await arm(data_dir, embedder, background)


if __name__ == "__main__":
    asyncio.run(main())
