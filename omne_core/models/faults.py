"""Model faults: retry rate limits, timeouts and dropped connections with backoff, then raise one typed error.

The responders' and the memory operators' model calls (replies, reflection, session summaries, every
structured answer) go through `create_with_retry` or `stream_with_retry`, so a flaky or weak model never
crashes a chat, a task or a reflection: the caller catches `ModelFaultError` and reports it.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from enum import StrEnum
from typing import Any

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel, Field, ValidationError

from ..errors import ModelError

UNWIND_S = 10.0  # how long a cancelled or timed-out call may take to stop (an embedded model: one token)


class ModelFaultKind(StrEnum):
    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    SERVER = "server_error"
    MALFORMED_OUTPUT = "malformed_output"
    FATAL = "fatal"  # bad request, authentication, unknown model: retrying cannot help


RETRYABLE = frozenset(
    {ModelFaultKind.RATE_LIMIT, ModelFaultKind.TIMEOUT, ModelFaultKind.CONNECTION, ModelFaultKind.SERVER}
)


class ModelFaultError(ModelError):
    """A model call that failed for good after its retries; `kind` says why, `raw_output` is the last reply
    (for malformed output) so the caller can show what the model actually wrote."""

    def __init__(self, kind: ModelFaultKind, message: str, attempts: int = 1, *, raw_output: str | None = None) -> None:
        super().__init__(f"model {kind.value} after {attempts} attempt(s): {message}")
        self.kind = kind
        self.attempts = attempts
        self.detail = message
        self.raw_output = raw_output


class RetryPolicy(BaseModel):
    """How hard to retry one model call: attempts, exponential backoff with jitter, per-call timeout."""

    max_attempts: int = Field(default=3, ge=1)
    base_delay_s: float = Field(default=0.5, ge=0.0)
    max_delay_s: float = Field(default=8.0, ge=0.0)
    call_timeout_s: float | None = Field(default=120.0, gt=0)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        raw = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        return raw * (0.5 + random.random() / 2)


def classify(exc: BaseException) -> ModelFaultKind:
    """Which kind of fault an exception from a model client is."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return ModelFaultKind.TIMEOUT
    if isinstance(exc, ValidationError | json.JSONDecodeError):  # a client that parses the reply itself
        return ModelFaultKind.MALFORMED_OUTPUT
    try:
        import openai

        if isinstance(exc, openai.LengthFinishReasonError | openai.ContentFilterFinishReasonError):
            return ModelFaultKind.MALFORMED_OUTPUT  # a structured reply cut short or filtered

        if isinstance(exc, openai.RateLimitError):
            return ModelFaultKind.RATE_LIMIT
        if isinstance(exc, openai.APITimeoutError):
            return ModelFaultKind.TIMEOUT
        if isinstance(exc, openai.APIConnectionError):
            return ModelFaultKind.CONNECTION
        if isinstance(exc, openai.InternalServerError):
            return ModelFaultKind.SERVER
    except ImportError:  # pragma: no cover - openai is a dependency
        pass
    try:
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            return ModelFaultKind.TIMEOUT
        if isinstance(exc, httpx.TransportError):
            return ModelFaultKind.CONNECTION
    except ImportError:  # pragma: no cover
        pass
    status = getattr(exc, "status_code", None)
    if status == 429 or "rate limit" in str(exc).lower():
        return ModelFaultKind.RATE_LIMIT
    if isinstance(status, int) and status >= 500:
        return ModelFaultKind.SERVER
    if isinstance(exc, ConnectionError):
        return ModelFaultKind.CONNECTION
    return ModelFaultKind.FATAL


async def create_with_retry(
    client: ChatCompletionClient,
    messages: Sequence[LLMMessage],
    *,
    tools: Sequence[Tool | ToolSchema] = (),
    json_output: bool | type[BaseModel] | None = None,
    extra_create_args: Mapping[str, Any] | None = None,
    policy: RetryPolicy | None = None,
    cancellation_token: CancellationToken | None = None,
    deadline: float | None = None,
) -> CreateResult:
    """`client.create` retried on transient faults; never waits past `deadline` (a `time.monotonic()` value).

    `json_output` and `extra_create_args` are passed to the client as they are (only when given)."""
    policy = policy or RetryPolicy()
    last: BaseException | None = None
    kind = ModelFaultKind.FATAL
    for attempt in range(1, policy.max_attempts + 1):
        timeout = policy.call_timeout_s
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ModelFaultError(ModelFaultKind.TIMEOUT, "time budget exhausted before the call", attempt - 1)
            timeout = min(timeout, left) if timeout else left
        try:
            kwargs: dict[str, Any] = {"tools": list(tools)}
            if json_output is not None:
                kwargs["json_output"] = json_output
            if extra_create_args:
                kwargs["extra_create_args"] = dict(extra_create_args)
            return await _call(client, messages, kwargs, cancellation_token, timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every client error is classified below
            last, kind = exc, classify(exc)
            if kind not in RETRYABLE or attempt == policy.max_attempts:
                break
            wait = policy.delay(attempt)
            if deadline is not None and time.monotonic() + wait >= deadline:
                break
            await asyncio.sleep(wait)
    raise ModelFaultError(kind, f"{type(last).__name__}: {last}", attempt) from last


async def _call(
    client: ChatCompletionClient,
    messages: Sequence[LLMMessage],
    kwargs: dict[str, Any],
    token: CancellationToken | None,
    limit_s: float | None,
) -> CreateResult:
    """One `client.create` with its own token: cancelled when `token` is, or when `limit_s` passes,
    so a client that honours tokens (e.g. embedded llama.cpp) stops generating instead of running on."""
    if token is not None and token.is_cancelled():
        raise asyncio.CancelledError("cancelled before the model call")
    call_token = CancellationToken()
    if token is not None:
        token.add_callback(call_token.cancel)
    future = asyncio.ensure_future(client.create(list(messages), cancellation_token=call_token, **kwargs))
    call_token.link_future(future)
    try:
        done, _ = await asyncio.wait({future}, timeout=limit_s)
    except asyncio.CancelledError:
        call_token.cancel()
        # wait (bounded) for the call to unwind: an embedded model must stop generating before whoever
        # cancelled us closes it
        await asyncio.wait({future}, timeout=UNWIND_S)
        raise
    if not done:
        call_token.cancel()  # flags the token first, then cancels the linked call
        await asyncio.wait({future}, timeout=UNWIND_S)  # let it unwind (bounded) rather than leave it dangling
        raise TimeoutError(f"no reply within {limit_s:.1f} s")
    return future.result()


async def stream_with_retry(
    client: ChatCompletionClient,
    messages: Sequence[LLMMessage],
    *,
    extra_create_args: Mapping[str, Any] | None = None,
    policy: RetryPolicy | None = None,
    cancellation_token: CancellationToken | None = None,
) -> AsyncIterator[str | CreateResult]:
    """`client.create_stream` with the retries of `create_with_retry`, as long as no chunk was yielded yet.

    Once text has streamed out a fault cannot be retried invisibly, so it is raised as `ModelFaultError`.
    """
    policy = policy or RetryPolicy()
    for attempt in range(1, policy.max_attempts + 1):
        if cancellation_token is not None and cancellation_token.is_cancelled():
            raise asyncio.CancelledError("cancelled before the model call")
        emitted = False
        try:
            stream = client.create_stream(
                list(messages), extra_create_args=dict(extra_create_args or {}), cancellation_token=cancellation_token
            )
            async for chunk in stream:
                emitted = emitted or isinstance(chunk, str)
                yield chunk
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below
            kind = classify(exc)
            if emitted or kind not in RETRYABLE or attempt == policy.max_attempts:
                raise ModelFaultError(kind, f"{type(exc).__name__}: {exc}", attempt) from exc
            await asyncio.sleep(policy.delay(attempt))
