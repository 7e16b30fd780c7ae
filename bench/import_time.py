"""Import time of Omne's entry modules in fresh interpreters (a document-converter worker's start, the CLI).

Run: .venv/bin/python bench/import_time.py [--runs 7]
Prints, per module, the median and min wall time of `python -c "import MODULE"` and which heavy packages it
pulled in (the memory system, the model factory, chromadb, torch).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

MODULES = [
    "omne_core.documents.worker",  # what every converter worker process imports first
    "omne_core.documents.convert",
    "omne_core.memory",
    "omne_cli.app",
]
HEAVY = ["omne_core.memory.store", "omne_core.models.factory", "chromadb", "torch", "autogen_ext"]
PROBE = "import sys, json, {module}; print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"


def measure(module: str, runs: int) -> tuple[list[float], list[str]]:
    times, loaded = [], []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module, heavy=HEAVY)],
            capture_output=True, text=True, check=True, env=os.environ,
        )  # fmt: skip
        times.append(time.perf_counter() - started)
        loaded = json.loads(out.stdout)
    return times, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f}; {args.runs} runs each")
    print(f"{'module':<32} {'median s':>9} {'min s':>7}  heavy modules loaded")
    for module in MODULES:
        times, loaded = measure(module, args.runs)
        print(f"{module:<32} {statistics.median(times):>9.2f} {min(times):>7.2f}  {', '.join(loaded) or '-'}")


if __name__ == "__main__":
    main()
