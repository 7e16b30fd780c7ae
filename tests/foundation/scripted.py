"""A scripted `ChatCompletionClient` (the only thing tests may fake is the model)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage, ModelInfo, RequestUsage
from autogen_core.tools import Tool, ToolSchema

SCRIPTED_INFO = ModelInfo(vision=False, function_calling=True, json_output=True, structured_output=False, family="unknown")


def result(text: str, prompt: int, completion: int, *, cached: bool = False) -> CreateResult:
    return CreateResult(
        content=text,
        usage=RequestUsage(prompt_tokens=prompt, completion_tokens=completion),
        finish_reason="stop",
        cached=cached,
    )


class ScriptedChatClient(ChatCompletionClient):
    """Answers with the scripted results (or raises the scripted exceptions) in order, after `delay_s`."""

    def __init__(self, script: Sequence[CreateResult | Exception], *, delay_s: float = 0.0) -> None:
        self._script = list(script)
        self._delay_s = delay_s
        self.calls: list[Sequence[LLMMessage]] = []
        self.create_args: list[Mapping[str, Any]] = []
        self.closed = False

    def _next(self, messages: Sequence[LLMMessage], extra: Mapping[str, Any]) -> CreateResult:
        self.calls.append(list(messages))
        self.create_args.append(dict(extra))
        if not self._script:
            raise RuntimeError("script exhausted")
        item = self._script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Any = "auto",
        json_output: Any = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        await asyncio.sleep(self._delay_s)
        return self._next(messages, extra_create_args)

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Any = "auto",
        json_output: Any = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        await asyncio.sleep(self._delay_s)
        item = self._next(messages, extra_create_args)
        assert isinstance(item.content, str)
        for word in item.content.split(" "):
            yield word + " "
        yield item

    async def close(self) -> None:
        self.closed = True

    def actual_usage(self) -> RequestUsage:
        return RequestUsage(prompt_tokens=0, completion_tokens=0)

    def total_usage(self) -> RequestUsage:
        return RequestUsage(prompt_tokens=0, completion_tokens=0)

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = ()) -> int:
        return 7 * len(messages)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = ()) -> int:
        return 1000 - self.count_tokens(messages)

    @property
    def capabilities(self):  # type: ignore[override]
        return SCRIPTED_INFO

    @property
    def model_info(self) -> ModelInfo:
        return SCRIPTED_INFO
