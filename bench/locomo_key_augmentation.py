"""Would fact-augmented keys pay off on LoCoMo? Each turn indexed together with the observations citing it.

    .venv/bin/python bench/locomo_key_augmentation.py ../shared/data/locomo/locomo_dev.json --keys lexical,dense

LongMemEval (Wu et al. 2024) indexes each session with the facts extracted from it ("fact-augmented key
expansion") and reports about 9 points of recall. This measures the same idea on LoCoMo before building it into
the store: LoCoMo's observations (`locomo_recall.py --l1 observations`) are appended to the index texts of the
turns they cite (`--keys lexical`: the BM25 text, `dense`: the embedded text, or both), the turns alone are
searched (no L1 records stored), and recall@k is printed per category beside the plain index. The store's own
key expansion works at query time instead (`omne_core/memory/expansion.py`, `MemorySettings.l1_key_weight`).
Measured (dev, 383 questions): plain r@10 0.832; lexical 0.833; lexical+dense 0.836 — observations paraphrase one
short turn each, so the key says little the turn does not (LongMemEval's values are whole sessions).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

# the benchmark next door (bench/ is on sys.path when run as a script)
from locomo_recall import CATEGORIES, KS, delivered, load_locomo, recall_row

from omne_core.config import load_settings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore, indexing

PLAIN = indexing.index_text


def augmented(facts_of: dict[str, list[str]], keys: set[str]) -> Callable[..., indexing.IndexedText]:
    """`indexing.index_text` with the facts citing a turn appended to the chosen index texts."""

    def index_text(record: MemoryRecord, previous: Sequence[MemoryRecord] = ()) -> indexing.IndexedText:
        plain = PLAIN(record, previous)
        facts = facts_of.get(str(record.metadata.get("dia_id")), []) if record.kind is MemoryKind.MESSAGE else []
        if not facts:
            return plain
        extra = "\n".join(facts)
        return indexing.IndexedText(
            dense=f"{plain.dense}\n{extra}" if "dense" in keys else plain.dense,
            lexical=f"{plain.lexical}\n{extra}" if "lexical" in keys else plain.lexical,
        )

    return index_text


async def recall(path: Path, keys: set[str]) -> dict[str, list[list[float]]]:
    conversations = load_locomo(path)
    facts_of: dict[str, list[str]] = defaultdict(list)
    for conv in conversations:
        for _, text, cited in conv.observations:
            for dia_id in cited:
                facts_of[dia_id].append(text.strip())
    indexing.index_text = augmented(facts_of, keys) if keys else PLAIN  # the store indexes through this name
    rows: dict[str, list[list[float]]] = defaultdict(list)
    try:
        with tempfile.TemporaryDirectory(prefix="omne-locomo-keys-") as tmp:
            async with await MemoryStore.open(load_settings(data_dir=Path(tmp))) as store:
                for conv in conversations:
                    stored = await store.add(conv.records, actor="locomo")
                    dia_of: dict[str, set[str]] = defaultdict(set)
                    for record, dia_id in zip(stored, conv.dia_ids, strict=True):
                        dia_of[record.id].add(dia_id)
                    for q in conv.questions:
                        hits = await store.search(q.text, MemoryScope(user_id=conv.sample_id), limit=max(KS))
                        row = recall_row([delivered(h, dia_of) for h in hits], q.evidence)
                        rows["all"].append(row)
                        rows[f"{q.category} {CATEGORIES[q.category]}"].append(row)
                    print(f"{conv.sample_id}: {len(conv.questions)} questions", file=sys.stderr)
    finally:
        indexing.index_text = PLAIN
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="a LoCoMo-format JSON file")
    parser.add_argument("--keys", default="lexical,dense", help="index texts to augment: lexical, dense, both, or ''")
    args = parser.parse_args()
    if not args.path.is_file():
        parser.error(f"no such file: {args.path}")
    keys = {k.strip() for k in args.keys.split(",") if k.strip()}
    if keys - {"lexical", "dense"}:
        parser.error("--keys takes lexical and/or dense")
    for variant in (set(), keys) if keys else (set(),):
        rows = asyncio.run(recall(args.path, variant))
        print(f"\nkeys augmented: {', '.join(sorted(variant)) or 'none (plain index)'}")
        print(f"{'questions':<16}{'n':>5}" + "".join(f"{'r@' + str(k):>8}" for k in KS))
        for name in ["all", *sorted(k for k in rows if k != "all")]:
            means = [sum(r[i] for r in rows[name]) / len(rows[name]) for i in range(len(KS))]
            print(f"{name:<16}{len(rows[name]):>5}" + "".join(f"{m:>8.3f}" for m in means))


if __name__ == "__main__":
    main()
