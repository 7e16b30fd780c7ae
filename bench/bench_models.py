"""Model-layer figures: offline token counting speed, usage-recording overhead, embedded Gemma load and speed.

    .venv/bin/python bench/bench_models.py [--data-dir DIR] [--tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from autogen_core.models import CreateResult, RequestUsage, UserMessage
from autogen_ext.models.replay import ReplayChatCompletionClient

from omne_core.config import OmneSettings
from omne_core.models import UsageLedger, UsageRecordingChatCompletionClient, count_tokens, create_role_client


def bench_tokens() -> None:
    text = ("Omne gives AutoGen agents long-term memory: raw data and the conclusions derived from it. " * 200).strip()
    count_tokens(text)  # load the encoding
    runs = 20
    start = time.perf_counter()
    for _ in range(runs):
        n = count_tokens(text, "gpt-4o")
    seconds = (time.perf_counter() - start) / runs
    print(f"offline token counting: {n} tokens in {seconds * 1000:.2f} ms ({n / seconds / 1e6:.2f} M tokens/s)")


async def bench_recording_overhead(calls: int = 2000) -> None:
    answers = [
        CreateResult(content="ok", usage=RequestUsage(prompt_tokens=10, completion_tokens=1), finish_reason="stop", cached=False)
    ] * calls
    messages = [UserMessage(content="hi", source="user")]
    bare = ReplayChatCompletionClient(list(answers))
    start = time.perf_counter()
    for _ in range(calls):
        await bare.create(messages)
    bare_s = time.perf_counter() - start
    wrapped = UsageRecordingChatCompletionClient(ReplayChatCompletionClient(list(answers)), UsageLedger(), model="replay")
    start = time.perf_counter()
    for _ in range(calls):
        await wrapped.create(messages)
    wrapped_s = time.perf_counter() - start
    print(f"usage recording overhead: {(wrapped_s - bare_s) / calls * 1e6:.1f} us per call ({calls} calls)")


async def bench_llamacpp(data_dir: Path, tokens: int) -> None:
    settings = OmneSettings(data_dir=data_dir)
    start = time.perf_counter()
    ledger = UsageLedger.from_settings(settings)
    client = create_role_client(settings, "main", usage=ledger)
    print(f"embedded Gemma 3 270M: assemble (first time) + load {time.perf_counter() - start:.2f} s")
    prompt = [UserMessage(content="Write a short story about a lighthouse keeper.", source="user")]
    latencies = []
    for _ in range(3):
        start = time.perf_counter()
        result = await client.create(prompt, extra_create_args={"max_tokens": tokens, "temperature": 0.0})
        latencies.append(time.perf_counter() - start)
    completion = result.usage.completion_tokens
    median = statistics.median(latencies)
    print(
        f"embedded Gemma 3 270M: {result.usage.prompt_tokens} prompt + {completion} completion tokens, "
        f"median {median:.2f} s per call ({completion / median:.1f} tokens/s incl. prompt)"
    )
    summary = ledger.summary()
    print(f"ledger: {summary.calls} calls, {summary.total_tokens} tokens, ${summary.cost_usd:.4f}")
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="where the bundled GGUF is assembled (default: temp)")
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    bench_tokens()
    asyncio.run(bench_recording_overhead())
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench_llamacpp(args.data_dir or Path(tmp), args.tokens))


if __name__ == "__main__":
    main()
