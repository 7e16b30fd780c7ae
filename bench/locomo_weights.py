"""How much the default ranking weights owe to the data they were chosen on: leave-one-conversation-out on LoCoMo.

    .venv/bin/python bench/locomo_weights.py ../shared/data/locomo/locomo_dev.json
    .venv/bin/python bench/locomo_weights.py ../shared/data/locomo/locomo_dev.json --l1 observations

The default `FusionWeights`, `session_weight`, `time_weight` and `l1_key_weight` were picked on the same LoCoMo conversations that
`locomo_recall.py` reports on. Here each conversation is held out in turn: the weighting that gives the best
recall@10 (then recall@5) on the other conversations is picked from a grid and scored on the held-out one. The
pooled held-out recall is the estimate for conversations the weights never saw; it is printed beside the
defaults on the same questions. Without `--l1` the grid is the fusion weights x `session_weight` x
`time_weight`; with it, the default fusion weights x `session_weight` x `time_weight` x `l1_key_weight`. Candidates come from the store exactly as
`MemoryStore.search` takes them; only the ranking (`ranking.rank`: fusion, priors, L1 expansion) is re-run per
grid point, so the whole grid costs about one search per question.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# the benchmark next door (bench/ is on sys.path when run as a script)
from locomo_recall import KS, L1_MODES, delivered, derived_records, load_locomo, recall_row

from omne_core.config import FusionWeights, MemorySettings, load_settings
from omne_core.embeddings import aembed
from omne_core.memory import MemoryRecord, MemoryScope, MemoryStore, expansion, indexing
from omne_core.memory.filters import RecordFilter
from omne_core.memory.ranking import rank, record_time
from omne_core.memory.timequery import TimeWindow, query_windows

DEFAULT_WEIGHTS = FusionWeights()  # what MemorySettings.fusion holds unless configured

LEXICAL = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)  # dense weight = 1 - lexical
SPEAKER = (0.0, 0.15, 0.3, 0.45)
SUBSTANCE = (0.0, 0.1, 0.2)
TIME = (0.0, 0.2)
SESSION = (0.0, 0.15, 0.3, 0.45)
L1_KEY = (0.0, 0.15, 0.3, 0.5)


@dataclass(frozen=True)
class Weighting:
    """One grid point: the fusion weights and the query-time weights of `MemorySettings`."""

    fusion: FusionWeights
    time: float
    l1_key: float
    session: float

    def describe(self) -> str:
        w = self.fusion
        return (f"lex {w.lexical:.2f} spk {w.speaker:.2f} sub {w.substance:.2f} "
                f"ses {self.session:.2f} time {self.time:.2f} l1 {self.l1_key:.2f}")


@dataclass
class Asked:
    """One question with everything the ranking needs: its candidates, their records, its time windows, the
    records it may load (cited ones), and the evidence."""

    conversation: str
    query: str
    dense: list[tuple[str, float]]
    lexical: list[tuple[str, float]]
    records: dict[str, MemoryRecord]
    where: RecordFilter
    windows: list[TimeWindow]
    cited: dict[str, MemoryRecord]  # what the L1 candidates cite, in the scope (as the store loads it)
    dia_of: dict[str, set[str]]
    evidence: set[str]


def grid(l1: str) -> list[Weighting]:
    if l1 != "none":
        return [Weighting(DEFAULT_WEIGHTS, t, k, s) for t, k, s in itertools.product(TIME, L1_KEY, SESSION)]
    fusions = [
        FusionWeights(lexical=lex, dense=round(1 - lex, 2), speaker=spk, substance=sub)
        for lex, spk, sub in itertools.product(LEXICAL, SPEAKER, SUBSTANCE)
    ]
    key = MemorySettings().l1_key_weight
    return [Weighting(f, t, key, s) for f, t, s in itertools.product(fusions, TIME, SESSION)]


def recall(asked: Asked, w: Weighting, settings: MemorySettings, now: datetime) -> list[float]:
    tuned = settings.model_copy(update={"time_weight": w.time, "l1_key_weight": w.l1_key, "session_weight": w.session})
    hits = rank(asked.query, asked.dense, asked.lexical, asked.records, asked.where, expansion.loader(asked.cited),
                tuned, now, windows=asked.windows, weights=w.fusion, limit=max(KS))
    return recall_row([delivered(h, asked.dia_of) for h in hits], asked.evidence)


def mean_rows(rows: list[list[float]]) -> list[float]:
    return [sum(r[i] for r in rows) / len(rows) for i in range(len(KS))] if rows else [0.0] * len(KS)


async def collect(store: MemoryStore, path: Path, l1: str) -> list[Asked]:
    """Index every conversation through the public API and keep each question's ranking inputs."""
    asked: list[Asked] = []
    memory = store.settings.memory
    for conv in load_locomo(path):
        scope = MemoryScope(user_id=conv.sample_id)
        stored = await store.add(conv.records, actor="locomo")
        dia_of: dict[str, set[str]] = defaultdict(set)
        for record, dia_id in zip(stored, conv.dia_ids, strict=True):
            dia_of[record.id].add(dia_id)
        derived = derived_records(conv, l1, dict(zip(conv.dia_ids, stored, strict=True)))
        if derived:
            await store.add(derived, actor=f"locomo-{l1}")
        where = fetch = RecordFilter.build(scope)  # every kind: the candidate filter is the search's own
        found = await store.backend.list_records(where, 1)
        newest = record_time(found[0]) if found else None

        async def newest_time(newest: datetime | None = newest) -> datetime | None:
            return newest

        for q in conv.questions:
            embedding = (await aembed(store.embedder, [indexing.query_text(q.text)]))[0]
            dense = await store.backend.dense(embedding, fetch, max(memory.dense_candidates, max(KS)))
            terms = indexing.query_terms(q.text)
            lexical = await store.backend.lexical(terms, fetch, max(memory.lexical_candidates, max(KS)))
            ids = list(dict.fromkeys([rid for rid, _ in dense] + [rid for rid, _ in lexical]))
            records = await store.backend.get_many(ids, fetch)
            cited_ids = expansion.cited_ids(records.values())
            cited = await store.backend.get_many(cited_ids, expansion.provenance_filter(where)) if cited_ids else {}
            windows = await query_windows(q.text, newest_time)
            asked.append(Asked(conv.sample_id, q.text, dense, lexical, records, where, windows, cited, dia_of,
                               q.evidence))
        print(f"{conv.sample_id}: {len(conv.questions)} questions collected", file=sys.stderr)
    return asked


async def run(path: Path, l1: str) -> None:
    with tempfile.TemporaryDirectory(prefix="omne-locomo-cv-") as tmp:
        async with await MemoryStore.open(load_settings(data_dir=Path(tmp))) as store:
            asked = await collect(store, path, l1)
            report(asked, store.settings.memory, l1)


def report(asked: list[Asked], settings: MemorySettings, l1: str) -> None:
    now = datetime.now(UTC)
    candidates = grid(l1)
    default = Weighting(DEFAULT_WEIGHTS, settings.time_weight, settings.l1_key_weight, settings.session_weight)
    scores = {w: [recall(a, w, settings, now) for a in asked] for w in {*candidates, default}}
    conversations = list(dict.fromkeys(a.conversation for a in asked))

    print(f"--l1 {l1}: {len(candidates)} weightings; the default is {default.describe()}")
    picked_header = "".join(f"{'r@' + str(k):>7}" for k in KS)
    default_header = "".join(f"{'def@' + str(k):>7}" for k in KS)
    print(f"{'held out':<10}{'n':>5} | {'weights picked on the others':<66}{picked_header} | {default_header}")
    pooled_picked: list[list[float]] = []
    for held in conversations:
        inside = [i for i, a in enumerate(asked) if a.conversation == held]
        train = [i for i, a in enumerate(asked) if a.conversation != held]

        def train_score(w: Weighting, train: list[int] = train) -> tuple[float, float]:
            means = mean_rows([scores[w][i] for i in train])
            return means[2], means[1]

        best = max(candidates, key=train_score)
        picked = [scores[best][i] for i in inside]
        pooled_picked.extend(picked)
        print(
            f"{held:<10}{len(inside):>5} | {best.describe():<66}"
            + "".join(f"{m:>7.3f}" for m in mean_rows(picked))
            + " | "
            + "".join(f"{m:>7.3f}" for m in mean_rows([scores[default][i] for i in inside]))
        )
    print(
        f"{'pooled':<10}{len(pooled_picked):>5} | {'(each conversation scored with weights picked without it)':<66}"
        + "".join(f"{m:>7.3f}" for m in mean_rows(pooled_picked))
        + " | "
        + "".join(f"{m:>7.3f}" for m in mean_rows(scores[default]))
    )
    best_all = max(candidates, key=lambda w: tuple(mean_rows(scores[w])[i] for i in (2, 1)))
    print(f"best on all conversations: {best_all.describe()}: " + " ".join(
        f"r@{k} {m:.3f}" for k, m in zip(KS, mean_rows(scores[best_all]), strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="a LoCoMo-format JSON file")
    parser.add_argument("--l1", choices=L1_MODES, default="none", help="derived records to store (see locomo_recall.py)")
    args = parser.parse_args()
    if not args.path.is_file():
        parser.error(f"no such file: {args.path}")
    asyncio.run(run(args.path, args.l1))


if __name__ == "__main__":
    main()
