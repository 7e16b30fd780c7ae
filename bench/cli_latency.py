"""Wall time of `omne memory stats|list|search|show` on a store of a few thousand records.

    .venv/bin/python bench/cli_latency.py                       # 3000 records in a temp store, 3 runs each
    .venv/bin/python bench/cli_latency.py --records 5000 --runs 5 --data-dir /tmp/omne-cli-bench

Each command runs as a fresh `omne` process (what a user waits for at the shell). The store is built once
through `MemoryStore.add` (MiniLM embeddings) and reused when `--data-dir` already holds it. Commands are
interleaved run by run, so every command sees the same machine load; the load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

USER = "bench"
TOPICS = "garden bees tea lyon nurse dinosaurs peanuts train piano chess bicycle museum".split()


async def build(data_dir: Path, records: int) -> str:
    """A store of `records` observations of one user (and a few of another); returns one record id."""
    from omne_core.config import load_settings
    from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore

    async with await MemoryStore.open(load_settings(data_dir=data_dir)) as store:
        stats = await store.stats(MemoryScope(user_id=USER))
        if stats.total < records:
            batch = []
            for i in range(stats.total, records):
                topic = TOPICS[i % len(TOPICS)]
                text = f"Note {i}: the user talked about {topic} on day {i % 365} with friend {i % 97}."
                batch.append(MemoryRecord(kind=MemoryKind.OBSERVATION, text=text, scope=MemoryScope(user_id=USER, session_id=f"s{i // 50}")))
                if len(batch) == 500:
                    await store.add(batch)
                    batch = []
            if batch:
                await store.add(batch)
        [first] = await store.list(MemoryScope(user_id=USER), limit=1)
        return first.id


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None, help="Store to build or reuse (default: a temp dir).")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="omne-cli-bench-"))
    record_id = asyncio.run(build(data_dir, args.records))
    omne = str(Path(sys.executable).with_name("omne"))
    env = {**os.environ, "OMNE_DATA_DIR": str(data_dir)}
    commands = {
        "stats": [omne, "memory", "stats", "--user", USER],
        "list": [omne, "memory", "list", "--user", USER, "--limit", "20"],
        "search": [omne, "memory", "search", "bees in the garden", "--user", USER],
        "show": [omne, "memory", "show", record_id, "--user", USER],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            times[name].append(timed(command, env))
    print(f"store: {data_dir} ({args.records} records of user {USER!r}); load average {os.getloadavg()}")
    print(f"{'command':<40} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, command in commands.items():
        label = "omne " + " ".join(command[1:4])
        values = times[name]
        print(f"{label:<40} {statistics.median(values):9.2f} {min(values):7.2f} {max(values):7.2f}")


if __name__ == "__main__":
    main()
