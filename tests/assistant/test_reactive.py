"""Reactive Responder: plan, act with real FunctionTools, re-plan on failure, budgets, model faults (model scripted)."""

from __future__ import annotations

import httpx
import openai
from autogen_agentchat.messages import TextMessage, ThoughtEvent, ToolCallExecutionEvent
from autogen_core.tools import FunctionTool

from omne_assistant import ReactiveResponder, RetryPolicy, TaskBudget
from omne_core.models import ModelFaultKind
from tests.support.scripted import calls, check, lesson, plan, prompts_text, scripted

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0)


def make_tools(log: list[str]):
    async def add(a: int, b: int) -> int:
        """Add two integers."""
        log.append(f"add({a},{b})")
        return a + b

    async def lookup(key: str) -> str:
        """Look a key up in the catalogue."""
        log.append(f"lookup({key})")
        if key == "broken":
            raise ConnectionError("catalogue unreachable")
        return {"pi": "3.14159"}.get(key, "not found")

    return [FunctionTool(add, description="Add two integers."), FunctionTool(lookup, description="Look up a key.")]


async def test_plan_act_check_answer_with_real_tools():
    log: list[str] = []
    client = scripted(
        plan("sum of 2 and 3", ["add 2 and 3", "answer"], ["integer"]),
        calls(("add", {"a": 2, "b": 3})),
        "FINAL ANSWER: 5",
        check(True, "5"),
    )
    agent = ReactiveResponder("solver", client, make_tools(log), retry=FAST)
    result = await agent.solve("What is 2 + 3?")
    assert result.status == "answered" and result.answer == "5"
    assert log == ["add(2,3)"]
    assert result.plans == [["add 2 and 3", "answer"]]
    # the act-phase model call after the tool saw the tool's real output
    assert '"content": "5", "name": "add"' in prompts_text(client, 2)
    assert "1. add 2 and 3" in prompts_text(client, 1)
    assert result.steps == 2 and result.tokens > 0


async def test_replans_after_a_tool_fails_and_recovers():
    log: list[str] = []
    client = scripted(
        plan("value of pi", ["lookup broken source", "answer"]),
        calls(("lookup", {"key": "broken"})),
        '{"reason": "the catalogue source failed", "steps": ["lookup pi directly", "answer"]}',
        calls(("lookup", {"key": "pi"})),
        "FINAL ANSWER: 3.14159",
        check(True, "3.14159"),
    )
    agent = ReactiveResponder("solver", client, make_tools(log), retry=FAST)
    events = [e async for e in agent.solve_stream("What is pi to 5 decimals?", _token())]
    result = events[-1]
    assert result.status == "answered" and result.answer == "3.14159"
    assert log == ["lookup(broken)", "lookup(pi)"]
    assert result.plans[1] == ["lookup pi directly", "answer"]
    failed = [r for r in result.trace if not r.ok]
    assert failed and "catalogue unreachable" in failed[0].detail
    # the error went back to the model, and the revised plan is in what it saw next
    executions = [e for e in events if isinstance(e, ToolCallExecutionEvent)]
    assert executions[0].content[0].is_error
    assert "Revised plan" in prompts_text(client, 3) and "lookup pi directly" in prompts_text(client, 3)
    assert any(isinstance(e, ThoughtEvent) and e.content.startswith("Re-plan") for e in events)


async def test_stops_at_step_budget_with_clear_result():
    log: list[str] = []
    client = scripted(
        plan("count", ["add forever"]),
        calls(("add", {"a": 1, "b": 1})),
        calls(("add", {"a": 1, "b": 2})),
        calls(("add", {"a": 1, "b": 3})),
    )
    agent = ReactiveResponder("solver", client, make_tools(log), budget=TaskBudget(max_steps=2), retry=FAST)
    response = await agent.run(task="Count without end")
    final = response.messages[-1]
    assert isinstance(final, TextMessage)
    assert final.metadata["status"] == "budget_exhausted"
    assert "step budget of 2 steps reached" in final.content
    assert log == ["add(1,1)", "add(1,2)"]  # the third call was never made
    assert len(client.create_calls) == 3


async def test_malformed_tool_call_is_reported_to_the_model_not_raised():
    log: list[str] = []
    client = scripted(
        plan("sum", ["add"]),
        calls(("add", '{"a": 2, "b": ')),  # truncated JSON arguments
        '{"reason": "bad arguments", "steps": ["add with valid JSON"]}',
        calls(("nope", {"x": 1})),  # unknown tool
        '{"reason": "unknown tool", "steps": ["use add"]}',
        calls(("add", {"a": 2, "b": 2})),
        "FINAL ANSWER: 4",
        check(True, "4"),
    )
    agent = ReactiveResponder("solver", client, make_tools(log), retry=FAST)
    result = await agent.solve("2+2?")
    assert result.status == "answered" and result.answer == "4"
    errors = [r.detail for r in result.trace if not r.ok]
    assert any("not valid JSON" in e for e in errors) and any("unknown tool 'nope'" in e for e in errors)
    assert log == ["add(2,2)"]


async def test_malformed_json_plan_is_retried_then_accepted():
    client = scripted("Sure! Here is my plan: step one...", plan("x", ["answer"]), "FINAL ANSWER: 7", check(True, "7"))
    result = await ReactiveResponder("solver", client, [], retry=FAST).solve("Say 7")
    assert result.status == "answered" and result.answer == "7"
    assert "not valid" in prompts_text(client, 1)  # the model was told what was wrong


async def test_check_rejection_sends_the_model_back_to_work():
    client = scripted(
        plan("x", ["answer"], ["in metres"], "number with unit m"),
        "FINAL ANSWER: 12 feet",
        check(False, "12 feet", ["not in metres"]),
        "FINAL ANSWER: 3.66 m",
        check(True, "3.66 m"),
    )
    result = await ReactiveResponder("solver", client, [], retry=FAST).solve("How long is 12 feet in metres?")
    assert result.answer == "3.66 m"
    assert "not in metres" in prompts_text(client, 3)


class _FaultyClient:
    """Wraps a scripted client and raises the given exceptions on the first calls."""

    def __init__(self, inner, faults):
        self._inner, self._faults = inner, list(faults)
        self.model_info = inner.model_info

    async def create(self, messages, **kwargs):
        if self._faults:
            raise self._faults.pop(0)
        return await self._inner.create(messages, **kwargs)


def _rate_limit() -> openai.RateLimitError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    return openai.RateLimitError("Rate limit reached", response=httpx.Response(429, request=request), body=None)


async def test_rate_limits_and_timeouts_are_retried_with_backoff():
    inner = scripted(plan("x", ["answer"]), "FINAL ANSWER: ok", check(True, "ok"))
    client = _FaultyClient(inner, [_rate_limit(), TimeoutError("slow")])
    result = await ReactiveResponder("solver", client, [], retry=FAST).solve("Say ok")  # type: ignore[arg-type]
    assert result.status == "answered" and result.answer == "ok"


async def test_persistent_rate_limit_ends_with_a_clear_model_error():
    inner = scripted(plan("x", ["answer"]))
    client = _FaultyClient(inner, [_rate_limit() for _ in range(3)])
    agent = ReactiveResponder("solver", client, [], retry=FAST)  # type: ignore[arg-type]
    response = await agent.run(task="Say ok")
    final = response.messages[-1]
    assert final.metadata["status"] == "model_error"
    assert ModelFaultKind.RATE_LIMIT.value in final.content and "3 attempt" in final.content


def _token():
    from autogen_core import CancellationToken

    return CancellationToken()


async def test_a_later_task_retrieves_the_experience_an_earlier_task_stored(store):
    from autogen_agentchat.messages import MemoryQueryEvent

    from omne_core.memory import MemoryKind, MemoryScope

    scope = MemoryScope(user_id="u", agent_id="solver")
    log: list[str] = []
    first = scripted(
        plan("pi", ["lookup broken", "answer"]),
        calls(("lookup", {"key": "broken"})),
        '{"reason": "source down", "steps": ["lookup pi"]}',
        calls(("lookup", {"key": "pi"})),
        "FINAL ANSWER: 3.14159",
        check(True, "3.14159"),
        lesson("For constants, call lookup with the constant's name; the 'broken' source is down.",
               worked="lookup pi", failed="lookup broken"),
    )  # fmt: skip
    agent = ReactiveResponder("solver", first, make_tools(log), memory=store, scope=scope, retry=FAST)
    r1 = await agent.solve("What is the value of pi to 5 decimals?")
    assert r1.status == "answered" and r1.experience_id

    experience = await store.get(r1.experience_id)
    assert experience.kind is MemoryKind.EXPERIENCE
    assert "What failed: lookup broken" in experience.text and "the 'broken' source is down" in experience.text
    trace = await store.get(experience.source_ids[0])  # the L1 experience cites the L0 trace of the task
    assert trace.kind is MemoryKind.EVENT and "catalogue unreachable" in trace.text

    second = scripted(plan("e", ["lookup e"]), "FINAL ANSWER: 2.71828", check(True, "2.71828"), lesson("ok"))
    agent2 = ReactiveResponder("solver", second, make_tools(log), memory=store, scope=scope, retry=FAST)
    events = [e async for e in agent2.solve_stream("What is the value of e to 5 decimals?", _token())]
    r2 = events[-1]
    assert r1.experience_id in r2.experiences_used
    assert any(isinstance(e, MemoryQueryEvent) and r1.experience_id in [c.metadata["id"] for c in e.content] for e in events)
    assert "the 'broken' source is down" in prompts_text(second, 0)  # the planner saw the lesson


async def test_malformed_lesson_falls_back_to_a_trace_based_experience(store):
    from omne_core.memory import MemoryScope

    scope = MemoryScope(user_id="u", agent_id="solver")
    client = scripted(plan("x", ["answer"]), "FINAL ANSWER: 1", check(True, "1"), "not json", "still not json", "nope")
    agent = ReactiveResponder("solver", client, [], memory=store, scope=scope, retry=FAST)
    result = await agent.solve("Say 1")
    assert result.status == "answered"
    experience = await store.get(result.experience_id)
    assert "Ended answered" in experience.text


async def test_time_budget_stops_a_hanging_model_with_a_clear_result():
    import asyncio
    import time

    class Hangs:
        model_info = scripted().model_info
        cancelled = False

        async def create(self, messages, cancellation_token=None, **kwargs):
            try:
                await asyncio.sleep(60)
            finally:
                Hangs.cancelled = bool(cancellation_token and cancellation_token.is_cancelled())

    agent = ReactiveResponder("solver", Hangs(), [], budget=TaskBudget(max_seconds=0.5), retry=FAST)  # type: ignore[arg-type]
    started = time.monotonic()
    result = await agent.solve("anything")
    assert time.monotonic() - started < 5
    assert result.status == "budget_exhausted" and "time budget of 0.5 s reached" in result.reason
    assert Hangs.cancelled  # the model call was told to stop, not left running


async def test_a_stalled_step_repeating_the_same_call_triggers_a_replan():
    log: list[str] = []
    client = scripted(
        plan("sum", ["add 1 and 1"]),
        calls(("add", {"a": 1, "b": 1})),
        calls(("add", {"a": 1, "b": 1})),  # the same call again: no progress
        '{"reason": "repeating the same call", "steps": ["answer with the sum already found"]}',
        "FINAL ANSWER: 2",
        check(True, "2"),
    )
    result = await ReactiveResponder("solver", client, make_tools(log), retry=FAST).solve("1+1?")
    assert result.status == "answered" and result.answer == "2"
    assert [r.detail for r in result.trace if r.kind == "replan"] == [
        "the same tool call was repeated -> repeating the same call"
    ]
    assert len(result.plans) == 2


async def test_a_tool_call_where_json_was_expected_is_retried():
    client = scripted(calls(("add", {"a": 1, "b": 2})), plan("x", ["answer"]), "FINAL ANSWER: 3", check(True, "3"))
    result = await ReactiveResponder("solver", client, [], retry=FAST).solve("1+2?")
    assert result.status == "answered" and result.answer == "3"
    assert "the reply was a tool call, not JSON" in prompts_text(client, 1)


async def test_final_message_carries_the_whole_tasks_model_usage():
    from omne_core.models import UsageLedger, UsageRecordingChatCompletionClient

    ledger = UsageLedger()
    client = scripted(
        plan("sum of 2 and 3", ["add 2 and 3", "answer"], ["integer"]),
        calls(("add", {"a": 2, "b": 3})),
        "FINAL ANSWER: 5",
        check(True, "5"),
    )
    metered = UsageRecordingChatCompletionClient(client, ledger, model="scripted")
    agent = ReactiveResponder("solver", metered, make_tools([]), retry=FAST)
    run = await agent.run(task="What is 2 + 3?")
    final = run.messages[-1]
    assert isinstance(final, TextMessage) and final.content == "5"
    usage, spent = final.models_usage, ledger.summary()
    assert spent.calls == 4 and spent.prompt_tokens > 0
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (spent.prompt_tokens, spent.completion_tokens)


async def test_the_answer_is_read_as_the_gaia_harness_reads_it():
    client = scripted(
        plan("length", ["convert"]),
        "FINAL ANSWER:",  # a marker with nothing after it is no answer: the model is told to go on
        "**Final answer:** 3.66 m\nI converted 12 feet at 0.3048 m per foot.",  # only the answer line is the answer
        check(True, "3.66 m"),
    )
    result = await ReactiveResponder("solver", client, [], retry=FAST).solve("How long is 12 feet in metres?")
    assert result.status == "answered" and result.answer == "3.66 m"
    assert "Continue with the plan" in prompts_text(client, 2)
    assert "Candidate answer: 3.66 m\n" in prompts_text(client, 3)  # the explanation never reached the check


async def test_every_tool_error_is_a_failed_call_and_tool_text_never_is():
    """A `ToolError` of any label (search, logic expert, path refusal) reaches the model as its text *and* marks
    the call failed, so the agent re-plans; a result that merely starts with "Error:" is a result (issue 15.3)."""
    from omne_tools import agent_tool
    from omne_tools.errors import LogicExpertError, PathNotAllowedError, SearchUnavailableError

    failures = {
        "web_search": SearchUnavailableError("the search engine answered HTTP 503"),
        "ask_logic_expert": LogicExpertError("no answer within 60 s"),
        "read_file": PathNotAllowedError("/etc/passwd is outside the files you may read"),
    }

    def raising(error: Exception):
        async def failing(query: str) -> str:
            raise error

        return failing

    for name, error in failures.items():
        client = scripted(
            plan("x", ["use the tool"]), calls((name, {"query": "q"})),
            '{"reason": "the tool failed", "steps": ["answer"]}', "FINAL ANSWER: 1", check(True, "1"),
        )  # fmt: skip
        agent = ReactiveResponder("solver", client, [agent_tool(raising(error), name=name, description="d")], retry=FAST)
        events = [e async for e in agent.solve_stream("q?", _token())]
        (execution,) = [e for e in events if isinstance(e, ToolCallExecutionEvent)]
        assert execution.content[0].is_error, name
        assert execution.content[0].content == error.agent_text()  # the wrapper's text, once
        assert len(events[-1].plans) == 2, name  # failed: re-planned

    async def log_line(query: str) -> str:
        return "Error: disk full at 03:00 (line 7 of the log)"

    client = scripted(plan("x", ["read"]), calls(("grep_log", {"query": "q"})), "FINAL ANSWER: disk full", check(True, "disk full"))
    agent = ReactiveResponder("solver", client, [agent_tool(log_line, name="grep_log", description="d")], retry=FAST)
    events = [e async for e in agent.solve_stream("What failed?", _token())]
    (execution,) = [e for e in events if isinstance(e, ToolCallExecutionEvent)]
    assert not execution.content[0].is_error and events[-1].plans == [["read"]]


async def test_analysis_plan_replan_check_and_lesson_are_asked_for_with_their_schemas(store):
    """Issue 14.7: on a client that takes JSON schemas (llama.cpp, OpenAI structured outputs) every structured
    answer of the Reactive Responder is asked for with its schema; the act steps are free text and tool calls."""
    from autogen_core.models import ModelFamily, ModelInfo
    from autogen_ext.models.replay import ReplayChatCompletionClient

    from omne_assistant.planning import AnswerCheck, Lesson, Replan, TaskPlan
    from omne_core.memory import MemoryScope

    info = ModelInfo(vision=False, function_calling=True, json_output=True, structured_output=True, family=ModelFamily.UNKNOWN)
    client = ReplayChatCompletionClient([
        plan("pi", ["lookup broken", "answer"]), calls(("lookup", {"key": "broken"})),
        '{"reason": "source down", "steps": ["lookup pi"]}', calls(("lookup", {"key": "pi"})),
        "FINAL ANSWER: 3.14159", check(True, "3.14159"), lesson("Call lookup with the constant's name."),
    ], model_info=info)  # fmt: skip
    agent = ReactiveResponder(
        "solver", client, make_tools([]), memory=store, scope=MemoryScope(user_id="u", agent_id="solver"), retry=FAST
    )
    result = await agent.solve("What is pi to 5 decimals?")
    assert result.status == "answered" and result.experience_id
    sent = [call["json_output"] for call in client.create_calls]
    assert sent == [TaskPlan, None, Replan, None, None, AnswerCheck, Lesson]
