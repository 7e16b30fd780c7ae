"""Wall time of `omne memory stats|list|search|show` on a store of a few thousand records.

    .venv/bin/python bench/cli_latency.py                       # 3000 records in a temp store, 3 runs each
    .venv/bin/python bench/cli_latency.py --records 5000 --runs 5
    .venv/bin/python bench/cli_latency.py --tree before=/tmp/omne-old --tree after=.   # two source trees

Each command runs as a fresh `omne` process (what a user waits for at the shell). With `--tree LABEL=PATH`
(repeatable) each source tree is put first on PYTHONPATH and gets its own store, built through its own
`MemoryStore.add` (MiniLM embeddings); the trees and commands are interleaved run by run, so all see the same
machine load, and one warm-up run of each is not counted. The load average is printed with the figures.
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
    """A store of `records` observations of one user; returns the id of its newest record."""
    from omne_core.config import load_settings
    from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore

    async with await MemoryStore.open(load_settings(data_dir=data_dir)) as store:
        scope = MemoryScope(user_id=USER)
        have = (await store.stats(scope)).total
        for start in range(have, records, 500):
            await store.add([
                MemoryRecord(
                    kind=MemoryKind.OBSERVATION, scope=MemoryScope(user_id=USER, session_id=f"s{i // 50}"),
                    text=f"Note {i}: the user talked about {TOPICS[i % len(TOPICS)]} on day {i % 365} with friend {i % 97}.",
                )
                for i in range(start, min(start + 500, records))
            ])  # fmt: skip
        [newest] = await store.list(scope, limit=1)
        return newest.id


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)  # `-m` puts cwd on the path
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None, help="Where the stores live (default: a temp dir).")
    parser.add_argument("--tree", action="append", default=[], help="LABEL=PATH of a source tree (repeatable).")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)  # used for each tree
    args = parser.parse_args()
    root = (args.data_dir or Path(tempfile.mkdtemp(prefix="omne-cli-bench-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    if args.build_only:
        print(asyncio.run(build(root, args.records)))
        return
    trees = dict(item.split("=", 1) for item in args.tree) or {"this": os.environ.get("PYTHONPATH", "")}
    omne = [sys.executable, "-m", "omne_cli"]  # what the `omne` script runs
    setups: dict[str, tuple[dict[str, str], str]] = {}
    for label, path in trees.items():
        data_dir = root / label
        env = {**os.environ, "OMNE_DATA_DIR": str(data_dir)}
        if path:
            env["PYTHONPATH"] = str(Path(path).resolve())
        made = subprocess.run(
            [sys.executable, __file__, "--build-only", "--records", str(args.records), "--data-dir", str(data_dir)],
            env=env, cwd=root, capture_output=True, text=True, check=True,
        )  # fmt: skip
        setups[label] = (env, made.stdout.strip().splitlines()[-1])
    commands = {
        "stats": ["memory", "stats", "--user", USER],
        "list": ["memory", "list", "--user", USER, "--limit", "20"],
        "search": ["memory", "search", "bees in the garden", "--user", USER],
        "show": ["memory", "show", "{id}", "--user", USER],
    }
    times: dict[tuple[str, str], list[float]] = {}
    for run in range(args.runs + 1):  # run 0 warms up (a first open may migrate the store)
        for name, command in commands.items():
            for label, (env, record_id) in setups.items():
                elapsed = timed([*omne, *(part.replace("{id}", record_id) for part in command)], env, root)
                if run:
                    times.setdefault((name, label), []).append(elapsed)
    print(f"stores under {root} ({args.records} records of user {USER!r}); load average {os.getloadavg()}")
    print(f"{'command':<32} {'tree':<10} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, command in commands.items():
        for label in setups:
            values = times[(name, label)]
            shown = "omne " + " ".join(command[:2])
            print(f"{shown:<32} {label:<10} {statistics.median(values):9.2f} {min(values):7.2f} {max(values):7.2f}")


if __name__ == "__main__":
    main()
