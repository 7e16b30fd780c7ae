"""Usage recording: tokens, latency and cost of every call through the wrapper (scripted model, real ledger)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_core.models import UserMessage

from omne_core.config import ModelPrice, OmneSettings
from omne_core.models import UsageLedger, UsageRecordingChatCompletionClient, price_for
from tests.support.scripted import SCRIPTED_INFO, ScriptedChatClient, result

MSG = [UserMessage(content="What is 2+2?", source="user")]


def wrap(inner, ledger, model="gpt-4o-mini", **kwargs) -> UsageRecordingChatCompletionClient:
    return UsageRecordingChatCompletionClient(inner, ledger, model=model, role="main", provider="openai", **kwargs)


async def test_create_records_tokens_latency_and_cost():
    ledger = UsageLedger({"gpt-4o-mini": ModelPrice(input_per_mtok=0.15, output_per_mtok=0.60)})
    client = wrap(ScriptedChatClient([result("4", 1000, 200), result("5", 3000, 100)], delay_s=0.05), ledger)
    first = await client.create(MSG)
    await client.create(MSG)
    assert first.content == "4"
    records = ledger.records()
    assert [(r.prompt_tokens, r.completion_tokens) for r in records] == [(1000, 200), (3000, 100)]
    assert all(r.latency_s >= 0.05 and r.model == "gpt-4o-mini" and r.role == "main" for r in records)
    assert records[0].cost_usd == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1e6)
    totals = ledger.totals()["gpt-4o-mini"]
    assert (totals.calls, totals.prompt_tokens, totals.completion_tokens, totals.total_tokens) == (2, 4000, 300, 4300)
    assert totals.cost_usd == pytest.approx((4000 * 0.15 + 300 * 0.60) / 1e6)
    assert totals.latency_s >= 0.1


@pytest.fixture
def house_price_file() -> None:
    Path(os.environ["OMNE_CONFIG"]).write_text('[prices."house-model"]\ninput_per_mtok = 2.0\noutput_per_mtok = 4.0\n')


@pytest.mark.usefixtures("house_price_file")
async def test_prices_come_from_settings_and_can_be_overridden():
    ledger = UsageLedger.from_settings(OmneSettings())
    client = wrap(ScriptedChatClient([result("a", 500_000, 250_000), result("b", 1_000_000, 0)]), ledger, model="house-model")
    await client.create(MSG)
    ledger.set_price("house-model", ModelPrice(input_per_mtok=1.0, output_per_mtok=1.0))
    await client.create(MSG)
    first, second = ledger.records()
    assert first.cost_usd == pytest.approx(1.0 + 1.0)
    assert second.cost_usd == pytest.approx(1.0)
    assert ledger.summary().cost_usd == pytest.approx(3.0)


def test_price_lookup_by_dated_model_name():
    prices = {"gpt-4o": ModelPrice(input_per_mtok=1), "gpt-4o-mini": ModelPrice(input_per_mtok=2)}
    assert price_for("gpt-4o-2024-08-06", prices).input_per_mtok == 1
    assert price_for("gpt-4o-mini-2024-07-18", prices).input_per_mtok == 2
    assert price_for("gpt-4omni", prices) is None


async def test_unknown_price_is_reported_not_guessed():
    ledger = UsageLedger({})
    await wrap(ScriptedChatClient([result("x", 10, 5)]), ledger, model="mystery").create(MSG)
    summary = ledger.summary()
    assert ledger.records()[0].cost_usd is None
    assert summary.unpriced_models == ["mystery"] and summary.cost_usd == 0.0 and summary.prompt_tokens == 10


async def test_stream_is_recorded_once_with_final_usage():
    ledger = UsageLedger({})
    inner = ScriptedChatClient([result("two plus two is four", 40, 6)])
    client = wrap(inner, ledger, stream_create_args={"stream_options": {"include_usage": True}})
    chunks = [chunk async for chunk in client.create_stream(MSG, extra_create_args={"temperature": 0})]
    assert "".join(c for c in chunks if isinstance(c, str)).strip() == "two plus two is four"
    assert inner.create_args == [{"stream_options": {"include_usage": True}, "temperature": 0}]
    (record,) = ledger.records()
    assert record.streamed and (record.prompt_tokens, record.completion_tokens) == (40, 6) and not record.estimated


async def test_zero_usage_is_estimated_and_marked():
    ledger = UsageLedger({})
    client = wrap(ScriptedChatClient([result("The answer is four.", 0, 0)]), ledger)
    await client.create(MSG)
    (record,) = ledger.records()
    assert record.estimated
    assert record.prompt_tokens == 7  # the inner client's count_tokens
    assert record.completion_tokens == 5  # cl100k tokens of the answer


async def test_cached_results_cost_nothing():
    ledger = UsageLedger({"gpt-4o-mini": ModelPrice(input_per_mtok=1, output_per_mtok=1)})
    await wrap(ScriptedChatClient([result("4", 100, 10, cached=True)]), ledger).create(MSG)
    (record,) = ledger.records()
    assert record.cached and record.cost_usd == 0.0 and record.prompt_tokens == 100


async def test_failures_are_recorded_and_reraised():
    ledger = UsageLedger({})
    client = wrap(ScriptedChatClient([ConnectionError("endpoint down")], delay_s=0.02), ledger)
    with pytest.raises(ConnectionError):
        await client.create(MSG)
    (record,) = ledger.records()
    assert record.error == "ConnectionError: endpoint down" and record.latency_s >= 0.02
    assert ledger.summary().failed_calls == 1


async def test_abandoned_stream_is_recorded():
    ledger = UsageLedger({})
    client = wrap(ScriptedChatClient([result("one two three four", 10, 4)]), ledger)
    stream = client.create_stream(MSG)
    assert await anext(stream) == "one "
    await stream.aclose()
    (record,) = ledger.records()
    assert record.streamed and record.error == "stream closed before the final result"


async def test_wrapper_delegates_the_client_interface():
    inner = ScriptedChatClient([])
    client = wrap(inner, UsageLedger({}), context_window=100)
    assert client.model_info == SCRIPTED_INFO and client.capabilities == SCRIPTED_INFO
    assert client.count_tokens(MSG * 2) == 14
    assert client.remaining_tokens(MSG * 2) == 86  # own context window, not the inner client's 1000
    assert wrap(inner, UsageLedger({})).remaining_tokens(MSG) == 993
    custom = wrap(inner, UsageLedger({}), token_counter=lambda messages, tools: 42)
    assert custom.count_tokens(MSG) == 42
    await client.close()
    assert inner.closed


async def test_concurrent_calls_from_tasks_and_threads_are_all_recorded():
    ledger = UsageLedger({"m": ModelPrice(input_per_mtok=1, output_per_mtok=1)})
    client = wrap(ScriptedChatClient([result("x", 3, 2) for _ in range(50)], delay_s=0.001), ledger, model="m")
    await asyncio.gather(*(client.create(MSG) for _ in range(50)))

    def hammer() -> None:
        for _ in range(200):
            ledger.record(model="m", prompt_tokens=1, completion_tokens=1, latency_s=0.0)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    totals = ledger.totals()["m"]
    assert totals.calls == 850 and totals.prompt_tokens == 150 + 800 and totals.completion_tokens == 100 + 800


async def test_ledger_json_round_trip(tmp_path):
    ledger = UsageLedger({"gpt-4o-mini": ModelPrice(input_per_mtok=0.15, output_per_mtok=0.6)})
    client = wrap(ScriptedChatClient([result("4", 1000, 10), RuntimeError("boom")]), ledger)
    await client.create(MSG)
    with pytest.raises(RuntimeError):
        await client.create(MSG)
    path = ledger.save(tmp_path / "run" / "usage.json")
    data = json.loads(path.read_text())
    assert data["summary"]["calls"] == 2 and data["summary"]["failed_calls"] == 1
    assert data["summary"]["models"]["gpt-4o-mini"]["prompt_tokens"] == 1000
    loaded = UsageLedger.load(path)
    assert loaded.records() == ledger.records()


async def test_assistant_agent_runs_on_the_wrapper():
    ledger = UsageLedger({})
    client = wrap(ScriptedChatClient([result("Paris.", 25, 2)]), ledger, model="scripted")
    agent = AssistantAgent("assistant", model_client=client, system_message="Answer briefly.")
    task_result = await agent.run(task="Capital of France?")
    assert task_result.messages[-1].content == "Paris."
    (record,) = ledger.records()
    assert (record.model, record.prompt_tokens, record.completion_tokens) == ("scripted", 25, 2)
    assert task_result.messages[-1].models_usage.prompt_tokens == 25
