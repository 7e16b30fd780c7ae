"""Reactive Responder: analyse a task, plan, act with tools, observe and re-plan, check, answer — then learn.

Every phase is bounded by a `TaskBudget` (steps, seconds, tokens). Model faults are retried by
`faults`, then reported in the result; a task never raises because a model or a tool misbehaved.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    MemoryQueryEvent,
    TextMessage,
    ThoughtEvent,
    ToolCallExecutionEvent,
    ToolCallRequestEvent,
)
from autogen_core import CancellationToken
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import BaseTool
from pydantic import BaseModel, Field

from omne_core.models import (
    FINAL_ANSWER_MARKER,
    ModelFaultError,
    RetryPolicy,
    create_structured,
    create_with_retry,
    extract_final_answer,
    json_instruction,
)

from .budget import BudgetMeter, TaskBudget
from .experience import experiences_prompt, hits_as_memory_contents, recall_experiences, store_experience
from .planning import (
    ACT_SYSTEM,
    CHECK_SYSTEM,
    LESSON_SYSTEM,
    LONG,
    PLAN_SYSTEM,
    AnswerCheck,
    Lesson,
    Replan,
    TaskAnalysis,
    TaskPlan,
)
from .responses import final_response
from .toolcall import execute_tool_call, tool_index

if TYPE_CHECKING:
    from omne_core.memory import MemoryScope, MemoryStoreAPI

T = TypeVar("T", bound=BaseModel)
TaskStatus = Literal["answered", "budget_exhausted", "model_error"]


class StepRecord(BaseModel):
    """One thing that happened while solving: a tool call, a thought, a re-plan or a check."""

    step: int
    kind: Literal["tool", "thought", "replan", "check"]
    detail: str
    ok: bool = True


class ReactiveResult(BaseModel):
    """The outcome of a task: the answer (if any), why it stopped, and the full trace."""

    task: str
    status: TaskStatus
    answer: str | None = None
    reason: str = ""
    analysis: TaskAnalysis | None = None
    plans: list[list[str]] = Field(default_factory=list)
    trace: list[StepRecord] = Field(default_factory=list)
    steps: int = 0
    tokens: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    experiences_used: list[str] = Field(default_factory=list)
    experience_id: str | None = None

    def summary(self) -> str:
        head = f"[{self.status}] {self.answer}" if self.answer else f"[{self.status}] no answer"
        return f"{head} — {self.reason} ({self.steps} steps, {self.tokens} tokens, {self.seconds:.1f} s)"


class ReactiveResponder(BaseChatAgent):
    """An AutoGen agent for tasks that need steps and tools, with budgets and a self-evolution loop.

    `memory` (optional) stores an `experience` record after each task in `scope` and recalls relevant
    ones (from `recall_scopes`, default `[scope]`) when planning the next.
    """

    def __init__(
        self,
        name: str,
        model_client: ChatCompletionClient,
        tools: Sequence[BaseTool] = (),
        *,
        memory: MemoryStoreAPI | None = None,
        scope: MemoryScope | None = None,
        recall_scopes: Sequence[MemoryScope] | None = None,
        budget: TaskBudget | None = None,
        retry: RetryPolicy | None = None,
        tool_timeout_s: float | None = 300.0,
        learn_lessons: bool = True,
        description: str = "Solves tasks that need several steps and tools (search, browse, read files, reason).",
    ) -> None:
        super().__init__(name, description)
        if memory is not None and scope is None:
            raise ValueError("a memory needs a scope to store experiences in")
        self._client = model_client
        self._tools = tool_index(tools)
        self._memory = memory
        self._scope = scope
        self._recall_scopes = list(recall_scopes) if recall_scopes else ([scope] if scope else [])
        self.budget = budget or TaskBudget()
        self.retry = retry or RetryPolicy()
        self._tool_timeout_s = tool_timeout_s
        self._learn = learn_lessons
        self._can_call_tools = bool(model_client.model_info.get("function_calling", False))

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (TextMessage,)

    @property
    def tools(self) -> list[BaseTool]:
        return list(self._tools.values())

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        """Each task is independent; there is no conversation state to reset."""

    async def on_messages(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken) -> Response:
        return await final_response(self.on_messages_stream(messages, cancellation_token))

    async def on_messages_stream(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> AsyncGenerator[BaseAgentEvent | BaseChatMessage | Response, None]:
        task = "\n\n".join(m.to_model_text() for m in messages if m.source != self.name).strip()
        result: ReactiveResult | None = None
        async for item in self.solve_stream(task, cancellation_token):
            if isinstance(item, ReactiveResult):
                result = item
            else:
                yield item
        assert result is not None
        text = result.answer if result.status == "answered" and result.answer else result.summary()
        yield Response(
            chat_message=TextMessage(
                content=text,
                source=self.name,
                metadata={"status": result.status, "reason": result.reason[:500]},
                # the whole task's model usage, so AutoGen runners (and the GAIA harness) can count it
                models_usage=RequestUsage(
                    prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens
                ),
            )
        )

    async def solve(self, task: str, cancellation_token: CancellationToken | None = None) -> ReactiveResult:
        """Solve `task` and return the typed outcome (no events)."""
        result: ReactiveResult | None = None
        async for item in self.solve_stream(task, cancellation_token or CancellationToken()):
            if isinstance(item, ReactiveResult):
                result = item
        assert result is not None
        return result

    async def solve_stream(
        self, task: str, cancellation_token: CancellationToken
    ) -> AsyncGenerator[BaseAgentEvent | ReactiveResult, None]:
        """Solve `task`, yielding events as they happen and the `ReactiveResult` last."""
        run = _Run(self, task, cancellation_token)
        async for item in run.execute():
            yield item


class _Run:
    """The state of one task: messages, budget meter, trace. One job: drive the phases in order."""

    def __init__(self, agent: ReactiveResponder, task: str, token: CancellationToken) -> None:
        self.agent = agent
        self.task = task
        self.token = token
        self.meter = BudgetMeter(agent.budget)
        self.result = ReactiveResult(task=task, status="model_error")

    # -- phases ------------------------------------------------------------------------------------
    async def execute(self) -> AsyncGenerator[BaseAgentEvent | ReactiveResult, None]:
        agent = self.agent
        experiences = ""
        if agent._memory is not None and self.task:
            try:
                hits = await recall_experiences(agent._memory, agent._recall_scopes, self.task)
            except Exception as exc:  # noqa: BLE001 - memory trouble must not stop the task
                hits = []
                yield ThoughtEvent(content=f"Experience recall failed: {exc}", source=agent.name)
            if hits:
                self.result.experiences_used = [h.record.id for h in hits]
                yield MemoryQueryEvent(content=hits_as_memory_contents(hits), source=agent.name)
                experiences = experiences_prompt(hits)
        try:
            if not self.task:
                raise ValueError("empty task")
            plan = await self.plan(experiences)
            self.result.analysis = plan.analysis
            self.result.plans.append(plan.steps)
            yield ThoughtEvent(content=self._plan_text(plan), source=agent.name)
            async for event in self.act(plan, experiences):
                yield event
        except ModelFaultError as exc:
            if self.meter.exhausted():  # the call ran into the task's own limits
                self.result.status, self.result.reason = "budget_exhausted", f"{self.meter.exhausted()} ({exc})"
            else:
                self.result.status, self.result.reason = "model_error", str(exc)
        except ValueError as exc:
            self.result.status, self.result.reason = "model_error", f"cannot start: {exc}"
        self.result.steps = self.meter.steps
        await self.learn()
        self.result.tokens = self.meter.tokens
        self.result.prompt_tokens = self.meter.prompt_tokens
        self.result.completion_tokens = self.meter.completion_tokens
        self.result.seconds = round(self.meter.elapsed, 3)
        yield self.result

    async def plan(self, experiences: str) -> TaskPlan:
        prompt = f"Task:\n{self.task}\n\n"
        if experiences:
            prompt += experiences + "\n\n"
        if self.agent._tools:
            prompt += "Tools:\n" + "\n".join(f"- {t.name}: {t.description}" for t in self.agent._tools.values())
            prompt += "\n\n"
        prompt += json_instruction(TaskPlan)
        return await self._json([SystemMessage(content=PLAN_SYSTEM), UserMessage(content=prompt, source="user")], TaskPlan)

    async def act(self, plan: TaskPlan, experiences: str) -> AsyncGenerator[BaseAgentEvent, None]:
        agent = self.agent
        brief = (
            f"Task:\n{self.task}\n\nWhat is asked: {plan.analysis.asked}\n"
            f"Constraints:\n" + "".join(f"- {c}\n" for c in plan.analysis.constraints)
            + f"Answer format: {plan.analysis.answer_format}\n\nPlan:\n{plan.numbered()}\n"
        )
        if experiences:
            brief += f"\n{experiences}\n"
        if not agent._can_call_tools and agent._tools:
            brief += "\n(This model cannot call tools; answer from what you know.)\n"
        messages: list[LLMMessage] = [SystemMessage(content=ACT_SYSTEM), UserMessage(content=brief, source="user")]
        tools = list(agent._tools.values()) if agent._can_call_tools else []
        seen_calls: set[str] = set()
        idle = 0
        while True:
            reason = self.meter.exhausted()
            if reason:
                self.result.status, self.result.reason = "budget_exhausted", reason
                return
            self.meter.steps += 1
            step = self.meter.steps
            result = await create_with_retry(
                agent._client, messages, tools=tools, policy=agent.retry,
                cancellation_token=self.token, deadline=self.meter.deadline,
            )  # fmt: skip
            self.meter.charge(result)
            if isinstance(result.content, list):
                idle = 0
                calls = result.content
                messages.append(AssistantMessage(content=calls, thought=result.thought, source=agent.name))
                yield ToolCallRequestEvent(content=calls, source=agent.name)
                outcomes = [
                    await execute_tool_call(call, agent._tools, self.token, agent._tool_timeout_s) for call in calls
                ]
                messages.append(FunctionExecutionResultMessage(content=outcomes))
                yield ToolCallExecutionEvent(content=outcomes, source=agent.name)
                for call, out in zip(calls, outcomes, strict=True):
                    self.trace(step, "tool", f"{call.name}({call.arguments[:200]}) -> {out.content[:300]}", not out.is_error)
                failures = [f"{o.name}: {o.content[:300]}" for o in outcomes if o.is_error]
                keys = {f"{c.name}:{c.arguments}" for c in calls}
                repeated = keys <= seen_calls
                seen_calls |= keys
                if failures or repeated:
                    why = ("tool failed: " + "; ".join(failures)) if failures else "the same tool call was repeated"
                    async for event in self.replan(messages, why):
                        yield event
                continue
            text = result.content.strip()
            answer = extract_final_answer(text)
            messages.append(AssistantMessage(content=text or "(empty reply)", source=agent.name))
            if not answer:  # no marker, or nothing after it
                idle += 1
                self.trace(step, "thought", text[:500] or "(empty reply)")
                if text:
                    yield ThoughtEvent(content=text, source=agent.name)
                if idle >= 2:
                    idle = 0
                    async for event in self.replan(messages, "no progress: replies without tool calls or an answer"):
                        yield event
                else:
                    messages.append(UserMessage(content=f"Continue with the plan: call a tool, or reply '{FINAL_ANSWER_MARKER} ...'.", source="user"))
                continue
            check = await self.check(plan.analysis, answer)
            if check is None or check.satisfies:
                final = (check.final_answer.strip() if check and check.final_answer.strip() else answer)
                self.result.status, self.result.answer = "answered", final
                self.result.reason = "answer checked against the constraints" if check else "answer given (check unavailable)"
                return
            problems = "; ".join(check.problems) or "the answer does not meet the constraints"
            self.trace(step, "check", f"rejected {answer!r}: {problems}", ok=False)
            yield ThoughtEvent(content=f"Check rejected {answer!r}: {problems}", source=agent.name)
            messages.append(UserMessage(content=f"The answer fails the check: {problems}. Fix it, then reply '{FINAL_ANSWER_MARKER} ...'.", source="user"))

    async def replan(self, messages: list[LLMMessage], why: str) -> AsyncGenerator[BaseAgentEvent, None]:
        """Ask for revised remaining steps and put them in the conversation; bounded by `max_replans`."""
        agent = self.agent
        if self.meter.replans >= agent.budget.max_replans:
            messages.append(UserMessage(content=f"Observation: {why}. Try a different approach.", source="user"))
            return
        self.meter.replans += 1
        done = "\n".join(f"- {r.kind}: {r.detail}" for r in self.result.trace[-8:])
        prompt = (
            f"Task:\n{self.task}\n\nCurrent plan:\n{_numbered(self.result.plans[-1])}\n\nWhat happened so far:\n{done}\n\n"
            f"Problem: {why}\n\nRevise the remaining steps so the task can still be solved.\n{json_instruction(Replan)}"
        )
        try:
            new = await self._json([SystemMessage(content=PLAN_SYSTEM), UserMessage(content=prompt, source="user")], Replan)
        except ModelFaultError as exc:
            messages.append(UserMessage(content=f"Observation: {why}. Try a different approach.", source="user"))
            self.trace(self.meter.steps, "replan", f"re-plan failed ({exc}); continuing", ok=False)
            return
        self.result.plans.append(new.steps)
        self.trace(self.meter.steps, "replan", f"{why} -> {new.reason}")
        messages.append(UserMessage(content=f"Observation: {why}.\nRevised plan ({new.reason}):\n{new.numbered()}", source="user"))
        yield ThoughtEvent(content=f"Re-plan ({why}): {new.reason}\n{new.numbered()}", source=agent.name)

    async def check(self, analysis: TaskAnalysis, answer: str) -> AnswerCheck | None:
        """The model's verdict on `answer`; None when the check itself could not be obtained."""
        prompt = (
            f"Task:\n{self.task}\n\nConstraints:\n" + "".join(f"- {c}\n" for c in analysis.constraints)
            + f"Answer format: {analysis.answer_format}\n\nCandidate answer: {answer}\n\n{json_instruction(AnswerCheck)}"
        )
        try:
            return await self._json([SystemMessage(content=CHECK_SYSTEM), UserMessage(content=prompt, source="user")], AnswerCheck)
        except ModelFaultError as exc:
            self.trace(self.meter.steps, "check", f"check unavailable: {exc}", ok=False)
            return None

    async def learn(self) -> None:
        """Self-evolution: store what worked, what failed and the lesson (deterministic fallback if the model fails)."""
        agent = self.agent
        if agent._memory is None or agent._scope is None or not self.task:
            return
        trace = "\n".join(f"{r.step}. [{r.kind}{'' if r.ok else ' FAILED'}] {r.detail}" for r in self.result.trace)
        lesson = _fallback_lesson(self.result)
        if agent._learn and self.result.status != "model_error" and self.meter.tokens < agent.budget.max_tokens:
            prompt = (
                f"Task:\n{self.task}\n\nOutcome: {self.result.status} — {self.result.reason}\n"
                f"Answer: {self.result.answer}\n\nTrace:\n{trace or '(no steps)'}\n\n{json_instruction(Lesson)}"
            )
            try:
                lesson = await self._json([SystemMessage(content=LESSON_SYSTEM), UserMessage(content=prompt, source="user")], Lesson)
            except ModelFaultError:
                pass
        try:
            self.result.experience_id = await store_experience(
                agent._memory, agent._scope, task=self.task, status=self.result.status, trace=trace,
                lesson=lesson, used_ids=self.result.experiences_used,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - failing to learn must not lose the answer
            self.result.reason += f" (experience not stored: {exc})"

    # -- helpers -----------------------------------------------------------------------------------
    async def _json(self, messages: list[LLMMessage], schema: type[T]) -> T:
        """A JSON answer of `schema` within the task's deadline; every attempt's tokens are charged."""
        sink: list[CreateResult] = []
        try:
            return await create_structured(
                self.agent._client, messages, schema, policy=self.agent.retry,
                cancellation_token=self.token, deadline=self.meter.deadline, usage_sink=sink,
            )  # fmt: skip
        finally:
            for result in sink:
                self.meter.charge(result)

    def trace(self, step: int, kind: Literal["tool", "thought", "replan", "check"], detail: str, ok: bool = True) -> None:
        self.result.trace.append(StepRecord(step=step, kind=kind, detail=detail, ok=ok))

    @staticmethod
    def _plan_text(plan: TaskPlan) -> str:
        constraints = "; ".join(plan.analysis.constraints) or "none stated"
        return (
            f"Asked: {plan.analysis.asked}\nConstraints: {constraints}\nAnswer format: {plan.analysis.answer_format}\n"
            f"Plan:\n{plan.numbered()}"
        )


def _numbered(steps: Sequence[str]) -> str:
    return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))


def _fallback_lesson(result: ReactiveResult) -> Lesson:
    """A lesson written from the trace alone, used when the model cannot write one."""
    ok_tools = sorted({r.detail.split("(")[0] for r in result.trace if r.kind == "tool" and r.ok})
    bad = [r.detail for r in result.trace if not r.ok]
    advice = " Avoid the failing calls above." if bad else ""
    return Lesson(
        worked=(("tools that worked: " + ", ".join(ok_tools)) if ok_tools else "")[:LONG],
        failed="; ".join(bad)[:LONG],
        lesson=f"Ended {result.status}: {result.reason}"[: LONG - len(advice) - 1] + "." + advice,
    )


def dump_result(result: ReactiveResult) -> str:
    """The result as pretty JSON (for logs and the CLI)."""
    return json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False)
