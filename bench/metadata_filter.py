"""What a metadata filter costs: search and list latency (p50/p95) in one user's store, unfiltered and with a
condition that 1 %, 10 % or 50 % of the records meet, on the embedded store and (`--backend postgres`) on
PostgreSQL. Both index metadata (the embedded `record_labels` table; a GIN index on PostgreSQL, analysed after the
load as autovacuum would), yet a filter still takes the selective paths (the scope's rows, each checked through
the index); the figures say how that grows. Random vectors (`memory_scale.LookupEmbedder`): no model.

    .venv/bin/python bench/metadata_filter.py --records 20000 [--backend postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory_scale import LookupEmbedder, TextMaker, bundled_postgres, percentile, uptime  # noqa: E402

from omne_core.config import load_settings  # noqa: E402
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore  # noqa: E402

SHARES = {"1%": 100, "10%": 10, "50%": 2}  # label -> every n-th record holds {"share": label}


def label_of(i: int) -> str:
    """The share label record i holds: the narrowest whose period divides i (so each share is what it says)."""
    return next((label for label, every in SHARES.items() if i % every == 0), "rest")


async def measure(settings, records: int, queries: int) -> None:
    embedder, texts, scope = LookupEmbedder(), TextMaker(seed=3), MemoryScope(user_id="u")
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        for start in range(0, records, 1000):
            await store.add([
                MemoryRecord(kind=MemoryKind.FACT, text=texts.text(i), scope=scope, metadata={"share": label_of(i)})
                for i in range(start, min(start + 1000, records))
            ])  # fmt: skip
        if settings.store.backend.value == "postgres":  # what autovacuum does within a minute of a bulk load
            await analyze(settings)
        counts = {label: sum(label_of(i) == label for i in range(records)) for label in SHARES}
        rng = random.Random(5)
        for label, metadata in (("none", None), *((f"{lb} ({counts[lb]})", {"share": lb}) for lb in SHARES)):
            searched, listed = [], []
            for _ in range(queries):
                query = texts.query()
                t = time.perf_counter()
                await store.search(query, scope, metadata=metadata)
                searched.append(time.perf_counter() - t)
                t = time.perf_counter()
                await store.list(scope, limit=rng.choice([10, 50]), metadata=metadata)
                listed.append(time.perf_counter() - t)
            print(f"{settings.store.backend.value:<9} {label:<14} search p50 {percentile(searched, 50) * 1000:7.1f} ms "
                  f"p95 {percentile(searched, 95) * 1000:7.1f} ms   list p50 {percentile(listed, 50) * 1000:6.1f} ms "
                  f"p95 {percentile(listed, 95) * 1000:6.1f} ms")  # fmt: skip


async def analyze(settings) -> None:
    """PostgreSQL's statistics on the records table (the planner's view of how common each label is)."""
    import psycopg
    from psycopg import sql

    url = settings.store.postgres_url.get_secret_value()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(sql.SQL("ANALYZE {}.records").format(sql.Identifier(settings.store.postgres_schema)))
    print("postgres: ANALYZE after the load (autovacuum would run it within a minute)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--backend", choices=["embedded", "postgres"], default="embedded")
    args = parser.parse_args()
    print(uptime())
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        store = {}
        if args.backend == "postgres":
            server = stack.enter_context(bundled_postgres())
            store = {"backend": "postgres", "postgres_url": server.url, "postgres_schema": "metadata_bench"}
        asyncio.run(measure(load_settings(data_dir=Path(tmp), store=store), args.records, args.queries))


if __name__ == "__main__":
    main()
