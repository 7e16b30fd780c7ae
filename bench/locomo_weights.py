"""How much the default fusion weights owe to the data they were chosen on: leave-one-conversation-out on LoCoMo.

    .venv/bin/python bench/locomo_weights.py ../shared/data/locomo/locomo_dev.json

The default `FusionWeights` were picked on the same LoCoMo conversations that `locomo_recall.py` reports on.
Here each conversation is held out in turn: the weights that give the best recall@10 (then recall@5) on the
other conversations are picked from a grid and scored on the held-out one. The pooled held-out recall is the
estimate for conversations the weights never saw; it is printed beside the defaults on the same questions.
Candidates come from the store exactly as `MemoryStore.search` takes them; only the fusion is re-run per grid
point, so the whole grid costs about one search per question.
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
from locomo_recall import KS, load_locomo, recall_row

from omne_core.config import FusionWeights, MemorySettings, load_settings
from omne_core.embeddings import aembed
from omne_core.memory import (
    MemoryRecord,
    MemoryScope,
    MemoryStore,
    indexing,
)
from omne_core.memory.filters import RecordFilter
from omne_core.memory.ranking import fuse

DEFAULT_WEIGHTS = FusionWeights()  # what MemorySettings.fusion holds unless configured

LEXICAL = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)  # dense weight = 1 - lexical
SPEAKER = (0.0, 0.15, 0.3, 0.45)
SUBSTANCE = (0.0, 0.1, 0.2)


@dataclass
class Asked:
    """One question with everything the fusion needs: its candidates, their records, and the evidence."""

    conversation: str
    query: str
    dense: list[tuple[str, float]]
    lexical: list[tuple[str, float]]
    records: dict[str, MemoryRecord]
    dia_of: dict[str, set[str]]
    evidence: set[str]


def grid() -> list[FusionWeights]:
    return [
        FusionWeights(lexical=lex, dense=round(1 - lex, 2), speaker=spk, substance=sub)
        for lex, spk, sub in itertools.product(LEXICAL, SPEAKER, SUBSTANCE)
    ]


def recall(asked: Asked, weights: FusionWeights, settings: MemorySettings, now: datetime) -> list[float]:
    hits = fuse(asked.dense, asked.lexical, asked.records, settings, now, asked.query, weights, limit=max(KS))
    return recall_row([asked.dia_of.get(h.record.id, set()) for h in hits], asked.evidence)


def mean_rows(rows: list[list[float]]) -> list[float]:
    return [sum(r[i] for r in rows) / len(rows) for i in range(len(KS))] if rows else [0.0] * len(KS)


async def collect(path: Path) -> tuple[list[Asked], MemorySettings]:
    """Index every conversation through the public API and keep each question's fusion inputs."""
    asked: list[Asked] = []
    with tempfile.TemporaryDirectory(prefix="omne-locomo-cv-") as tmp:
        settings = load_settings(data_dir=Path(tmp))
        async with await MemoryStore.open(settings) as store:
            memory = store.settings.memory
            for conv in load_locomo(path):
                scope = MemoryScope(user_id=conv.sample_id)
                stored = await store.add(conv.records, actor="locomo")
                dia_of: dict[str, set[str]] = defaultdict(set)
                for record, dia_id in zip(stored, conv.dia_ids, strict=True):
                    dia_of[record.id].add(dia_id)
                where = RecordFilter.build(scope)
                for q in conv.questions:
                    embedding = (await aembed(store.embedder, [indexing.query_text(q.text)]))[0]
                    dense = await store.backend.dense(embedding, where, max(memory.dense_candidates, max(KS)))
                    terms = indexing.query_terms(q.text)
                    lexical = await store.backend.lexical(terms, where, max(memory.lexical_candidates, max(KS)))
                    ids = list(dict.fromkeys([rid for rid, _ in dense] + [rid for rid, _ in lexical]))
                    records = await store.backend.get_many(ids, where)
                    asked.append(Asked(conv.sample_id, q.text, dense, lexical, records, dia_of, q.evidence))
                print(f"{conv.sample_id}: {len(conv.questions)} questions collected", file=sys.stderr)
            return asked, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="a LoCoMo-format JSON file")
    args = parser.parse_args()
    asked, settings = asyncio.run(collect(args.path))
    now = datetime.now(UTC)
    candidates = grid()
    scores = {w: [recall(a, w, settings, now) for a in asked] for w in candidates}
    defaults = [recall(a, DEFAULT_WEIGHTS, settings, now) for a in asked]
    conversations = list(dict.fromkeys(a.conversation for a in asked))

    def describe(w: FusionWeights) -> str:
        return f"lexical {w.lexical:.2f} dense {w.dense:.2f} speaker {w.speaker:.2f} substance {w.substance:.2f}"

    print(f"{len(candidates)} weightings; the default is {describe(DEFAULT_WEIGHTS)}")
    picked_header = "".join(f"{'r@' + str(k):>7}" for k in KS)
    default_header = "".join(f"{'def@' + str(k):>7}" for k in KS)
    print(f"{'held out':<10}{'n':>5} | {'weights picked on the others':<62}{picked_header} | {default_header}")
    pooled_picked: list[list[float]] = []
    for held in conversations:
        inside = [i for i, a in enumerate(asked) if a.conversation == held]
        train = [i for i, a in enumerate(asked) if a.conversation != held]

        def train_score(w: FusionWeights, train: list[int] = train) -> tuple[float, float]:
            means = mean_rows([scores[w][i] for i in train])
            return means[2], means[1]

        best = max(candidates, key=train_score)
        picked = [scores[best][i] for i in inside]
        pooled_picked.extend(picked)
        held_default = mean_rows([defaults[i] for i in inside])
        print(
            f"{held:<10}{len(inside):>5} | {describe(best):<62}"
            + "".join(f"{m:>7.3f}" for m in mean_rows(picked))
            + " | "
            + "".join(f"{m:>7.3f}" for m in held_default)
        )
    print(
        f"{'pooled':<10}{len(pooled_picked):>5} | {'(each conversation scored with weights picked without it)':<62}"
        + "".join(f"{m:>7.3f}" for m in mean_rows(pooled_picked))
        + " | "
        + "".join(f"{m:>7.3f}" for m in mean_rows(defaults))
    )
    best_all = max(candidates, key=lambda w: tuple(mean_rows(scores[w])[i] for i in (2, 1)))
    print(f"best on all conversations: {describe(best_all)}: " + " ".join(
        f"r@{k} {m:.3f}" for k, m in zip(KS, mean_rows(scores[best_all]), strict=True)))


if __name__ == "__main__":
    main()
