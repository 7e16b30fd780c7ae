"""Opening a store after a change of embedder (every record pending): `open` re-embedding before it returns (the
library's default) against `open(reembed_in_background=True)` (the server's): when `open` returns, when the
re-embedding ends, and how long searches take meanwhile. Each arm opens its own copy of the same records.

Run: .venv/bin/python bench/reembed_open.py [--records 2000] [--backend postgres [--postgres-url URL]]
(PostgreSQL: pgserver's bundled server started for the run, as the tests do, unless a URL is given.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from omne_core.config import OmneSettings, load_settings
from omne_core.embeddings import Embedder, build_embedder
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.embedders import HashEmbedder  # noqa: E402  (the model the store was written with)
from tests.support.postgres import TestPostgres, drop_schema, running_postgres  # noqa: E402

TOPICS = "garden piano shelter puppy museum pottery camping marathon harbour lantern".split()


async def written_with_old_model(settings: OmneSettings, n: int) -> None:
    records = [
        MemoryRecord(kind=MemoryKind.MESSAGE, text=f"turn {i}: we talked about the {TOPICS[i % 10]} and {TOPICS[i % 7]}",
                     scope=MemoryScope(user_id=f"u{i % 5}", session_id=f"s{i // 20}"), metadata={"speaker": "Ana"})
        for i in range(n)
    ]  # fmt: skip
    async with await MemoryStore.open(settings, embedder=HashEmbedder()) as store:
        for start in range(0, n, 500):
            await store.add(records[start : start + 500])


async def arm(settings: OmneSettings, embedder: Embedder, background: bool) -> None:
    started = time.perf_counter()
    store = await MemoryStore.open(settings, embedder=embedder, reembed_in_background=background)
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


def arm_settings(root: Path, name: str, postgres_url: str | None) -> OmneSettings:
    """Each arm's own store: a data directory, and on PostgreSQL a schema of its own."""
    if postgres_url is None:
        return load_settings(data_dir=root / name)
    store = {"backend": "postgres", "postgres_url": postgres_url, "postgres_schema": f"reembed_{name}_{os.getpid()}"}
    return load_settings(data_dir=root / name, store=store)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--backend", choices=["embedded", "postgres"], default="embedded")
    parser.add_argument("--postgres-url", default=None, help="a PostgreSQL server with pgvector (default: pgserver's)")
    args = parser.parse_args()
    embedder = build_embedder(load_settings().embedding)
    embedder.embed(["warm the model up"])
    print(f"{args.records} records written with another model, re-embedded with {embedder.name} on the "
          f"{args.backend} backend; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        url = None
        if args.backend == "postgres":
            url = args.postgres_url or stack.enter_context(running_postgres()).url
        for background in (False, True):
            settings = arm_settings(Path(tmp), "background" if background else "blocking", url)
            try:
                await written_with_old_model(settings, args.records)
                await arm(settings, embedder, background)
            finally:
                if url is not None:  # a server given by URL keeps no schema of the run
                    drop_schema(TestPostgres(url), settings.store.postgres_schema)


if __name__ == "__main__":
    asyncio.run(main())
