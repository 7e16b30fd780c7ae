"""Retrieval recall on LoCoMo through the public `MemoryStore` API (no LLM at query time).

    .venv/bin/python bench/locomo_recall.py ../shared/data/locomo/locomo_dev.json [--show-misses N]
    .venv/bin/python bench/locomo_recall.py PATH --distractors 5000 --lexical-budgets none,1000
    .venv/bin/python bench/locomo_recall.py PATH --backend postgres    # the embedded and PostgreSQL backends
    .venv/bin/python bench/locomo_recall.py PATH --l1 observations   # or: --l1 summaries
    .venv/bin/python bench/locomo_recall.py PATH --l1 observations --kinds message   # L1 records as keys only

`--distractors N` first stores N synthetic chat-like sentences (`memory_scale.TextMaker`) in each conversation's
user scope, so the questions are asked in a bigger, noisier store; `--lexical-budgets` asks every question once
per value of `MemoryStore.settings.memory.lexical_max_matches` ("none": no budget) and prints a table for each.

Every dialog turn of a conversation becomes one L0 `message` record (speaker in metadata, the session date
as `event_time`, one session id per LoCoMo session, one user per conversation; an image a turn shares is
kept as its caption). Each question of categories 1-4 is asked with `MemoryStore.search` in that user's
scope; recall@k = |evidence ∩ top-k| / |evidence|, averaged over questions with evidence.

`--l1 observations` also stores LoCoMo's `observation` lists as L1 `fact` records, `--l1 summaries` its session
summaries as L1 `summary` records, as `reflect`/`summarize_session` would write them (facts in the user's scope,
summaries in their session's), each citing its L0 records in `source_ids`. A hit delivers its own turn, or,
for an L1 record, the turns its sources are. Below the recall table, per k: the tokens `build_context` would
inject for the top k hits (with the sources L1 hits carry, no budget), and `shown r@k`, the share of evidence
turns whose own text is in that context (a conclusion alone does not count there). Last, recall within a context
budget (500, 1000, 1500 tokens): the evidence delivered by what `build_context` packs under it from the first 50
hits, however many hits fit (conclusions are shorter than turns). `--kinds message` searches
raw turns only: the conclusions then work as keys (`MemorySettings.l1_key_weight`), never as hits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from omne_core.config import load_settings  # noqa: E402
from omne_core.memory import (  # noqa: E402
    MemoryKind,
    MemoryLevel,
    MemoryRecord,
    MemoryScope,
    MemoryStore,
    SearchHit,
    build_context,
)
from omne_core.memory.reflection import speakers_metadata  # noqa: E402

KS = (1, 5, 10, 25)
BUDGETS = (500, 1000, 1500)  # context token budgets: recall of what `build_context` packs under each
SEARCHED = 50  # hits asked per question: the first max(KS) give recall@k, all of them fill the budgets
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
_SESSION = re.compile(r"session_(\d+)")
_OBSERVATION = re.compile(r"session_(\d+)_observation")
_SUMMARY = re.compile(r"session_(\d+)_summary")
L1_MODES = ("none", "observations", "summaries")
UNBOUNDED = 1_000_000  # a context budget no question reaches: tokens are measured, not capped


@dataclass
class Question:
    text: str
    category: int
    evidence: set[str]
    answer: str = ""


@dataclass
class Conversation:
    sample_id: str
    records: list[MemoryRecord] = field(default_factory=list)
    dia_ids: list[str] = field(default_factory=list)  # dia_id of each record, same order
    questions: list[Question] = field(default_factory=list)
    # LLM-written conclusions: (session number, text, cited dia_ids)
    observations: list[tuple[int, str, list[str]]] = field(default_factory=list)
    summaries: list[tuple[int, str, list[str]]] = field(default_factory=list)


def parse_session_time(text: str) -> datetime | None:
    """'1:56 pm on 8 May, 2023' -> datetime (UTC); None when the format is unknown."""
    try:
        return datetime.strptime(" ".join(text.replace(",", " ").split()), "%I:%M %p on %d %B %Y").replace(
            tzinfo=UTC
        )
    except ValueError:
        return None


def dia_ids_in(evidence: object) -> list[str]:
    """The dia_ids an evidence field names ("D1:3", "D1:3; D2:4", a list of them)."""
    items = evidence if isinstance(evidence, list) else [evidence]
    return [e for item in items for e in re.split(r"[;,\s]+", str(item)) if e]


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
        for key, per_speaker in sample.get("observation", {}).items():
            if m := _OBSERVATION.fullmatch(key):
                for pairs in per_speaker.values():
                    conv.observations.extend((int(m.group(1)), text, dia_ids_in(cited)) for text, cited in pairs)
        for key, text in sample.get("session_summary", {}).items():
            if (m := _SUMMARY.fullmatch(key)) and text.strip():
                number = int(m.group(1))
                cited = [t["dia_id"] for t in dialog.get(f"session_{number}", [])]
                conv.summaries.append((number, text.strip(), cited))
        for qa in sample.get("qa", []):
            category = qa.get("category")
            evidence = set(dia_ids_in(qa.get("evidence", [])))
            if category in CATEGORIES and evidence:
                conv.questions.append(Question(qa["question"], category, evidence, str(qa.get("answer", ""))))
        conversations.append(conv)
    return conversations


def derived_records(conv: Conversation, mode: str, record_of: dict[str, MemoryRecord]) -> list[MemoryRecord]:
    """The conversation's L1 records for `--l1 mode`, as reflection writes them: each cites the stored L0
    records of its turns; its event time is its latest source's. Conclusions citing no known turn are left out."""
    if mode == "none":
        return []
    kind = MemoryKind.FACT if mode == "observations" else MemoryKind.SUMMARY
    out = []
    for number, text, cited in conv.observations if mode == "observations" else conv.summaries:
        sources = list({record_of[d].id: record_of[d] for d in cited if d in record_of}.values())
        if not sources or not text.strip():
            continue
        scope = MemoryScope(user_id=conv.sample_id)
        if kind is MemoryKind.SUMMARY:
            scope = scope.model_copy(update={"session_id": f"{conv.sample_id}/session_{number}"})
        times = [r.event_time for r in sources if r.event_time]
        out.append(
            MemoryRecord(
                kind=kind,
                text=text.strip(),
                scope=scope,
                source_ids=[r.id for r in sources],
                event_time=max(times) if times else None,
                metadata={"derived_by": f"locomo-{mode}", **speakers_metadata(sources)},
            )
        )
    return out


def delivered(hit: SearchHit, dia_of: dict[str, set[str]]) -> set[str]:
    """The turns a hit delivers: its own, or for an L1 record the turns its sources are."""
    record = hit.record
    if record.level is MemoryLevel.L1:
        return set().union(*(dia_of.get(sid, set()) for sid in record.source_ids))
    return dia_of.get(record.id, set())


def recall_row(ranked: list[set[str]], evidence: set[str]) -> list[float]:
    """recall@k for each k in KS: the share of the evidence turns among the turns of the top k hits."""
    return [len(evidence & set().union(*ranked[:k])) / len(evidence) for k in KS]


def budget_row(hits: list[SearchHit], dia_of: dict[str, set[str]], evidence: set[str]) -> list[float]:
    """Per budget in BUDGETS: the share of the evidence turns delivered by the records `build_context` packs
    under it (hits in rank order, then the sources of L1 hits with what is left), however many hits that is."""
    by_id = {h.record.id: h for h in hits}
    out = []
    for budget in BUDGETS:
        packed = build_context(hits, budget).record_ids
        turns = set().union(*(delivered(by_id[rid], dia_of) if rid in by_id else dia_of.get(rid, set())
                              for rid in packed))  # fmt: skip
        out.append(len(evidence & turns) / len(evidence))
    return out


def context_row(hits: list[SearchHit], dia_of: dict[str, set[str]], evidence: set[str]) -> list[float]:
    """Per k in KS: the tokens `build_context` injects for the top k hits, then the share of the evidence turns
    whose own text is in that context."""
    tokens, shown = [], []
    for k in KS:
        context = build_context(hits[:k], UNBOUNDED)
        tokens.append(float(context.tokens))
        turns = set().union(*(dia_of.get(rid, set()) for rid in context.record_ids))
        shown.append(len(evidence & turns) / len(evidence))
    return tokens + shown


async def run(
    path: Path,
    show_misses: int,
    distractors: int = 0,
    budgets: tuple[int | None, ...] = (20_000,),
    l1: str = "none",
    kinds: list[MemoryKind] | None = None,
    backend: str = "embedded",
    postgres_url: str | None = None,
) -> None:
    conversations = load_locomo(path)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="omne-locomo-")))
        stores = {"embedded": load_settings(data_dir=tmp / "embedded")}
        if backend == "postgres":  # the embedded store first, then the same questions on PostgreSQL
            if postgres_url is None:
                from memory_scale import bundled_postgres  # the benchmark next door

                postgres_url = stack.enter_context(bundled_postgres()).url
            stores["postgres"] = load_settings(
                data_dir=tmp / "postgres",
                store={"backend": "postgres", "postgres_url": postgres_url, "postgres_schema": f"locomo_{os.getpid()}"},
            )
        overall: dict[str, list[float]] = {}
        for name, settings in stores.items():
            if len(stores) > 1:
                print(f"\n== {name} backend ==")
            overall[name] = await evaluate(settings, conversations, show_misses, distractors, budgets, l1, kinds)
    if len(overall) > 1:
        from memory_scale import uptime

        print("\nrecall@k, all questions (first lexical budget):")
        for name, means in overall.items():
            print(f"{name:<10}" + "".join(f"  r@{k}={m:.3f}" for k, m in zip(KS, means, strict=True)))
        e, p = overall["embedded"], overall["postgres"]
        print("postgres - embedded" + "".join(f"  r@{k}={b - a:+.3f}" for k, a, b in zip(KS, e, p, strict=True)))
        print("uptime:", uptime())


async def evaluate(
    settings: Any,
    conversations: list[Conversation],
    show_misses: int,
    distractors: int,
    budgets: tuple[int | None, ...],
    l1: str,
    kinds: list[MemoryKind] | None,
) -> list[float]:
    """Store every conversation, ask its questions, print the tables; returns the overall recall@k (first budget)."""
    per_budget: dict[int | None, tuple[dict[int, list[list[float]]], dict[str, list[list[float]]]]] = {
        b: (defaultdict(list), defaultdict(list)) for b in budgets
    }
    contexts: list[list[float]] = []
    within: dict[int, list[list[float]]] = defaultdict(list)  # per category, recall within each of BUDGETS
    misses: list[str] = []
    async with await MemoryStore.open(settings) as store:
        for conv in conversations:
            scope = MemoryScope(user_id=conv.sample_id)
            if distractors:
                await add_distractors(store, scope, distractors)
            start = time.perf_counter()
            stored = await store.add(conv.records, actor="locomo")
            dia_of: dict[str, set[str]] = defaultdict(set)  # exact duplicate turns share one record
            for record, dia_id in zip(stored, conv.dia_ids, strict=True):
                dia_of[record.id].add(dia_id)
            derived = derived_records(conv, l1, dict(zip(conv.dia_ids, stored, strict=True)))
            if derived:
                await store.add(derived, actor=f"locomo-{l1}")
            added = time.perf_counter() - start
            start = time.perf_counter()
            for budget in budgets:
                store.settings.memory.lexical_max_matches = budget
                per_category, per_conversation = per_budget[budget]
                for q in conv.questions:
                    hits = await store.search(q.text, scope, limit=SEARCHED, kinds=kinds)
                    ranked = [delivered(h, dia_of) for h in hits[: max(KS)]]
                    row = recall_row(ranked, q.evidence)
                    if budget == budgets[0]:
                        contexts.append(context_row(hits[: max(KS)], dia_of, q.evidence))
                        within[q.category].append(budget_row(hits, dia_of, q.evidence))
                    per_category[q.category].append(row)
                    per_conversation[conv.sample_id].append(row)
                    if budget == budgets[0] and row[2] < 1.0 and len(misses) < show_misses:
                        missing = sorted(q.evidence - set().union(*ranked[:10]))
                        misses.append(f"[{q.category}] {q.text}  missing {missing}")
            searched = time.perf_counter() - start
            print(
                f"{conv.sample_id}: {len(conv.records)} turns ({len(dia_of)} records) and {len(derived)} L1 "
                f"records added in {added:.1f}s; "
                f"{len(conv.questions)} questions x {len(budgets)} in {searched:.1f}s",
                file=sys.stderr,
            )
    for budget, (per_category, per_conversation) in per_budget.items():
        if len(budgets) > 1 or distractors:
            print(f"\n{distractors} distractor records per conversation, lexical_max_matches={budget}")
        print_table(per_category, per_conversation)
    means = [sum(row[i] for row in contexts) / len(contexts) for i in range(2 * len(KS))] if contexts else []
    if means:
        print(f"{'context':<21}" + "".join(f"{'@' + str(k):>8}" for k in KS))
        print(f"{'tokens/question':<21}" + "".join(f"{m:>8.0f}" for m in means[: len(KS)]))
        print(f"{'shown r@k':<21}" + "".join(f"{m:>8.3f}" for m in means[len(KS) :]))
    if within:
        print("\nrecall within a context budget (build_context packs hits in rank order under it):")
        print(f"{'questions':<16}{'n':>5}" + "".join(f"{str(b) + ' tok':>10}" for b in BUDGETS))
        table = {"all": [r for rows in within.values() for r in rows]}
        table.update({f"{c} {CATEGORIES[c]}": within[c] for c in sorted(within)})
        for name, rows in table.items():
            print(f"{name:<16}{len(rows):>5}" + "".join(
                f"{sum(r[i] for r in rows) / len(rows):>10.3f}" for i in range(len(BUDGETS))))
    for line in misses:
        print("miss:", line)
    rows = [r for rows in per_budget[budgets[0]][0].values() for r in rows]
    return [sum(r[i] for r in rows) / len(rows) if rows else 0.0 for i in range(len(KS))]


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
    parser.add_argument(
        "--l1", choices=L1_MODES, default="none",
        help="also store LoCoMo's observations (as L1 facts) or session summaries (as L1 summaries), citing their turns",
    )
    parser.add_argument(
        "--kinds", type=lambda s: [MemoryKind(k.strip()) for k in s.split(",") if k.strip()], default=None,
        help="comma-separated record kinds to search (e.g. 'message': L1 records then only serve as keys)",
    )
    parser.add_argument(
        "--backend", choices=["embedded", "postgres"], default="embedded",
        help="postgres: the same questions on a PostgreSQL store too (pgserver's, or --postgres-url), side by side",
    )  # fmt: skip
    parser.add_argument("--postgres-url", default=None, help="a PostgreSQL server with pgvector")
    args = parser.parse_args()
    if not args.path.is_file():
        parser.error(f"no such file: {args.path}")
    asyncio.run(
        run(args.path, args.show_misses, args.distractors, args.lexical_budgets, args.l1, args.kinds, args.backend,
            args.postgres_url)  # fmt: skip
    )


if __name__ == "__main__":
    main()
