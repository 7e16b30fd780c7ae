"""Retrieval recall on LoCoMo through the public `MemoryStore` API (no LLM at query time).

    .venv/bin/python bench/locomo_recall.py ../shared/data/locomo/locomo_dev.json [--show-misses N]
    .venv/bin/python bench/locomo_recall.py PATH --distractors 5000 --lexical-budgets none,1000

`--distractors N` first stores N synthetic chat-like sentences (`memory_scale.TextMaker`) in each conversation's
user scope, so the questions are asked in a bigger, noisier store; `--lexical-budgets` asks every question once
per value of `MemoryStore.settings.memory.lexical_max_matches` ("none": no budget) and prints a table for each.

Every dialog turn of a conversation becomes one L0 `message` record (speaker in metadata, the session date
as `event_time`, one session id per LoCoMo session, one user per conversation; an image a turn shares is
kept as its caption). Each question of categories 1-4 is asked with `MemoryStore.search` in that user's
scope; recall@k = |evidence ∩ top-k| / |evidence|, averaged over questions with evidence.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from omne_core.config import load_settings  # noqa: E402
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore  # noqa: E402

KS = (1, 5, 10, 25)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
_SESSION = re.compile(r"session_(\d+)")


@dataclass
class Question:
    text: str
    category: int
    evidence: set[str]


@dataclass
class Conversation:
    sample_id: str
    records: list[MemoryRecord] = field(default_factory=list)
    dia_ids: list[str] = field(default_factory=list)  # dia_id of each record, same order
    questions: list[Question] = field(default_factory=list)


def parse_session_time(text: str) -> datetime | None:
    """'1:56 pm on 8 May, 2023' -> datetime (UTC); None when the format is unknown."""
    try:
        return datetime.strptime(" ".join(text.replace(",", " ").split()), "%I:%M %p on %d %B %Y").replace(
            tzinfo=UTC
        )
    except ValueError:
        return None


def load_locomo(path: Path) -> list[Conversation]:
    """Conversations of a LoCoMo-format JSON file as records (not yet stored) and scored questions."""
    data = json.loads(path.read_text(encoding="utf-8"))
    conversations = []
    for sample in data:
        conv = Conversation(sample_id=str(sample["sample_id"]))
        dialog = sample["conversation"]
        sessions = sorted(int(m.group(1)) for key in dialog if (m := _SESSION.fullmatch(key)))
        for number in sessions:
            when = parse_session_time(dialog.get(f"session_{number}_date_time", ""))
            scope = MemoryScope(user_id=conv.sample_id, session_id=f"{conv.sample_id}/session_{number}")
            for turn in dialog[f"session_{number}"]:
                text = turn["text"].strip()
                if turn.get("blip_caption"):
                    text = f"{text} [image: {turn['blip_caption']}]"
                conv.records.append(
                    MemoryRecord(
                        kind=MemoryKind.MESSAGE,
                        text=text,
                        scope=scope,
                        event_time=when,
                        metadata={"speaker": turn["speaker"], "dia_id": turn["dia_id"]},
                    )
                )
                conv.dia_ids.append(turn["dia_id"])
        for qa in sample.get("qa", []):
            category = qa.get("category")
            evidence = {e for item in qa.get("evidence", []) for e in re.split(r"[;,\s]+", item) if e}
            if category in CATEGORIES and evidence:
                conv.questions.append(Question(qa["question"], category, evidence))
        conversations.append(conv)
    return conversations


def recall_row(ranked: list[set[str]], evidence: set[str]) -> list[float]:
    """recall@k for each k in KS: the share of the evidence turns among the turns of the top k hits."""
    return [len(evidence & set().union(*ranked[:k])) / len(evidence) for k in KS]


async def run(
    path: Path, show_misses: int, distractors: int = 0, budgets: tuple[int | None, ...] = (20_000,)
) -> None:
    conversations = load_locomo(path)
    per_budget: dict[int | None, tuple[dict[int, list[list[float]]], dict[str, list[list[float]]]]] = {
        b: (defaultdict(list), defaultdict(list)) for b in budgets
    }
    misses: list[str] = []
    with tempfile.TemporaryDirectory(prefix="omne-locomo-") as tmp:
        settings = load_settings(data_dir=Path(tmp))
        async with await MemoryStore.open(settings) as store:
            for conv in conversations:
                scope = MemoryScope(user_id=conv.sample_id)
                if distractors:
                    await add_distractors(store, scope, distractors)
                start = time.perf_counter()
                stored = await store.add(conv.records, actor="locomo")
                added = time.perf_counter() - start
                dia_of: dict[str, set[str]] = defaultdict(set)  # exact duplicate turns share one record
                for record, dia_id in zip(stored, conv.dia_ids, strict=True):
                    dia_of[record.id].add(dia_id)
                start = time.perf_counter()
                for budget in budgets:
                    store.settings.memory.lexical_max_matches = budget
                    per_category, per_conversation = per_budget[budget]
                    for q in conv.questions:
                        hits = await store.search(q.text, scope, limit=max(KS))
                        ranked = [dia_of.get(h.record.id, set()) for h in hits]
                        row = recall_row(ranked, q.evidence)
                        per_category[q.category].append(row)
                        per_conversation[conv.sample_id].append(row)
                        if budget == budgets[0] and row[2] < 1.0 and len(misses) < show_misses:
                            missing = sorted(q.evidence - set().union(*ranked[:10]))
                            misses.append(f"[{q.category}] {q.text}  missing {missing}")
                searched = time.perf_counter() - start
                print(
                    f"{conv.sample_id}: {len(conv.records)} turns ({len(dia_of)} records) added in {added:.1f}s; "
                    f"{len(conv.questions)} questions x {len(budgets)} in {searched:.1f}s",
                    file=sys.stderr,
                )
    for budget, (per_category, per_conversation) in per_budget.items():
        if len(budgets) > 1 or distractors:
            print(f"\n{distractors} distractor records per conversation, lexical_max_matches={budget}")
        print_table(per_category, per_conversation)
    for line in misses:
        print("miss:", line)


async def add_distractors(store: MemoryStore, scope: MemoryScope, count: int) -> None:
    """`count` synthetic sentences in the scope (no session), added in batches."""
    from memory_scale import TextMaker  # the benchmark next door (bench/ is on sys.path when run as a script)

    maker = TextMaker(seed=len(scope.user_id) + count)
    texts = [maker.text(i) for i in range(count)]
    for start in range(0, count, 1000):
        batch = [MemoryRecord(kind=MemoryKind.MESSAGE, text=t, scope=scope) for t in texts[start : start + 1000]]
        await store.add(batch, actor="distractor")


def print_table(per_category: dict[int, list[list[float]]], per_conversation: dict[str, list[list[float]]]) -> None:
    table = {"all": [r for rows in per_category.values() for r in rows]}
    table.update({f"{c} {CATEGORIES[c]}": per_category[c] for c in sorted(per_category)})
    table.update(per_conversation)
    print(f"{'questions':<16}{'n':>5}" + "".join(f"{'r@' + str(k):>8}" for k in KS))
    for name, rows in table.items():
        means = [sum(r[i] for r in rows) / len(rows) if rows else 0.0 for i in range(len(KS))]
        print(f"{name:<16}{len(rows):>5}" + "".join(f"{m:>8.3f}" for m in means))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "path", type=Path, help="a LoCoMo-format JSON file (e.g. ../shared/data/locomo/locomo_dev.json)"
    )
    parser.add_argument(
        "--show-misses", type=int, default=0, help="print up to N questions not fully found in the top 10"
    )
    parser.add_argument("--distractors", type=int, default=0, help="synthetic records added per conversation first")
    parser.add_argument(
        "--lexical-budgets",
        type=lambda s: tuple(None if x.strip().lower() == "none" else int(x) for x in s.split(",") if x.strip()),
        default=(20_000,),
        help="comma-separated lexical_max_matches values to ask every question with ('none': no budget)",
    )
    args = parser.parse_args()
    if not args.path.is_file():
        parser.error(f"no such file: {args.path}")
    asyncio.run(run(args.path, args.show_misses, args.distractors, args.lexical_budgets))


if __name__ == "__main__":
    main()
