"""Answer quality on LoCoMo with a model: Omne's context -> an answer -> an LLM judge (the J score).

    .venv/bin/python bench/locomo_qa.py ../shared/data/locomo/locomo_dev.json [--l1 observations] [--k 10]
        [--max-tokens 1000] [--questions 50] [--concurrency 4] [--judge-role main] [--out answers.jsonl]

Needs a configured model (`OMNE_MODELS__MAIN__...`, see the README); the bundled 270M smoke-test model
cannot do this. Each question of categories 1-4 is asked with `MemoryStore.search` in its conversation's scope
(stored as `locomo_recall.py` stores it, with `--l1` conclusions if asked); `build_context` packs the top `k`
hits under `--max-tokens`; the `main` model answers from that context alone; the judge model (`--judge-role`)
compares the answer with the gold answer and says CORRECT or WRONG. The judge is generous the way the J-score
protocol that Mem0, Zep and MemOS report is: the same topic, or the same date however written, is correct.
Printed: accuracy per category and overall, context tokens per question, model tokens, and cost (from the
usage ledger's price table; a model without a price shows as unpriced).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from autogen_core.models import ChatCompletionClient, SystemMessage, UserMessage  # noqa: E402
from locomo_recall import CATEGORIES, L1_MODES, Conversation, Question, derived_records, load_locomo  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from omne_core.config import OmneSettings, load_settings  # noqa: E402
from omne_core.memory import MemoryScope, MemoryStore, build_context  # noqa: E402
from omne_core.models import UsageLedger, create_role_client, extract_json  # noqa: E402

ANSWER_SYSTEM = """You answer a question about a long conversation between two people, using only the memories \
below (excerpts of that conversation and conclusions drawn from it, each with the date it was said). \
Relative times in a memory ("yesterday", "last week") are relative to that memory's date: give the absolute \
date or period when asked when. Answer in a short phrase. If the memories do not say, answer "unknown"."""

JUDGE_SYSTEM = """Your task is to label an answer to a question as CORRECT or WRONG. You are given a question \
about a conversation between two people, the gold (ground truth) answer, and a generated answer. The gold answer \
is usually a short phrase naming the topic asked about. Be generous: if the generated answer names the same \
topic, thing or fact as the gold answer, it is CORRECT, even if it is longer or worded differently. For a \
question about time, the gold answer is a date, month or year; the generated answer may be written differently \
("May 7th" or "7 May 2023"): if it refers to the same date or period, it is CORRECT. \
Answer with JSON only: {"reason": "one sentence", "label": "CORRECT" or "WRONG"}."""

class Graded(BaseModel):
    """One question: the context Omne gave, the model's answer, and the judge's label."""

    conversation: str
    category: int
    question: str
    gold: str
    answer: str = ""
    label: str = ""  # CORRECT, WRONG, or ERROR (the answer or the judge failed; `error` says why)
    error: str = ""
    context_tokens: int = 0

def judge_label(text: str) -> str:
    """CORRECT or WRONG from the judge's answer: its JSON `label`, else the one label word it wrote."""
    try:
        label = str(extract_json(text).get("label", "")).strip().upper()
    except (ValueError, AttributeError):
        label = ""
    if label in {"CORRECT", "WRONG"}:
        return label
    upper = text.upper()
    found = [word for word in ("CORRECT", "WRONG") if word in upper]
    if len(found) != 1:
        raise ValueError(f"the judge gave no single label: {text[:200]!r}")
    return found[0]

async def complete(client: ChatCompletionClient, system: str, user: str) -> str:
    result = await client.create([SystemMessage(content=system), UserMessage(content=user, source="user")])
    if not isinstance(result.content, str):
        raise ValueError("the model answered with a function call instead of text")
    return result.content.strip()

async def grade(
    store: MemoryStore,
    conv: Conversation,
    q: Question,
    answerer: ChatCompletionClient,
    judge: ChatCompletionClient,
    k: int,
    max_tokens: int,
) -> Graded:
    graded = Graded(conversation=conv.sample_id, category=q.category, question=q.text, gold=q.answer)
    hits = await store.search(q.text, MemoryScope(user_id=conv.sample_id), limit=k)
    context = build_context(hits, max_tokens)
    graded.context_tokens = context.tokens
    try:
        graded.answer = await complete(answerer, ANSWER_SYSTEM, f"{context.text or '(no memories)'}\n\nQuestion: {q.text}")
        verdict = await complete(
            judge, JUDGE_SYSTEM, f"Question: {q.text}\nGold answer: {q.answer}\nGenerated answer: {graded.answer}"
        )
        graded.label = judge_label(verdict)
    except Exception as exc:  # one failed call is counted, not fatal: the run goes on
        graded.label, graded.error = "ERROR", f"{type(exc).__name__}: {exc}"
    return graded

async def run(args: argparse.Namespace, settings: OmneSettings) -> list[Graded]:
    ledger = UsageLedger.from_settings(settings)
    answerer = create_role_client(settings, "main", usage=ledger)
    judge = answerer if args.judge_role == "main" else create_role_client(settings, args.judge_role, usage=ledger)
    conversations = load_locomo(args.path)
    gate = asyncio.Semaphore(args.concurrency)
    results: list[Graded] = []
    with tempfile.TemporaryDirectory(prefix="omne-locomo-qa-") as tmp:
        store_settings = settings.model_copy(update={"data_dir": Path(tmp)})
        async with await MemoryStore.open(store_settings) as store:
            for conv in conversations:
                stored = await store.add(conv.records, actor="locomo")
                derived = derived_records(conv, args.l1, dict(zip(conv.dia_ids, stored, strict=True)))
                if derived:
                    await store.add(derived, actor=f"locomo-{args.l1}")
                questions = conv.questions[: args.questions] if args.questions else conv.questions

                async def one(q: Question, conv: Conversation = conv) -> Graded:
                    async with gate:
                        return await grade(store, conv, q, answerer, judge, args.k, args.max_tokens)

                done = await asyncio.gather(*(one(q) for q in questions))
                results.extend(done)
                print(f"{conv.sample_id}: {len(done)} questions graded", file=sys.stderr)
    if args.out:
        args.out.write_text("".join(g.model_dump_json() + "\n" for g in results), encoding="utf-8")
    print_report(results, ledger)
    for client in {id(answerer): answerer, id(judge): judge}.values():
        await client.close()
    return results

def print_report(results: list[Graded], ledger: UsageLedger) -> None:
    groups: dict[str, list[Graded]] = {"all": results}
    for category in sorted({g.category for g in results}):
        groups[f"{category} {CATEGORIES[category]}"] = [g for g in results if g.category == category]
    print(f"{'questions':<16}{'n':>5}{'J':>8}{'errors':>8}{'ctx tok':>9}")
    for name, rows in groups.items():
        judged = [g for g in rows if g.label != "ERROR"]
        accuracy = sum(g.label == "CORRECT" for g in judged) / len(judged) if judged else 0.0
        tokens = sum(g.context_tokens for g in rows) / len(rows) if rows else 0.0
        print(f"{name:<16}{len(rows):>5}{accuracy:>8.3f}{len(rows) - len(judged):>8}{tokens:>9.0f}")
    summary = ledger.summary()
    cost = f"${summary.cost_usd:.4f}" + (f" (unpriced: {', '.join(summary.unpriced_models)})" if summary.unpriced_models else "")
    print(
        f"model calls {summary.calls} (failed {summary.failed_calls}); tokens {summary.prompt_tokens} prompt + "
        f"{summary.completion_tokens} completion; cost {cost}"
    )

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="a LoCoMo-format JSON file")
    parser.add_argument("--l1", choices=L1_MODES, default="none", help="derived records to store (see locomo_recall.py)")
    parser.add_argument("--k", type=int, default=10, help="hits searched per question")
    parser.add_argument("--max-tokens", type=int, default=1000, help="build_context's token budget")
    parser.add_argument("--questions", type=int, default=0, help="at most this many questions per conversation (0: all)")
    parser.add_argument("--concurrency", type=int, default=4, help="questions in flight at once")
    parser.add_argument("--judge-role", choices=("main", "logic_expert"), default="main", help="the judge's model role")
    parser.add_argument("--out", type=Path, help="write every graded question as JSONL")
    args = parser.parse_args(argv)
    if not args.path.is_file():
        parser.error(f"no such file: {args.path}")
    if args.k < 1 or args.max_tokens < 1 or args.concurrency < 1:
        parser.error("--k, --max-tokens and --concurrency must be positive")
    asyncio.run(run(args, load_settings()))

if __name__ == "__main__":
    main()
