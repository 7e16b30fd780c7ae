"""Memory store scale: add throughput and search latency, side by side with raw chromadb in the same run.

    .venv/bin/python bench/memory_scale.py --sizes 10000,100000          # MiniLM embeddings (default sizes)
    .venv/bin/python bench/memory_scale.py --sizes 1000 --queries 50     # a quick run
    .venv/bin/python bench/memory_scale.py --vectors-only --sizes 1000000  # random vectors: the store alone

Work is interleaved batch by batch (and query by query) so both sides see the same machine load, and every
call runs in a worker thread (`asyncio.to_thread`), as `MemoryStore` runs its own work:
- model:  `Embedder.embed` of the batch's texts (the embedding model's own encode throughput);
- raw:    that encode plus `collection.add(ids, embeddings, metadatas, documents)` on a bare chroma collection
          (built with the same HNSW parameters as Omne's, `settings.chroma.hnsw_*`);
- omne:   `MemoryStore.add(records)` (validation, dedup, SQLite + FTS5 + history, its own encode, chroma).
Search, top 10 of one user's records:
- raw:      embed the query + `collection.query(n_results=10, where={user, active})` on the bare collection, the
            usual way to scope chroma (the "same work" baseline; the ratio columns compare against it);
- floor:    embed the query + the same query without `where` (no scope at all: a lower bound, not the same work);
- omne:     `MemoryStore.search` (query embedding and HNSW query on the user's own collection beside the BM25
            query, SQLite filter check, fusion, access-count update).
A time-filtered search (`--window-share`, default 1 %: only the user's newest records) is timed the same way,
raw with `where={user, active, ts >= cut}`, omne with `since=cut`: the path a session, kind or time filter takes.
Then the store is closed and opened again, timed: with every id compared between SQLite and chroma
(`verify_index_on_open`, `omne memory repair`) and with counts only (the default).
With `--vectors-only` both sides use the same precomputed random unit vectors, so no model runs at all.

`--backend postgres` adds a PostgreSQL store (pgserver's bundled PostgreSQL 16 + pgvector started for the run,
or `--postgres-url`) beside the embedded one, fed the same batches and asked the same queries in turn: its add
throughput against the model's encode rate, its search p50/p95 against the embedded store's, and both stores'
search throughput with 1, 4 and 16 concurrent clients (`--clients`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from omne_core.config import ChromaSettings, load_settings  # noqa: E402
from omne_core.embeddings import Embedder, LocalEmbedder  # noqa: E402
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore  # noqa: E402
from omne_core.memory.backends.embedded.chroma import hnsw_configuration  # noqa: E402

_SYLLABLES = "ka lo mi ra te su vi no da be chi ren tor mel is an ol ur pe gu".split()
VERBS = (
    "booked visited repaired painted cancelled ordered planned reviewed cooked signed measured shipped borrowed "
    "returned photographed discussed renewed compared uploaded scheduled sold bought cleaned moved wrote fixed"
).split()
WHEN = "yesterday|last week|on Monday|this morning|in March|after lunch|before the holidays|at the weekend".split(
    "|"
)


def _pseudo_words(rnd: random.Random, n: int, syllables: int) -> list[str]:
    return ["".join(rnd.choice(_SYLLABLES) for _ in range(syllables)) for _ in range(n)]


class TextMaker:
    """Unique chat-like sentences (~20 words) over a Zipf-distributed vocabulary, so BM25 sees realistic term rarity."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        vocab = random.Random(0)  # the same vocabulary for every size
        self.names = [w.capitalize() for w in _pseudo_words(vocab, 300, 2)]
        self.places = [w.capitalize() for w in _pseudo_words(vocab, 800, 3)]
        self.nouns = _pseudo_words(vocab, 5000, 3)
        self.words = _pseudo_words(vocab, 20000, 2) + _pseudo_words(vocab, 20000, 3)

        self._cumulative = {
            id(items): list(itertools.accumulate(1.0 / r for r in range(1, len(items) + 1)))
            for items in (self.names, self.places, self.nouns, self.words)
        }

    def _zipf(self, items: list[str]) -> str:
        """The r-th item with probability proportional to 1/r."""
        return self.rnd.choices(items, cum_weights=self._cumulative[id(items)])[0]

    def text(self, i: int) -> str:
        r, z = self.rnd, self._zipf
        tail = " ".join(z(self.words) for _ in range(r.randint(4, 9)))
        return (
            f"{z(self.names)} {r.choice(VERBS)} the {z(self.nouns)} in {z(self.places)} {r.choice(WHEN)}, "
            f"{tail}; {z(self.names)} {r.choice(VERBS)} a {z(self.nouns)} too (note {i})."
        )

    def query(self) -> str:
        z = self._zipf
        return (
            f"who {self.rnd.choice(VERBS)} the {z(self.nouns)} in {z(self.places)} {self.rnd.choice(WHEN)}?"
        )


class LookupEmbedder:
    """Precomputed random unit vectors by text: the store runs without any model (`--vectors-only`)."""

    def __init__(self, dimension: int = 384, seed: int = 7) -> None:
        self._dimension = dimension
        self._seed = seed
        self.table: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return f"random-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def vector(self, text: str) -> np.ndarray:
        found = self.table.get(text)
        if found is None:
            seed = (
                int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") ^ self._seed
            )
            v = np.random.default_rng(seed).standard_normal(self._dimension).astype(np.float32)
            found = self.table[text] = v / np.linalg.norm(v)
        return found

    def precompute(self, texts: Sequence[str]) -> None:
        for text in texts:
            self.vector(text)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector(t).tolist() for t in texts]


@dataclass
class PgRow:
    """The PostgreSQL store's figures for one size (the embedded store's are in `Row`)."""

    size: int
    rps: float
    p50: float
    p95: float
    window_p50: float
    window_p95: float
    throughput: dict[str, dict[int, float]]  # backend -> clients -> searches per second
    one_tx_rps: float | None = None  # --pg-one-transaction: the add rate with store.postgres_write_part = 0


@dataclass
class Row:
    size: int
    mode: str
    model_rps: float
    raw_rps: float
    omne_rps: float
    raw_p50: float
    raw_p95: float
    floor_p50: float
    floor_p95: float
    omne_p50: float
    omne_p95: float
    reopen_full_s: float
    reopen_counts_s: float
    window_raw_p50: float
    window_raw_p95: float
    window_omne_p50: float
    window_omne_p95: float


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def raw_collection(path: Path, chroma: ChromaSettings):
    """A bare chroma collection built with the same HNSW parameters as Omne's collections (same work)."""
    import chromadb
    from chromadb.config import Settings as ChromaClientSettings

    client = chromadb.PersistentClient(
        path=str(path), settings=ChromaClientSettings(anonymized_telemetry=False)
    )
    return client, client.get_or_create_collection(
        "raw", embedding_function=None, configuration={"hnsw": hnsw_configuration(chroma)}
    )


async def timed_omne(store: MemoryStore, query: str, scope: MemoryScope, since: datetime | None = None) -> float:
    """Milliseconds of one `MemoryStore.search` (top 10), records since `since` only if given."""
    t0 = time.perf_counter()
    await store.search(query, scope, limit=10, since=since)
    return (time.perf_counter() - t0) * 1000


async def timed_raw(
    collection: Any,
    embedder: Embedder,
    query: str,
    scope: MemoryScope,
    *,
    scoped: bool = True,
    min_ts: float | None = None,
) -> float:
    """Milliseconds of embedding the query and a top-10 chroma query (in the user's records, those with
    `ts >= min_ts` if given), off the event loop."""
    clauses: list[dict[str, Any]] = [{"user_id": {"$eq": scope.user_id}}, {"status": {"$eq": "active"}}]
    if min_ts is not None:
        clauses.append({"ts": {"$gte": min_ts}})
    where = {"$and": clauses} if scoped else None

    def search() -> None:
        vector = embedder.embed([query])
        collection.query(
            query_embeddings=vector, n_results=10, where=where, include=["documents", "distances"]
        )

    t0 = time.perf_counter()
    await asyncio.to_thread(search)
    return (time.perf_counter() - t0) * 1000


async def timed_rounds(queries: Sequence[str], make_runs: Any, warmup: int) -> list[list[float]]:
    """Milliseconds per side: each query's timed calls (`make_runs(query, n)`) run in turn, the side that
    goes first rotating so no side always meets a cold or warm cache; the first `warmup` queries are not kept."""
    kept: list[list[float]] = []
    for n, query in enumerate(queries):
        runs = make_runs(query, n)
        kept = kept or [[] for _ in runs]
        timings = [0.0] * len(runs)
        for k in [(n + j) % len(runs) for j in range(len(runs))]:
            timings[k] = await runs[k]()
        if n >= warmup:
            for side, elapsed in zip(kept, timings, strict=True):
                side.append(elapsed)
    return kept


async def timed_reopen(settings: Any, embedder: Embedder, *, verify: bool) -> float:
    """Seconds to open the store again: with every id compared (the default), or counts only."""
    settings.memory.verify_index_on_open = verify
    t0 = time.perf_counter()
    store = await MemoryStore.open(settings, embedder=embedder)
    elapsed = time.perf_counter() - t0
    await store.close()
    return elapsed


async def run_size(
    size: int, args: argparse.Namespace, embedder: Embedder, root: Path, pg_url: str | None = None
) -> tuple[Row, PgRow | None]:
    maker = TextMaker(seed=size)
    users = [f"user-{u}" for u in range(args.users)]
    texts = [maker.text(i) for i in range(size)]
    owners = [users[i % len(users)] for i in range(size)]
    queries = [maker.query() for _ in range(args.queries + args.warmup)]
    if isinstance(embedder, LookupEmbedder):
        embedder.precompute(texts + queries)

    settings = load_settings(data_dir=root / f"omne-{size}")
    _client, collection = raw_collection(root / f"raw-{size}", settings.chroma)
    settings.memory.verify_index_on_open = False
    store = await MemoryStore.open(settings, embedder=embedder)
    pg_store = None
    if pg_url is not None:
        schema = f"bench_{size}" + ("" if args.keep else f"_{os.getpid()}")
        pg_settings = load_settings(
            data_dir=root / f"pg-{size}",
            store={"backend": "postgres", "postgres_url": pg_url, "postgres_schema": schema},
        )
        pg_store = await MemoryStore.open(pg_settings, embedder=embedder)
    one_tx = None  # the same PostgreSQL store without writing while it encodes (a batch, then one transaction)
    if pg_url is not None and args.pg_one_transaction:
        one_tx_settings = load_settings(data_dir=root / f"pg1-{size}", store={
            "backend": "postgres", "postgres_url": pg_url, "postgres_schema": f"{schema}_one_tx", "postgres_write_part": 0})  # fmt: skip
        one_tx = await MemoryStore.open(one_tx_settings, embedder=embedder)

    # The time window of the filtered searches: the batches from `window_start` on (their records are newer).
    window_start = (size - max(1, round(size * args.window_share))) // args.batch * args.batch
    window_since = datetime.now(UTC)
    t_model = t_raw = t_omne = t_pg = t_one_tx = 0.0
    built = root / f"built-{size}.json"  # --keep: the stores of an earlier run, complete, and their window
    key = {"mode": type(embedder).__name__, "batch": args.batch, "users": args.users, "postgres": pg_url is not None}
    reused = built.exists() and json.loads(built.read_text())["key"] == key
    if reused:
        window_since = datetime.fromisoformat(json.loads(built.read_text())["window_since"])
        print(f"  {size}: reusing the stores built earlier in {root}", file=sys.stderr, flush=True)
    elif built.exists() or collection.count():
        raise SystemExit(f"{root} holds stores of another configuration or an unfinished build: use another --keep")
    started = time.perf_counter()
    for start in range(0, 0 if reused else size, args.batch):
        batch = range(start, min(size, start + args.batch))
        if start == window_start:
            window_since = datetime.now(UTC)
        batch_texts = [texts[i] for i in batch]
        t0 = time.perf_counter()
        vectors = await asyncio.to_thread(embedder.embed, batch_texts)
        t1 = time.perf_counter()
        await asyncio.to_thread(
            collection.add,
            ids=[f"r{i}" for i in batch],
            embeddings=vectors,
            metadatas=[
                {"user_id": owners[i], "kind": "message", "status": "active", "ts": float(i)} for i in batch
            ],
            documents=batch_texts,
        )
        t2 = time.perf_counter()
        await store.add(
            [
                MemoryRecord(kind=MemoryKind.MESSAGE, text=texts[i], scope=MemoryScope(user_id=owners[i]))
                for i in batch
            ],
            actor="bench",
        )
        t3 = time.perf_counter()
        if pg_store is not None:
            await pg_store.add(
                [
                    MemoryRecord(kind=MemoryKind.MESSAGE, text=texts[i], scope=MemoryScope(user_id=owners[i]))
                    for i in batch
                ],
                actor="bench",
            )
        t_pg += time.perf_counter() - t3
        if one_tx is not None:
            t4 = time.perf_counter()
            await one_tx.add(
                [MemoryRecord(kind=MemoryKind.MESSAGE, text=texts[i], scope=MemoryScope(user_id=owners[i])) for i in batch],
                actor="bench",
            )
            t_one_tx += time.perf_counter() - t4
        t_model += t1 - t0
        t_raw += t2 - t0
        t_omne += t3 - t2
        done = batch.stop
        if done % max(args.batch, size // 10) == 0 or done == size:
            print(
                f"  {size}: {done} added ({time.perf_counter() - started:.0f}s)", file=sys.stderr, flush=True
            )
    if args.keep and not reused:
        built.write_text(json.dumps({"key": key, "window_since": window_since.isoformat()}))

    def sides(query: str, n: int) -> list[Any]:
        scope = MemoryScope(user_id=users[n % len(users)])
        return [
            partial(timed_omne, store, query, scope),
            partial(timed_raw, collection, embedder, query, scope),
            partial(timed_raw, collection, embedder, query, scope, scoped=False),
            *([partial(timed_omne, pg_store, query, scope)] if pg_store is not None else []),
        ]

    def windowed(query: str, n: int) -> list[Any]:
        scope = MemoryScope(user_id=users[n % len(users)])
        return [  # in the order the timings are unpacked below (PostgreSQL last: it was swapped with raw chroma)
            partial(timed_omne, store, query, scope, since=window_since),
            partial(timed_raw, collection, embedder, query, scope, min_ts=float(window_start)),
            *([partial(timed_omne, pg_store, query, scope, since=window_since)] if pg_store is not None else []),
        ]

    omne_ms, raw_ms, floor_ms, *pg_ms = await timed_rounds(queries, sides, args.warmup)
    window_omne_ms, window_raw_ms, *window_pg_ms = await timed_rounds(
        queries[: args.window_queries + args.warmup], windowed, args.warmup
    )
    pg_row = None
    if pg_store is not None:
        throughput = {"embedded": {}, "postgres": {}}
        for clients in args.clients:  # the two stores in turn at each concurrency
            for name, side in (("embedded", store), ("postgres", pg_store)):
                throughput[name][clients] = await search_throughput(side, queries, users, clients, args.throughput_queries)
        pg_row = PgRow(
            size=size, rps=size / t_pg if t_pg else float("nan"), p50=statistics.median(pg_ms[0]), p95=percentile(pg_ms[0], 95),
            window_p50=statistics.median(window_pg_ms[0]) if window_pg_ms[0] else float("nan"),
            window_p95=percentile(window_pg_ms[0], 95), throughput=throughput,
            one_tx_rps=(size / t_one_tx if t_one_tx else float("nan")) if one_tx is not None else None,
        )  # fmt: skip
        if one_tx is not None:
            await one_tx.close()
        await pg_store.close()
    await store.close()
    reopen_full_s = await timed_reopen(settings, embedder, verify=True)
    reopen_counts_s = await timed_reopen(settings, embedder, verify=False)
    return Row(
        size=size,
        mode="vectors-only" if isinstance(embedder, LookupEmbedder) else "minilm",
        model_rps=float("inf") if isinstance(embedder, LookupEmbedder) else size / t_model if t_model else float("nan"),
        raw_rps=size / t_raw if t_raw else float("nan"),
        omne_rps=size / t_omne if t_omne else float("nan"),
        raw_p50=statistics.median(raw_ms),
        raw_p95=percentile(raw_ms, 95),
        floor_p50=statistics.median(floor_ms),
        floor_p95=percentile(floor_ms, 95),
        omne_p50=statistics.median(omne_ms),
        omne_p95=percentile(omne_ms, 95),
        reopen_full_s=reopen_full_s,
        reopen_counts_s=reopen_counts_s,
        window_raw_p50=statistics.median(window_raw_ms) if window_raw_ms else float("nan"),
        window_raw_p95=percentile(window_raw_ms, 95),
        window_omne_p50=statistics.median(window_omne_ms) if window_omne_ms else float("nan"),
        window_omne_p95=percentile(window_omne_ms, 95),
    ), pg_row


async def search_throughput(
    store: MemoryStore, queries: Sequence[str], users: Sequence[str], clients: int, total: int
) -> float:
    """Searches per second with `clients` concurrent searchers sharing `total` searches (top 10, one user each)."""
    pending = iter(range(total))

    async def client() -> None:
        for n in pending:
            await store.search(queries[n % len(queries)], MemoryScope(user_id=users[n % len(users)]), limit=10)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return total / (time.perf_counter() - t0)


def model_columns(row: Row, rps: float) -> tuple[str, str]:
    """The model's encode rate and `rps` as a share of it ("-" when no model ran: --vectors-only)."""
    if row.model_rps == float("inf"):
        return "-", "-"
    return f"{row.model_rps:.0f}", f"{rps / row.model_rps:.2f}"


def print_table(rows: Sequence[Row]) -> None:
    print(
        f"{'size':>9} {'mode':<13}| {'add rec/s: model':>16} {'raw':>8} {'omne':>8} {'omne/model':>10} {'omne/raw':>8} "
        f"| {'search ms: raw p50':>18} {'p95':>6} {'floor p50':>9} {'p95':>6} {'omne p50':>8} {'p95':>6} "
        f"| {'omne/raw p50':>12} {'p95':>5} {'omne/floor p50':>14} {'p95':>5} | {'reopen s: ids':>13} {'counts':>6}"
    )
    for r in rows:
        model, share = model_columns(r, r.omne_rps)
        print(
            f"{r.size:>9} {r.mode:<13}| {model:>16} {r.raw_rps:>8.0f} {r.omne_rps:>8.0f} {share:>10} "
            f"{r.omne_rps / r.raw_rps:>8.2f} | {r.raw_p50:>18.1f} {r.raw_p95:>6.1f} {r.floor_p50:>9.1f} "
            f"{r.floor_p95:>6.1f} {r.omne_p50:>8.1f} {r.omne_p95:>6.1f} | {r.omne_p50 / r.raw_p50:>12.2f} "
            f"{r.omne_p95 / r.raw_p95:>5.2f} {r.omne_p50 / r.floor_p50:>14.2f} {r.omne_p95 / r.floor_p95:>5.2f} "
            f"| {r.reopen_full_s:>13.1f} {r.reopen_counts_s:>6.1f}"
        )
    print(
        f"{'size':>9} {'mode':<13}| {'time-filtered search ms: raw p50':>32} {'p95':>6} {'omne p50':>8} {'p95':>6}"
        f" | {'omne/raw p50':>12} {'p95':>5}"
    )
    for r in rows:
        print(
            f"{r.size:>9} {r.mode:<13}| {r.window_raw_p50:>32.1f} {r.window_raw_p95:>6.1f} {r.window_omne_p50:>8.1f}"
            f" {r.window_omne_p95:>6.1f} | {r.window_omne_p50 / r.window_raw_p50:>12.2f}"
            f" {r.window_omne_p95 / r.window_raw_p95:>5.2f}"
        )
    sys.stdout.flush()


def print_pg_table(rows: Sequence[tuple[Row, PgRow]]) -> None:
    """PostgreSQL beside embedded: add rate against the model's encode rate, search latency, throughput."""
    print(
        f"{'size':>9} {'mode':<13}| {'add rec/s: model':>16} {'embedded':>8} {'postgres':>8} {'pg/model':>8} "
        f"| {'search ms: emb p50':>18} {'p95':>6} {'pg p50':>7} {'p95':>6} {'pg/emb p95':>10} "
        f"| {'time-filtered: emb p95':>22} {'pg p95':>6}"
    )
    for r, pg in rows:
        model, share = model_columns(r, pg.rps)
        print(
            f"{r.size:>9} {r.mode:<13}| {model:>16} {r.omne_rps:>8.0f} {pg.rps:>8.0f} {share:>8} "
            f"| {r.omne_p50:>18.1f} {r.omne_p95:>6.1f} {pg.p50:>7.1f} {pg.p95:>6.1f} {pg.p95 / r.omne_p95:>10.2f} "
            f"| {r.window_omne_p95:>22.1f} {pg.window_p95:>6.1f}"
        )
    for r, pg in rows:
        if pg.one_tx_rps is not None:
            model, share = model_columns(r, pg.one_tx_rps)
            print(f"{r.size:>9} {'postgres':<13}| add in one transaction per batch (postgres_write_part=0): "
                  f"{pg.one_tx_rps:.0f} rec/s, pg/model {share}")  # fmt: skip
    for r, pg in rows:
        for name, by_clients in pg.throughput.items():
            cells = " ".join(f"{c} clients {qps:7.1f}/s" for c, qps in by_clients.items())
            print(f"{r.size:>9} {name:<13}| search throughput: {cells}")
    sys.stdout.flush()


async def main_async(args: argparse.Namespace) -> None:
    embedder: Embedder = LookupEmbedder() if args.vectors_only else LocalEmbedder()
    embedder.embed(["warm up"])
    load = os.getloadavg()
    print(
        f"cpus={os.cpu_count()} loadavg={load[0]:.1f} {load[1]:.1f} batch={args.batch} users={args.users} queries={args.queries}"
    )
    rows: list[Row] = []
    pg_rows: list[tuple[Row, PgRow]] = []
    with contextlib.ExitStack() as stack:
        pg_url = None
        if args.backend == "postgres":
            if args.keep and not args.postgres_url:
                raise SystemExit("--keep with --backend postgres needs --postgres-url (pgserver's server is temporary)")
            pg_url = args.postgres_url or stack.enter_context(bundled_postgres()).url
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            tmp = str(args.keep)
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="omne-scale-", dir=args.tmp))
        for size in args.sizes:
            row, pg_row = await run_size(size, args, embedder, Path(tmp), pg_url)
            rows.append(row)
            print_table(rows[-1:])
            if pg_row is not None:
                pg_rows.append((row, pg_row))
                print_pg_table(pg_rows[-1:])
    print()
    print_table(rows)
    if pg_rows:
        print()
        print_pg_table(pg_rows)
    print("uptime:", uptime())


def uptime() -> str:
    """What `uptime` prints (the machine's load while the figures were taken)."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


@contextlib.contextmanager
def bundled_postgres() -> Any:
    """pgserver's PostgreSQL for the run (the test suite's helper), stopped even when the run is killed by SIGTERM."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.postgres import running_postgres

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds through `finally`: the server stops
    with running_postgres() as server:
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",") if x], default=[10_000, 100_000]
    )
    parser.add_argument("--queries", type=int, default=200, help="timed searches per size")
    parser.add_argument("--warmup", type=int, default=5, help="untimed searches first")
    parser.add_argument("--batch", type=int, default=1000, help="records per add call")
    parser.add_argument(
        "--window-share", type=float, default=0.01, help="share of the records the time-filtered searches allow"
    )
    parser.add_argument("--window-queries", type=int, default=50, help="timed time-filtered searches per size")
    parser.add_argument(
        "--users", type=int, default=1, help="records are spread over this many users; searches rotate"
    )
    parser.add_argument(
        "--vectors-only", action="store_true", help="random vectors instead of MiniLM (isolates the store)"
    )
    parser.add_argument("--tmp", type=Path, default=None, help="directory for the temporary stores")
    parser.add_argument(
        "--keep", type=Path, default=None,
        help="build the stores in this directory and keep them; a later run with it reuses them (no add figures;"
        " with --backend postgres it needs a --postgres-url that outlives the run: the schema bench_<size> is kept)",
    )  # fmt: skip
    parser.add_argument(
        "--backend", choices=["embedded", "postgres"], default="embedded",
        help="postgres: add a PostgreSQL store beside the embedded one (same batches, same queries)",
    )  # fmt: skip
    parser.add_argument("--postgres-url", default=None, help="a PostgreSQL server with pgvector (default: pgserver's)")
    parser.add_argument(
        "--clients", type=lambda s: [int(x) for x in s.split(",") if x], default=[1, 4, 16],
        help="concurrent searchers for the throughput figures (--backend postgres)",
    )  # fmt: skip
    parser.add_argument("--throughput-queries", type=int, default=200, help="searches per throughput figure")
    parser.add_argument(
        "--pg-one-transaction", action="store_true",
        help="also feed a PostgreSQL store with store.postgres_write_part=0 (encode the batch, then one transaction):"
        " the add rate without writing while encoding, in the same run",
    )  # fmt: skip
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
