"""GAIA runner throughput: tasks/minute at concurrency 1, 4 and 16 with a scripted agent of fixed latency.

The ideal is ceil(N / c) * latency seconds for N tasks at concurrency c; the ratio measured/ideal shows what
the harness itself costs (agent construction, streaming, scoring, one fsync'ed results line per task).

    .venv/bin/python bench/gaia_throughput.py [--tasks 64] [--latency 0.2] [--concurrency 1 4 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from omne_core.config import load_settings  # noqa: E402
from omne_eval.gaia import GaiaRunConfig, GaiaRunner, RunLimits, load_gaia_dataset  # noqa: E402
from omne_eval.gaia.scripted import scripted_factory  # noqa: E402


def write_tasks(root: Path, n: int) -> dict[str, str]:
    split = root / "2023" / "validation"
    split.mkdir(parents=True)
    answers = {}
    with (split / "metadata.jsonl").open("w") as fh:
        for i in range(n):
            task_id = f"bench-{i:04d}"
            answers[task_id] = str(i)
            row = {"task_id": task_id, "Question": f"What is {i}?", "Level": str(1 + i % 3),
                   "Final answer": str(i), "file_name": ""}  # fmt: skip
            fh.write(json.dumps(row) + "\n")
    return answers


async def measure(root: Path, answers: dict[str, str], concurrency: int, latency: float, out: Path) -> float:
    tasks = load_gaia_dataset(root).tasks
    config = GaiaRunConfig(output_dir=out, concurrency=concurrency, limits=RunLimits(time_limit_s=60))
    runner = GaiaRunner(scripted_factory(answers, latency_s=latency), load_settings(), config, show_progress=False)
    started = time.perf_counter()
    outcome = await runner.run(tasks)
    elapsed = time.perf_counter() - started
    assert len(outcome.ran) == len(tasks) and all(r.correct for r in outcome.results)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the scripted agent takes per task")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("OMNE_DATA_DIR", str(Path(tmp) / "data"))
        root = Path(tmp) / "GAIA"
        answers = write_tasks(root, args.tasks)
        print(f"{args.tasks} tasks, scripted agent latency {args.latency * 1000:.0f} ms\n")
        print(f"{'concurrency':>11} {'seconds':>8} {'ideal s':>8} {'tasks/min':>10} {'ideal/min':>10} {'ratio':>6} {'overhead/task':>14}")
        for c in args.concurrency:
            elapsed = asyncio.run(measure(root, answers, c, args.latency, Path(tmp) / f"run-{c}"))
            ideal = math.ceil(args.tasks / c) * args.latency
            rate, ideal_rate = args.tasks / elapsed * 60, args.tasks / ideal * 60
            overhead_ms = (elapsed - ideal) / args.tasks * 1000
            print(f"{c:>11} {elapsed:>8.2f} {ideal:>8.2f} {rate:>10.0f} {ideal_rate:>10.0f} {rate / ideal_rate:>6.2f} {overhead_ms:>11.1f} ms")


if __name__ == "__main__":
    main()
