"""`ScriptedAgent`: a model double for the harness's tests and benchmark — replies come from a script.

Like autogen-ext's `ReplayChatCompletionClient`, but at the agent level: it answers without any model,
with a fixed latency, reported token usage and optional tool calls, or hangs, or raises — so the runner's
limits, accounting and recovery can be exercised for real. Not a GAIA solver.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    TextMessage,
    ToolCallExecutionEvent,
    ToolCallRequestEvent,
)
from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import FunctionExecutionResult, RequestUsage

from omne_assistant.responses import final_response

from .task import GaiaAgentTask

Reply = str | BaseChatMessage | BaseException | Callable[[str], str]


class ScriptedAgent(BaseChatAgent):
    """Answers each turn with the next scripted reply after `latency_s`; `hang=True` never answers.

    `ignore_cancellation=True` swallows the first cancellation of a hang (a misbehaving agent).
    A reply may be a string, a ready chat message, an exception to raise, or a function of the received text. Each turn reports
    `usage` on its messages and emits `tool_calls` request/execution event pairs before the reply.
    """

    def __init__(
        self,
        replies: Sequence[Reply],
        *,
        name: str = "scripted",
        latency_s: float = 0.0,
        usage: RequestUsage | None = None,
        tool_calls: int = 0,
        hang: bool = False,
        ignore_cancellation: bool = False,
    ) -> None:
        super().__init__(name, "A scripted agent (test and benchmark double).")
        self._replies = list(replies)
        self._latency_s = latency_s
        self._usage = usage or RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._tool_calls = tool_calls
        self._hang = hang
        self._ignore_cancellation = ignore_cancellation
        self.received: list[str] = []
        self.closed = False

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (TextMessage,)

    async def on_messages(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken) -> Response:
        return await final_response(self.on_messages_stream(messages, cancellation_token))

    async def on_messages_stream(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> AsyncGenerator[BaseAgentEvent | BaseChatMessage | Response, None]:
        text = "\n".join(m.to_text() for m in messages)
        self.received.append(text)
        if self._hang:
            await self._wait_forever()
        for i in range(self._tool_calls):
            call = FunctionCall(id=f"call_{i}", name="scripted_tool", arguments="{}")
            yield ToolCallRequestEvent(content=[call], source=self.name, models_usage=self._usage)
            result = FunctionExecutionResult(call_id=call.id, name=call.name, content="ok", is_error=False)
            yield ToolCallExecutionEvent(content=[result], source=self.name)
        if self._latency_s:
            await asyncio.sleep(self._latency_s)
        if not self._replies:
            raise RuntimeError("the script has no reply left")
        reply = self._replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, BaseChatMessage):
            yield Response(chat_message=reply)
            return
        content = reply(text) if callable(reply) else reply
        yield Response(chat_message=TextMessage(content=content, source=self.name, models_usage=self._usage))

    async def _wait_forever(self) -> None:
        swallow = self._ignore_cancellation
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if not swallow:
                    raise
                swallow = False  # swallows the first cancellation only, so the event loop can still shut down

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        """Nothing to reset: the script is consumed as the agent runs."""

    async def close(self) -> None:
        self.closed = True


def final_answer_reply(answer: str) -> str:
    """A reply in the GAIA template, with a line of reasoning before it."""
    return f"I checked the sources and worked it out.\nFINAL ANSWER: {answer}"


def scripted_factory(answers: Mapping[str, str], **agent_options: Any) -> Callable[..., ScriptedAgent]:
    """A factory whose agent answers each task with `answers[task_id]` in the GAIA template."""

    def factory(task: GaiaAgentTask, settings: object) -> ScriptedAgent:
        answer = answers.get(task.task_id, "no idea")
        return ScriptedAgent([final_answer_reply(answer)], **agent_options)

    return factory
