"""Memory server under load: 1, 8 and 32 concurrent clients on 127.0.0.1 mixing adds and searches, with the
in-process `MemoryStore` as the baseline in the same run.

    .venv/bin/python bench/server_load.py                                  # 1, 8, 32 clients; 20 s or 1500 ops each
    .venv/bin/python bench/server_load.py --clients 1,8 --seconds 10       # a quick run
    .venv/bin/python bench/server_load.py --clients 1,8 --rounds 3         # levels interleaved 3 times: medians

`omne serve` runs as its own process (embedded backend, a fresh data directory, one API key); each simulated
client is an asyncio task with its own HTTP connection (httpx, keep-alive) that loops: an add of one record
(`--add-share`, default 30 %) or a search (top 10 of one user). The baseline runs the same loop on a
`MemoryStore` opened in this process with the same seed records. Each level (clients × mode) is bounded by
`--seconds` and `--max-ops`; the two modes of a level run back to back, so they see about the same machine.
Printed: throughput, p50/p95/p99 per operation, errors, and the issue's targets:
0 errors; server search p95 ≤ in-process p95 + 15 ms at 1 client; server throughput at 8 clients ≥ 1.5× at 1.
With `--rounds N` every level runs N times, interleaved (1, 8, 32, 1, 8, 32, ...), so a load change on a shared
machine hits every level alike: the table pools the rounds, the scaling target takes the median of the rounds'
ratios (each printed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402

from omne_core.config import load_settings  # noqa: E402
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore  # noqa: E402
from omne_server.app import open_key_store  # noqa: E402

WORDS = (
    "garden river coffee violin mountain ticket lantern orchard harbor pepper candle meadow bicycle museum "
    "recipe passport doctor concert library winter summer birthday train flight hotel dinner project meeting "
    "deadline invoice gift sister brother neighbour cat dog piano guitar novel movie beach forest city"
).split()


def sentence(rng: random.Random) -> str:
    return f"{' '.join(rng.choices(WORDS, k=8))} {uuid.uuid4().hex[:6]}"


def query(rng: random.Random) -> str:
    return f"what about the {rng.choice(WORDS)} and the {rng.choice(WORDS)}?"


@dataclass
class Level:
    mode: str
    clients: int
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"add": [], "search": []})
    errors: list[str] = field(default_factory=list)

    @property
    def ops(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def throughput(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


Op = Callable[[str, random.Random], Awaitable[None]]


async def run_level(level: Level, make_op: Callable[[], Awaitable[tuple[Op, Callable[[], Awaitable[None]]]]],
                    users: list[str], add_share: float, seconds: float, max_ops: int, seed: int) -> None:  # fmt: skip
    """`level.clients` workers, each with its own op (connection), until the time or the op budget is spent."""
    deadline = time.perf_counter() + seconds
    budget = [max_ops]

    async def worker(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        op, close = await make_op()
        try:
            while time.perf_counter() < deadline and budget[0] > 0:
                budget[0] -= 1
                kind = "add" if rng.random() < add_share else "search"
                started = time.perf_counter()
                try:
                    await op(kind, rng)
                except Exception as exc:  # counted, never fatal: the run reports errors
                    level.errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:200])
                    continue
                level.latencies[kind].append(time.perf_counter() - started)
        finally:
            await close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(level.clients)))
    level.seconds = time.perf_counter() - started


def uptime() -> str:
    """What `uptime` says about load (1, 5, 15 min averages), and the core count."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"load average {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} on {os.cpu_count()} cores"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNE_")}
    config = data_dir.parent / "omne.toml"  # empty: OMNE_CONFIG must name an existing file
    config.touch()
    env.update(OMNE_DATA_DIR=str(data_dir), OMNE_CONFIG=str(config))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "omne_cli.app", "serve", "--port", str(port), "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"omne serve exited ({process.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("omne serve did not start within 300 s")


def seed_records(users: list[str], per_user: int, rng: random.Random) -> list[MemoryRecord]:
    return [MemoryRecord(kind=MemoryKind.MESSAGE, text=sentence(rng), scope=MemoryScope(user_id=user))
            for user in users for _ in range(per_user)]  # fmt: skip


def print_table(levels: list[Level]) -> None:
    header = f"{'mode':<11}{'clients':>8}{'ops':>7}{'ops/s':>8}  {'add p50/p95/p99 ms':>22}  {'search p50/p95/p99 ms':>24}{'errors':>8}"
    print(header)
    print("-" * len(header))
    for lv in levels:
        cells = []
        for kind in ("add", "search"):
            values = [v * 1000 for v in lv.latencies[kind]]
            cells.append("/".join(f"{percentile(values, q):.1f}" for q in (50, 95, 99)) if values else "-")
        print(f"{lv.mode:<11}{lv.clients:>8}{lv.ops:>7}{lv.throughput:>8.1f}  {cells[0]:>22}  {cells[1]:>24}{len(lv.errors):>8}")


def pooled(levels: list[Level]) -> Level:
    """The rounds of one level as one: their operations, errors and time together."""
    out = Level(levels[0].mode, levels[0].clients, seconds=sum(lv.seconds for lv in levels))
    for lv in levels:
        for kind, values in lv.latencies.items():
            out.latencies[kind].extend(values)
        out.errors.extend(lv.errors)
    return out


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def check_targets(levels: list[Level], rounds: list[list[Level]]) -> bool:
    by = {(lv.mode, lv.clients): lv for lv in levels}
    ok = True
    errors = sum(len(lv.errors) for lv in levels)
    print(f"\n[{'PASS' if errors == 0 else 'FAIL'}] errors: {errors} (target 0)")
    ok &= errors == 0
    for lv in levels:
        for line in lv.errors[:3]:
            print(f"    {lv.mode} x{lv.clients}: {line}")
    local1, server1 = by.get(("in-process", 1)), by.get(("server", 1))
    if local1 and server1:
        lp95 = percentile(local1.latencies["search"], 95) * 1000
        sp95 = percentile(server1.latencies["search"], 95) * 1000
        passed = sp95 <= lp95 + 15
        ok &= passed
        print(f"[{'PASS' if passed else 'FAIL'}] search p95 at 1 client: server {sp95:.1f} ms vs in-process {lp95:.1f} ms "
              f"(+{sp95 - lp95:.1f} ms; target ≤ +15 ms)")
    server8 = by.get(("server", 8))
    if server1 and server8:
        ratios = []
        for levels_of_round in rounds:
            of = {(lv.mode, lv.clients): lv.throughput for lv in levels_of_round}
            ratios.append(of[("server", 8)] / of[("server", 1)] if of[("server", 1)] else float("nan"))
        ratio = median(ratios)
        passed = ratio >= 1.5
        ok &= passed
        each = f"; rounds: {', '.join(f'{r:.2f}x' for r in ratios)}, median" if len(ratios) > 1 else " ="
        print(f"[{'PASS' if passed else 'FAIL'}] server throughput 8 vs 1 client: {server8.throughput:.1f} / "
              f"{server1.throughput:.1f} ops/s{each} {ratio:.2f}x (target ≥ 1.5x)")
        server32 = by.get(("server", 32))
        if server32 and server1.throughput:
            print(f"       (32 vs 1 client: {server32.throughput / server1.throughput:.2f}x; no target)")
    return ok


async def main(args: argparse.Namespace) -> int:
    print(f"uptime: {uptime()}")
    levels_wanted = [int(c) for c in args.clients.split(",")]
    rng = random.Random(args.seed)
    users = [f"user{i:03d}" for i in range(args.users)]
    seed = seed_records(users, args.per_user, rng)
    root = Path(tempfile.mkdtemp(prefix="omne-server-load-"))
    server_data, local_data = root / "server", root / "local"
    settings = load_settings(data_dir=server_data)
    keys = open_key_store(settings)
    _, token = await keys.create("bench")
    await keys.close()
    port = free_port()
    print(f"starting omne serve on 127.0.0.1:{port} (data {server_data}) ...", flush=True)
    process = start_server(server_data, port, root / "serve.log")
    store = await MemoryStore.open(load_settings(data_dir=local_data))
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        started = time.perf_counter()
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600) as http:
            for start in range(0, len(seed), 500):
                piece = seed[start : start + 500]
                response = await http.post("/v1/memories", json={"records": [r.model_dump(mode="json") for r in piece]})
                response.raise_for_status()
                await store.add(piece)
        print(f"seeded {len(seed)} records ({args.users} users) on both sides in {time.perf_counter() - started:.1f} s\n")

        async def local_op() -> tuple[Op, Callable[[], Awaitable[None]]]:
            async def op(kind: str, r: random.Random) -> None:
                user = MemoryScope(user_id=r.choice(users))
                if kind == "add":
                    await store.add(MemoryRecord(kind=MemoryKind.MESSAGE, text=sentence(r), scope=user))
                else:
                    await store.search(query(r), user, limit=10)

            async def close() -> None:
                return None

            return op, close

        async def server_op() -> tuple[Op, Callable[[], Awaitable[None]]]:
            http = httpx.AsyncClient(base_url=url, headers=headers, timeout=120)

            async def op(kind: str, r: random.Random) -> None:
                user = {"user_id": r.choice(users)}
                if kind == "add":
                    body = {"kind": "message", "text": sentence(r), "scope": user}
                    response = await http.post("/v1/memories", json=body)
                else:
                    response = await http.post("/v1/memories/search", json={"query": query(r), "scope": user, "limit": 10})
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.text[:120]}")

            return op, http.aclose

        for op in (local_op, server_op):  # warm both paths up (connections, caches, lazy imports)
            warm = Level("warm-up", 1)
            await run_level(warm, op, users, args.add_share, 5, 20, args.seed)
        rounds: list[list[Level]] = []
        for n in range(args.rounds):
            levels_of_round: list[Level] = []
            for i, clients in enumerate(levels_wanted):
                order = [("in-process", local_op), ("server", server_op)]
                for mode, op in order if i % 2 == 0 else order[::-1]:
                    level = Level(mode, clients)
                    seed = args.seed + clients + 1000 * n
                    await run_level(level, op, users, args.add_share, args.seconds, args.max_ops, seed)
                    levels_of_round.append(level)
                    print(f"  round {n + 1}: {mode:<10} x{clients:<3} {level.ops} ops in {level.seconds:.1f} s "
                          f"({level.throughput:.1f} ops/s; load {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip
            rounds.append(levels_of_round)
        keys = [(lv.mode, lv.clients) for lv in rounds[0]]
        levels = [pooled([lv for r in rounds for lv in r if (lv.mode, lv.clients) == key]) for key in keys]
        levels.sort(key=lambda lv: (lv.clients, lv.mode))
        print()
        print_table(levels)
        ok = check_targets(levels, rounds)
        print(f"\nuptime: {uptime()}")
        return 0 if ok else 1
    finally:
        await store.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        if not args.keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,8,32", help="concurrency levels (comma-separated)")
    parser.add_argument("--seconds", type=float, default=20.0, help="time bound per level and mode")
    parser.add_argument("--rounds", type=int, default=1, help="run every level this many times, interleaved")
    parser.add_argument("--max-ops", type=int, default=1500, help="operation bound per level and mode")
    parser.add_argument("--add-share", type=float, default=0.3, help="share of adds (the rest are searches)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=100, help="seed records per user")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directories")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
