"""`OmneMemory.clear()` time against N records, beside deleting the same records one at a time (the old clear).

Both arms run in one process on copies of the same data (sessions of 5 interleaved users), so their ratio is the
figure to compare on a busy machine. Prints the load average.

    .venv/bin/python bench/omne_memory_clear.py --sizes 200,1000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

from omne_core.config import OmneSettings
from omne_core.embeddings import LocalEmbedder
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore, OmneMemory


def records(user: str, n: int) -> list[MemoryRecord]:
    return [
        MemoryRecord(
            kind=MemoryKind.MESSAGE,
            text=f"turn {i}: something said in session {i % 5} about topic {i % 17}",
            scope=MemoryScope(user_id=user, session_id=f"s{i % 5}"),
        )
        for i in range(n)
    ]


async def run(sizes: list[int]) -> None:
    embedder = LocalEmbedder()
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'records':>8} {'clear() s':>10} {'one by one s':>13} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as data_dir:
        store = await MemoryStore.open(OmneSettings(data_dir=data_dir), embedder=embedder)
        try:
            for n in sizes:
                batch_user, single_user = f"batch-{n}", f"single-{n}"
                await store.add(records(batch_user, n))
                await store.add(records(single_user, n))
                start = time.perf_counter()
                await OmneMemory(user_id=batch_user, store=store).clear()
                batch_s = time.perf_counter() - start
                start = time.perf_counter()
                for record in await store.list(MemoryScope(user_id=single_user), include_inactive=True, limit=None):
                    await store.delete(record.id, hard=True)
                single_s = time.perf_counter() - start
                print(f"{n:>8} {batch_s:>10.2f} {single_s:>13.2f} {single_s / batch_s:>6.1f}")
        finally:
            await store.close()
    print(f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,1000", help="comma-separated record counts")
    args = parser.parse_args()
    asyncio.run(run([int(s) for s in args.sizes.split(",")]))


if __name__ == "__main__":
    main()
