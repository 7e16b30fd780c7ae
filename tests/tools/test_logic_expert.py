"""The logic expert with scripted models: prompt, token and time budgets, failures as messages."""

from __future__ import annotations

import asyncio
import time

import pytest
from autogen_core import CancellationToken
from autogen_ext.models.replay import ReplayChatCompletionClient

from omne_tools import logic_expert_tool
from omne_tools.logic_expert import LogicExpert, LogicExpertError

from .agent_view import tool_text


class SlowModel(ReplayChatCompletionClient):
    async def create(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        await asyncio.sleep(5)
        return await super().create(*args, **kwargs)


async def test_problem_sent_with_budget_and_answer_returned():
    model = ReplayChatCompletionClient(
        ["Knights tell the truth, so A is a knave.\nFINAL ANSWER: A is a knave"]
    )
    expert = LogicExpert(model, max_answer_tokens=321)
    answer = await expert.solve("A says: 'I am a knave.' Can A exist on the island of knights and knaves?")
    assert answer.endswith("FINAL ANSWER: A is a knave")
    call = model.create_calls[0]
    assert call["extra_create_args"] == {"max_tokens": 321}
    system, user = call["messages"]
    assert "FINAL ANSWER" in system.content and "I am a knave" in user.content


async def test_over_budget_problem_refused_without_calling_model():
    model = ReplayChatCompletionClient(["never"])
    with pytest.raises(LogicExpertError, match="over the 50-token budget"):
        await LogicExpert(model, max_problem_tokens=50).solve("word " * 500)
    assert model.create_calls == []
    assert "empty" in await tool_text(logic_expert_tool(LogicExpert(model)), problem="   ")


async def test_long_answer_truncated_to_budget():
    model = ReplayChatCompletionClient([" ".join(f"step{i}" for i in range(2000))])
    answer = await LogicExpert(model, max_answer_tokens=50).solve("Count.")
    assert answer.endswith("[answer truncated to the token budget]") and "step1999" not in answer


async def test_timeout_and_failure_become_messages():
    token = CancellationToken()
    started = time.monotonic()
    with pytest.raises(LogicExpertError) as late:
        await LogicExpert(SlowModel(["late"]), timeout_s=0.2).solve("1+1?", token)
    assert late.value.agent_text() == "Logic expert error: no answer within 0.2 s."
    assert time.monotonic() - started < 2 and token.is_cancelled()
    failed = await tool_text(logic_expert_tool(LogicExpert(ReplayChatCompletionClient([]))), problem="1+1?")
    assert failed.startswith("Logic expert error: the model call failed (ValueError: No more mock responses")
