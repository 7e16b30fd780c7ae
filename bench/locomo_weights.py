"""How much the ranking defaults owe to the data they were chosen on: leave-one-conversation-out on LoCoMo.

    .venv/bin/python bench/locomo_weights.py ../shared/data/locomo/locomo_dev.json
    .venv/bin/python bench/locomo_weights.py ../shared/data/locomo/locomo_dev.json --l1 observations
    .venv/bin/python bench/locomo_weights.py ../shared/data/locomo/locomo_dev.json --knobs diversity_weight,diversity_threshold

Every weight and prior of `MemorySettings` that was picked on the LoCoMo dev conversations (the fusion weights,
`session_weight`, `time_weight`, `l1_key_weight`, `l1_sources_per_hit`, `l1_feedback_weight`, `diversity_weight`, ...:
`KNOBS`) is checked two ways:

- **per knob**: the knob runs through its values, every other knob at its default. In-sample: recall@10 of each
  value on all conversations. Leave-one-out: each conversation is held out in turn, the value with the best
  recall@10 (then recall@5) on the others is picked and scored on the held-out one; the pooled held-out recall
  is printed beside the default's.
- **jointly**: the same leave-one-out over the grid of several knobs at once (`JOINT`); this pooled figure is
  the estimate for conversations none of the weights saw.

Each question is searched once: its candidates and everything the weights do not change are kept
(`MemoryStore.candidates`: what `MemoryStore.search` ranks), and only `ranking.rank` runs again
per grid point (no reasons), so a grid of hundreds of points costs a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# the benchmark next door (bench/ is on sys.path when run as a script)
from locomo_recall import CATEGORIES, KS, L1_MODES, delivered, derived_records, load_locomo, recall_row

from omne_core.config import MemorySettings, load_settings
from omne_core.memory import MemoryScope, MemoryStore
from omne_core.memory.filters import RecordFilter
from omne_core.memory.ranking import Candidates, rank

# Each knob's values (its default is added when missing). "fusion.lexical" moves the dense weight with it
# (dense = 1 - lexical), as the defaults do.
KNOBS: dict[str, tuple[float, ...]] = {
    "fusion.lexical": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    "fusion.speaker": (0.0, 0.15, 0.3, 0.45),
    "fusion.substance": (0.0, 0.1, 0.2),
    "session_weight": (0.0, 0.15, 0.3, 0.45),
    "time_weight": (0.0, 0.1, 0.2, 0.4),
    "when_weight": (0.0, 0.05, 0.1, 0.2, 0.3),
    "l1_key_weight": (0.0, 0.15, 0.3, 0.5, 1.0),
    "l1_sources_per_hit": (0, 1, 2, 3, 5),
    "l1_feedback_weight": (0.0, 0.1, 0.2, 0.3, 0.4),
    "diversity_weight": (0.0, 0.1, 0.2, 0.3, 0.5),
    "diversity_threshold": (0.5, 0.6, 0.7, 0.8),
}
L1_ONLY = {"l1_key_weight", "l1_sources_per_hit", "l1_feedback_weight"}  # no effect without L1 records
# No effect while another knob is at its default (diversity_weight 0): checked jointly only (`--knobs`).
JOINT_ONLY = {"diversity_threshold"}
# The joint grids: raw records alone, and with L1 records (the fusion weights at their defaults there).
JOINT = {
    "none": ("fusion.lexical", "fusion.speaker", "fusion.substance", "session_weight", "time_weight"),
    "l1": ("session_weight", "time_weight", "l1_key_weight", "l1_feedback_weight"),
}

Weighting = tuple[tuple[str, float], ...]  # (knob, value) pairs; the knobs not named keep their defaults


def apply(settings: MemorySettings, weighting: Weighting) -> MemorySettings:
    """`settings` with the weighting's knobs set."""
    fusion: dict[str, float] = {}
    top: dict[str, float | int] = {}
    for knob, value in weighting:
        if knob == "fusion.lexical":
            fusion.update(lexical=value, dense=round(1 - value, 2))
        elif knob.startswith("fusion."):
            fusion[knob.removeprefix("fusion.")] = value
        else:
            top[knob] = int(value) if knob == "l1_sources_per_hit" else value
    return settings.model_copy(update={**top, "fusion": settings.fusion.model_copy(update=fusion)})


def default_of(settings: MemorySettings, knob: str) -> float:
    if knob.startswith("fusion."):
        return float(getattr(settings.fusion, knob.removeprefix("fusion.")))
    return float(getattr(settings, knob))


def describe(weighting: Weighting) -> str:
    return " ".join(f"{knob.removeprefix('fusion.')} {value:g}" for knob, value in weighting) or "(defaults)"


@dataclass
class Asked:
    """One question: its candidates as the store prepares them, what each record delivers, and the evidence."""

    conversation: str
    category: int
    candidates: Candidates
    dia_of: dict[str, set[str]]
    evidence: set[str]


async def collect(store: MemoryStore, path: Path, l1: str) -> list[Asked]:
    """Index every conversation through the public API and keep each question's ranking inputs."""
    asked: list[Asked] = []
    for conv in load_locomo(path):
        scope = MemoryScope(user_id=conv.sample_id)
        stored = await store.add(conv.records, actor="locomo")
        dia_of: dict[str, set[str]] = defaultdict(set)
        for record, dia_id in zip(stored, conv.dia_ids, strict=True):
            dia_of[record.id].add(dia_id)
        derived = derived_records(conv, l1, dict(zip(conv.dia_ids, stored, strict=True)))
        if derived:
            await store.add(derived, actor=f"locomo-{l1}")
        for q in conv.questions:  # what `search` would rank, kept: only the weights change from here on
            candidates = await store.candidates(q.text, RecordFilter.build(scope), limit=max(KS), vectors=True)
            asked.append(Asked(conv.sample_id, q.category, candidates, dia_of, q.evidence))
        print(f"{conv.sample_id}: {len(conv.questions)} questions collected", file=sys.stderr)
    return asked


class Scores:
    """recall@k rows per weighting and question, computed once each."""

    def __init__(self, asked: list[Asked], settings: MemorySettings) -> None:
        self.asked, self.settings = asked, settings
        self._rows: dict[Weighting, list[list[float]]] = {}

    def rows(self, weighting: Weighting) -> list[list[float]]:
        if weighting not in self._rows:
            tuned = apply(self.settings, weighting)
            self._rows[weighting] = [
                recall_row([delivered(h, a.dia_of) for h in rank(a.candidates, tuned, limit=max(KS), explain=False)],
                           a.evidence)  # fmt: skip
                for a in self.asked
            ]
        return self._rows[weighting]

    def mean(self, weighting: Weighting, keep: Sequence[int] | None = None) -> list[float]:
        return pooled(self.rows(weighting), keep)

    def leave_one_out(self, grid: Sequence[Weighting]) -> tuple[list[list[float]], list[tuple[str, Weighting, list[float]]]]:
        """Each question's held-out recall row (scored with the weighting picked on the other conversations), and
        per held-out conversation the weighting picked with its held-out recall."""
        conversations = list(dict.fromkeys(a.conversation for a in self.asked))
        held_rows: list[list[float]] = [[] for _ in self.asked]
        folds = []
        for held in conversations:
            inside = [i for i, a in enumerate(self.asked) if a.conversation == held]
            train = [i for i, a in enumerate(self.asked) if a.conversation != held]
            best = max(grid, key=lambda w: tuple(self.mean(w, train)[i] for i in (2, 1)))
            rows = self.rows(best)
            for i in inside:
                held_rows[i] = rows[i]
            folds.append((held, best, self.mean(best, inside)))
        return held_rows, folds


def pooled(rows: Sequence[Sequence[float]], keep: Sequence[int] | None = None) -> list[float]:
    """Mean recall@k over `rows` (those at `keep`, if given)."""
    picked = rows if keep is None else [rows[i] for i in keep]
    return [sum(r[i] for r in picked) / len(picked) for i in range(len(KS))] if picked else [0.0] * len(KS)


def fmt(means: Sequence[float]) -> str:
    return " ".join(f"r@{k} {m:.3f}" for k, m in zip(KS, means, strict=True) if k in (5, 10))


def report(asked: list[Asked], settings: MemorySettings, l1: str, only: Sequence[str] = ()) -> None:
    scores = Scores(asked, settings)
    default: Weighting = ()
    print(f"--l1 {l1}: {len(asked)} questions; defaults: " + " ".join(
        f"{k.removeprefix('fusion.')} {default_of(settings, k):g}" for k in KNOBS))
    print(f"defaults in-sample: {fmt(scores.mean(default))}")
    print("\nper knob (the others at their defaults): in-sample recall of each value; leave-one-conversation-out")
    for knob, values in KNOBS.items():
        if (l1 == "none" and knob in L1_ONLY) or (only and knob not in only) or knob in JOINT_ONLY:
            continue
        values = tuple(sorted({*values, default_of(settings, knob)}))
        grid: list[Weighting] = [((knob, v),) for v in values]
        inside = "  ".join(f"{v:g}:{scores.mean(w)[2]:.3f}" for v, w in zip(values, grid, strict=True))
        held_rows, folds = scores.leave_one_out(grid)
        picked = ",".join(f"{w[0][1]:g}" for _, w, _ in folds)
        print(f"  {knob:<20} default {default_of(settings, knob):<5g} r@10 in-sample  {inside}")
        print(f"  {'':<20} leave-one-out: picked {picked} -> {fmt(pooled(held_rows))}  "
              f"(default in-sample {fmt(scores.mean(default))})")
    names = tuple(only) or JOINT["none" if l1 == "none" else "l1"]
    grid = [tuple(zip(names, combo, strict=True)) for combo in itertools.product(*(KNOBS[n] for n in names))]
    start = time.perf_counter()
    held_rows, folds = scores.leave_one_out(grid)
    best_all = max(grid, key=lambda w: tuple(scores.mean(w)[i] for i in (2, 1)))
    print(f"\njoint grid over {', '.join(names)}: {len(grid)} weightings ({time.perf_counter() - start:.0f}s)")
    for held, weighting, means in folds:
        n = sum(1 for a in asked if a.conversation == held)
        inside = [i for i, a in enumerate(asked) if a.conversation == held]
        print(f"  held out {held:<8} n {n:>4}: picked {describe(weighting):<62} {fmt(means)} | defaults "
              f"{fmt(scores.mean(default, inside))}")
    print(f"  pooled leave-one-out: {fmt(pooled(held_rows))}   defaults in-sample: {fmt(scores.mean(default))}")
    print(f"  best on all conversations (in-sample): {describe(best_all)}: {fmt(scores.mean(best_all))}")
    print("\nper category: defaults in-sample | joint leave-one-out | best-on-all in-sample")
    for category, name in CATEGORIES.items():
        keep = [i for i, a in enumerate(asked) if a.category == category]
        print(f"  {category} {name:<12} n {len(keep):>4}: {fmt(scores.mean(default, keep))} | "
              f"{fmt(pooled(held_rows, keep))} | {fmt(scores.mean(best_all, keep))}")


async def run(path: Path, l1: str, only: Sequence[str] = ()) -> None:
    with tempfile.TemporaryDirectory(prefix="omne-locomo-cv-") as tmp:
        async with await MemoryStore.open(load_settings(data_dir=Path(tmp))) as store:
            asked = await collect(store, path, l1)
            report(asked, store.settings.memory, l1, only)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="a LoCoMo-format JSON file")
    parser.add_argument("--l1", choices=L1_MODES, default="none", help="derived records to store (see locomo_recall.py)")
    parser.add_argument("--knobs", type=lambda s: tuple(k.strip() for k in s.split(",") if k.strip()), default=(),
                        help="check only these knobs (comma-separated names of KNOBS), jointly over them too")
    args = parser.parse_args()
    if not args.path.is_file():
        parser.error(f"no such file: {args.path}")
    if unknown := [k for k in args.knobs if k not in KNOBS]:
        parser.error(f"unknown knobs: {', '.join(unknown)} (known: {', '.join(KNOBS)})")
    asyncio.run(run(args.path, args.l1, args.knobs))


if __name__ == "__main__":
    main()
