"""How long opening an existing store takes, the embedding model already loaded: the cheap index check (the
default: journal and counts) against the full one (every id compared; `omne memory repair`).

Run: .venv/bin/python bench/store_open.py DATA_DIR [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path

from omne_core.config import load_settings
from omne_core.embeddings import build_embedder
from omne_core.memory import MemoryStore


async def timed_open(data_dir: Path, full: bool, embedder: object, runs: int) -> list[float]:
    settings = load_settings(data_dir=data_dir)
    settings.memory.verify_index_on_open = full
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        store = await MemoryStore.open(settings, embedder=embedder)  # type: ignore[arg-type]
        times.append(time.perf_counter() - started)
        await store.close()
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    settings = load_settings(data_dir=args.data_dir)
    embedder = build_embedder(settings.embedding)
    started = time.perf_counter()
    name = embedder.name  # loads the model
    print(f"embedding model {name} loaded in {time.perf_counter() - started:.2f} s (excluded below)")
    print(f"load average {os.getloadavg()[0]:.2f}; {args.runs} opens each")
    for full in (False, True):
        times = await timed_open(args.data_dir, full, embedder, args.runs)
        label = "full check (every id)" if full else "cheap check (default)"
        print(f"{label:<24} median {statistics.median(times) * 1000:8.1f} ms   min {min(times) * 1000:8.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
