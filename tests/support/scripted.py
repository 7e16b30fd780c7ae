"""The scripted model of the tests (the only thing tests may fake is the model), in one place.

- `scripted(...)` and its reply builders (`plan`, `check`, `lesson`, `calls`, `js`) script autogen-ext's
  `ReplayChatCompletionClient`: plain text, JSON objects and tool calls as `CreateResult`s.
- `ScriptedChatClient` adds what the replay client lacks: a latency, scripted exceptions, and fixed token counts
  (the usage ledger's tests need them).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelFamily,
    ModelInfo,
    RequestUsage,
)
from autogen_core.tools import Tool, ToolSchema
from autogen_ext.models.replay import ReplayChatCompletionClient

TOOL_MODEL = ModelInfo(
    vision=False, function_calling=True, json_output=False, family=ModelFamily.UNKNOWN, structured_output=False
)


def calls(*specs: tuple[str, dict[str, Any]] | tuple[str, str]) -> CreateResult:
    """A reply that requests tool calls; arguments may be a dict or a raw (possibly malformed) string."""
    content = [
        FunctionCall(id=f"call_{i}", name=name, arguments=args if isinstance(args, str) else json.dumps(args))
        for i, (name, args) in enumerate(specs)
    ]
    return CreateResult(
        finish_reason="function_calls", content=content, usage=RequestUsage(prompt_tokens=10, completion_tokens=5), cached=False
    )


def js(obj: Any) -> str:
    return json.dumps(obj)


def plan(asked: str, steps: list[str], constraints: list[str] | None = None, fmt: str = "a number") -> str:
    return js({"analysis": {"asked": asked, "constraints": constraints or [], "answer_format": fmt}, "steps": steps})


def check(ok: bool, answer: str, problems: list[str] | None = None) -> str:
    return js({"satisfies": ok, "problems": problems or [], "final_answer": answer})


def lesson(text: str, worked: str = "", failed: str = "") -> str:
    return js({"worked": worked, "failed": failed, "lesson": text})


def scripted(*replies: str | CreateResult, tools: bool = True) -> ReplayChatCompletionClient:
    return ReplayChatCompletionClient(list(replies), model_info=TOOL_MODEL if tools else None)


def prompts_text(client: ReplayChatCompletionClient, call_index: int) -> str:
    """Everything the model saw in one call, as text."""
    parts = []
    for message in client.create_calls[call_index]["messages"]:
        content = message.content
        parts.append(content if isinstance(content, str) else json.dumps([getattr(c, "model_dump", lambda c=c: str(c))() for c in content]))
    return "\n".join(parts)


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
