"""Memory inspector page times at scale: the /ui pages of one user with 100k records, through the whole app.

    .venv/bin/python bench/ui_pages.py                       # 100k records (built once into a temp dir)
    .venv/bin/python bench/ui_pages.py --records 20000 --reps 10
    .venv/bin/python bench/ui_pages.py --data-dir /tmp/ui-bench   # keep the store: later runs skip the build

Each page is a real GET through the server app (ASGI in-process: routing, session, store, Jinja rendering;
no socket), timed end to end, `--reps` times: median and p95 in ms. The record list pages with keyset paging
(`?after=<last id>`), so a page deep in the list costs what the first one does; beside each depth, the store
call alone (keyset) and the same 51 records read with SQL `LIMIT 51 OFFSET n` (what offset paging would cost).
Records: one user, 200 sessions, 90 % messages, 10 % facts citing two messages; 4 % superseded, 2 % deleted; the
embedder is a 16-dimension lookup (no model: no page reads a vector except the search playground's).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402
from memory_scale import LookupEmbedder  # noqa: E402  (bench/ is the script's folder, first on sys.path)

from omne_core.config import load_settings  # noqa: E402
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStatus  # noqa: E402
from omne_server import create_app  # noqa: E402

USER, TENANT, SESSIONS = "alice", "bench", 200
T0 = datetime(2025, 1, 1, tzinfo=UTC)
WORDS = "lyon tea flat river train museum invoice doctor garden piano cousin bakery bike winter budget".split()


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


async def build(store: Any, n: int, rng: random.Random) -> None:
    """`n` records of USER, in batches, oldest first; facts cite earlier messages of their session."""
    by_session: dict[int, list[str]] = {}
    made = 0
    while made < n:
        batch: list[MemoryRecord] = []
        for _ in range(min(1000, n - made)):
            session = rng.randrange(SESSIONS)
            scope = MemoryScope(user_id=USER, session_id=f"s{session}")
            when = T0 + timedelta(minutes=made)
            words = " ".join(rng.choice(WORDS) for _ in range(8))
            earlier = by_session.get(session, [])
            if len(earlier) >= 2 and rng.random() < 0.1:
                record = MemoryRecord(kind=MemoryKind.FACT, text=f"fact {made}: {words}", scope=scope, event_time=when,
                                      source_ids=rng.sample(earlier[-20:], 2))  # fmt: skip
            else:
                record = MemoryRecord(kind=MemoryKind.MESSAGE, text=f"message {made}: {words}", scope=scope, event_time=when)
                by_session.setdefault(session, []).append(record.id)
            batch.append(record)
            made += 1
        stored = await store.add(batch, actor="bench")
        for record in stored:
            roll = rng.random()
            if roll < 0.02:
                await store.delete(record.id, actor="bench")
            elif roll < 0.06 and record.kind is MemoryKind.FACT:
                newer = (await store.add(record.model_copy(update={"id": f"{record.id}-v2", "text": record.text + " (revised)"})))[0]
                await store.supersede(record.id, newer.id, actor="bench")
        print(f"  built {made}/{n}", end="\r", flush=True)
    print()


async def timed(client: httpx.AsyncClient, path: str, reps: int) -> tuple[float, float, str]:
    times, text = [], ""
    for _ in range(reps):
        started = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        text = response.text
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], text


def offset_ms(db: Any, offset: int, reps: int) -> float:
    """The same page (51 active records of the user, newest first, loaded as records) read with OFFSET `offset`."""
    from omne_core.memory.backends.embedded.database import load_row

    sql = ("SELECT seq, id, access_count, last_accessed_at, body FROM records r WHERE r.user_id = ? AND r.status IN (?)"
           " ORDER BY r.ts DESC, r.seq DESC LIMIT 51 OFFSET ?")  # fmt: skip
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        [load_row(row) for row in db.conn().execute(sql, (USER, "active", offset))]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def keyset_ms(store: Any, after: str | None, reps: int) -> float:
    """The list page's store call alone: 51 active records of the user past `after` (keyset)."""
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        await store.list(MemoryScope(user_id=USER), limit=51, statuses=[MemoryStatus.ACTIVE], after=after)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the store here (built once)")
    args = parser.parse_args()
    if args.data_dir is None:  # a store of its own, removed afterwards
        with tempfile.TemporaryDirectory(prefix="omne-ui-bench-") as data_dir:
            await run(args, Path(data_dir))
    else:
        await run(args, args.data_dir)


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    settings = load_settings(data_dir=data_dir)
    embedder = LookupEmbedder(16)
    print(f"ui_pages: {args.records} records of one user, {args.reps} reps per page; {uptime()}")
    app = create_app(settings, embedder=embedder)
    async with app.router.lifespan_context(app):
        state = app.state.omne
        store = await state.tenants.get(TENANT)
        have = (await store.stats(MemoryScope(user_id=USER))).total
        if have < args.records:
            started = time.perf_counter()
            await build(store, args.records - have, random.Random(1))
            print(f"  build: {time.perf_counter() - started:.0f} s")
        total = await store.stats(MemoryScope(user_id=USER))
        print(f"  store: {total.total} records ({total.by_status})")
        _, token = await state.keys.create(TENANT, label="ui bench")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            login = await client.get("/ui/login")
            login_token = re.search(r'name="login_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
            await client.post("/ui/login", data={"key": token, "login_token": login_token})
            newest = await store.list(MemoryScope(user_id=USER), limit=None, statuses=[MemoryStatus.ACTIVE])
            rows: list[tuple[str, float, float]] = []
            print(f"\n  {'page (whole request)':<58}{'median ms':>10}{'p95 ms':>9}  | store call: {'keyset':>7}{'offset':>8}")
            depth_rows = []
            for depth in (0, 1_000, 10_000, 50_000, len(newest) - 60):
                if depth < 0 or depth >= len(newest):
                    continue
                anchor = newest[depth - 1].id if depth else None
                median, p95, text = await timed(client, f"/ui/records?user={USER}" + (f"&after={anchor}" if anchor else ""), args.reps)
                assert text.count('class="rid"') == 50
                keyset = await keyset_ms(store, anchor, args.reps)
                off = offset_ms(store.backend.db, depth, args.reps)  # type: ignore[attr-defined]
                depth_rows.append((f"record list, 50 records at depth {depth}", median, p95, keyset, off))
            fact = next(r for r in newest if r.kind is MemoryKind.FACT)
            cited = fact.source_ids[0]
            since, until = (T0 + timedelta(minutes=args.records // 2)).isoformat()[:16], (T0 + timedelta(minutes=args.records // 2 + 2000)).isoformat()[:16]
            pages = {
                "record list, kind=fact": f"/ui/records?user={USER}&kind=fact",
                "record list, session=s17": f"/ui/records?user={USER}&session=s17",
                "record list, status=deleted": f"/ui/records?user={USER}&status=deleted",
                "record list, status=superseded, oldest first": f"/ui/records?user={USER}&status=superseded&order=oldest",
                "record list, a 2000-minute window": f"/ui/records?user={USER}&since={since}&until={until}",
                "record list, session + kind + window (sparse)": f"/ui/records?user={USER}&session=s17&kind=fact&since={since}&until={until}",
                "users (counts by kind and status)": "/ui/users",
                "record page of an L1 (sources, chain, history)": f"/ui/record?id={fact.id}",
                "record page of an L0 (conclusions citing it)": f"/ui/record?id={cited}",
                "search playground (10 hits, context)": f"/ui/search?user={USER}&q=lyon+tea+river&budget=400",
            }
            for name, path in pages.items():
                median, p95, _ = await timed(client, path, args.reps)
                rows.append((name, median, p95))
            for name, median, p95, keyset, off in depth_rows:
                print(f"  {name:<58}{median:>10.1f}{p95:>9.1f}  | {keyset:>19.1f}{off:>8.1f}")
            for name, median, p95 in rows:
                print(f"  {name:<58}{median:>10.1f}{p95:>9.1f}")
    print(f"\n{uptime()}")
    print("store call: the list page's records alone, keyset (`after=`, what the page uses) and with SQL OFFSET at that depth")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
