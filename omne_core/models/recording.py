"""`UsageRecordingChatCompletionClient`: wraps any AutoGen model client and logs each call in a `UsageLedger`."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Self

from autogen_core import CancellationToken, Component, ComponentModel
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelCapabilities,
    ModelInfo,
    RequestUsage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel, Field

from omne_core.config import ModelPrice

from ..tokens import count_tokens
from .message_text import function_calls_text
from .message_tokens import count_message_tokens
from .usage import UsageLedger

TokenCounter = Callable[[Sequence[LLMMessage], Sequence[Tool | ToolSchema]], int]


class UsageRecordingConfig(BaseModel):
    """Component config: the wrapped client and how calls are named; a loaded wrapper starts a fresh ledger."""

    client: ComponentModel
    model: str
    role: str | None = None
    provider: str | None = None
    offline_token_count: bool = False
    context_window: int | None = None
    stream_create_args: dict[str, Any] = Field(default_factory=dict)
    prices: dict[str, ModelPrice] = Field(default_factory=dict)


class UsageRecordingChatCompletionClient(ChatCompletionClient, Component[UsageRecordingConfig]):
    """A `ChatCompletionClient` that delegates to `client` and records tokens, latency and cost of every call.

    `offline_token_count` counts prompt tokens with Omne's offline tokenizer instead of the inner client's
    `count_tokens` (AutoGen's OpenAI client downloads tiktoken files); `token_counter` is any other counter.
    `context_window` replaces the inner `remaining_tokens` limit. When a model reports zero usage (some
    servers do when streaming) the tokens are estimated and the record is marked `estimated`.
    """

    component_type = "model"
    component_provider_override = "omne_core.models.UsageRecordingChatCompletionClient"
    component_config_schema = UsageRecordingConfig

    def __init__(
        self,
        client: ChatCompletionClient,
        ledger: UsageLedger,
        *,
        model: str,
        role: str | None = None,
        provider: str | None = None,
        offline_token_count: bool = False,
        token_counter: TokenCounter | None = None,
        context_window: int | None = None,
        stream_create_args: Mapping[str, Any] | None = None,
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._model = model
        self._role = role
        self._provider = provider
        self._offline_token_count = offline_token_count
        if token_counter is None and offline_token_count:
            token_counter = self._count_offline
        self._token_counter = token_counter
        self._context_window = context_window
        self._stream_create_args = dict(stream_create_args or {})

    def _count_offline(self, messages: Sequence[LLMMessage], tools: Sequence[Tool | ToolSchema]) -> int:
        return count_message_tokens(messages, self._model, tools=tools)

    def _to_config(self) -> UsageRecordingConfig:
        return UsageRecordingConfig(
            client=self._client.dump_component(),
            model=self._model,
            role=self._role,
            provider=self._provider,
            offline_token_count=self._offline_token_count,
            context_window=self._context_window,
            stream_create_args=self._stream_create_args,
            prices=self._ledger.prices,
        )

    @classmethod
    def _from_config(cls, config: UsageRecordingConfig) -> Self:
        return cls(
            ChatCompletionClient.load_component(config.client),
            UsageLedger(config.prices),
            model=config.model,
            role=config.role,
            provider=config.provider,
            offline_token_count=config.offline_token_count,
            context_window=config.context_window,
            stream_create_args=config.stream_create_args,
        )

    @property
    def inner(self) -> ChatCompletionClient:
        """The wrapped client."""
        return self._client

    @property
    def ledger(self) -> UsageLedger:
        return self._ledger

    @property
    def model(self) -> str:
        """The model name calls are recorded (and priced) under."""
        return self._model

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        started_at, start = datetime.now(UTC), time.perf_counter()
        try:
            result = await self._client.create(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=extra_create_args,
                cancellation_token=cancellation_token,
            )
        except BaseException as exc:
            self._record_failure(exc, started_at, time.perf_counter() - start, streamed=False)
            raise
        self._record_result(result, messages, tools, started_at, time.perf_counter() - start, streamed=False)
        return result

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        started_at, start = datetime.now(UTC), time.perf_counter()
        finished = False
        try:
            async for chunk in self._client.create_stream(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args={**self._stream_create_args, **extra_create_args},
                cancellation_token=cancellation_token,
            ):
                if isinstance(chunk, CreateResult):
                    finished = True
                    self._record_result(chunk, messages, tools, started_at, time.perf_counter() - start, streamed=True)
                yield chunk
        except BaseException as exc:
            if not finished and not isinstance(exc, GeneratorExit):
                finished = True
                self._record_failure(exc, started_at, time.perf_counter() - start, streamed=True)
            raise
        finally:
            if not finished:  # the consumer stopped reading before the final result
                self._record(
                    started_at, time.perf_counter() - start, streamed=True, error="stream closed before the final result"
                )

    def _record_result(
        self,
        result: CreateResult,
        messages: Sequence[LLMMessage],
        tools: Sequence[Tool | ToolSchema],
        started_at: datetime,
        latency_s: float,
        *,
        streamed: bool,
    ) -> None:
        prompt, completion = result.usage.prompt_tokens, result.usage.completion_tokens
        estimated = False
        if prompt == 0 and completion == 0 and not result.cached:
            estimated = True
            prompt = self.count_tokens(messages, tools=tools)
            text = result.content if isinstance(result.content, str) else function_calls_text(result.content)
            completion = count_tokens((result.thought or "") + text, self._model)
        self._record(
            started_at,
            latency_s,
            streamed=streamed,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached=result.cached,
            estimated=estimated,
        )

    def _record_failure(self, exc: BaseException, started_at: datetime, latency_s: float, *, streamed: bool) -> None:
        self._record(started_at, latency_s, streamed=streamed, error=f"{type(exc).__name__}: {exc}"[:500])

    def _record(
        self,
        started_at: datetime,
        latency_s: float,
        *,
        streamed: bool,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cached: bool = False,
        estimated: bool = False,
        error: str | None = None,
    ) -> None:
        """One call in the ledger, under this client's model, role and provider."""
        self._ledger.record(
            model=self._model,
            role=self._role,
            provider=self._provider,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=latency_s,
            streamed=streamed,
            cached=cached,
            estimated=estimated,
            error=error,
            started_at=started_at,
        )

    async def close(self) -> None:
        await self._client.close()

    def actual_usage(self) -> RequestUsage:
        return self._client.actual_usage()

    def total_usage(self) -> RequestUsage:
        return self._client.total_usage()

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        if self._token_counter is not None:
            return self._token_counter(messages, tools)
        return self._client.count_tokens(messages, tools=tools)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        if self._context_window is not None:
            return max(self._context_window - self.count_tokens(messages, tools=tools), 0)
        return self._client.remaining_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> ModelCapabilities:
        return self._client.model_info

    @property
    def model_info(self) -> ModelInfo:
        return self._client.model_info
