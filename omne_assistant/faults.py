"""Model faults: retry rate limits, timeouts and malformed JSON with backoff, then raise one typed error.

Assistants call models only through `create_with_retry` and `create_json`, so a flaky or weak model
never crashes a chat or a task: the caller catches `ModelFaultError` and reports it.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import AsyncIterator, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from autogen_core import CancellationToken
from autogen_core.models import AssistantMessage, ChatCompletionClient, CreateResult, LLMMessage, UserMessage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel, Field, ValidationError

from omne_core.errors import ModelError

T = TypeVar("T", bound=BaseModel)


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
    """A model call that failed for good after its retries; `kind` says why."""

    def __init__(self, kind: ModelFaultKind, message: str, attempts: int = 1) -> None:
        super().__init__(f"model {kind.value} after {attempts} attempt(s): {message}")
        self.kind = kind
        self.attempts = attempts
        self.detail = message


class RetryPolicy(BaseModel):
    """How hard to retry one model call: attempts, exponential backoff with jitter, per-call timeout."""

    max_attempts: int = Field(default=3, ge=1)
    base_delay_s: float = Field(default=0.5, ge=0.0)
    max_delay_s: float = Field(default=8.0, ge=0.0)
    call_timeout_s: float | None = Field(default=120.0, gt=0)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        raw = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return raw * (0.5 + random.random() / 2)


def classify(exc: BaseException) -> ModelFaultKind:
    """Which kind of fault an exception from a model client is."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return ModelFaultKind.TIMEOUT
    try:
        import openai

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
    json_output: bool | None = None,
    policy: RetryPolicy | None = None,
    cancellation_token: CancellationToken | None = None,
    deadline: float | None = None,
) -> CreateResult:
    """`client.create` retried on transient faults; never waits past `deadline` (a `time.monotonic()` value)."""
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
        raise
    if not done:
        call_token.cancel()  # flags the token first, then cancels the linked call
        await asyncio.wait({future}, timeout=1.0)  # let it unwind (bounded) rather than leave it dangling
        raise TimeoutError(f"no reply within {limit_s:.1f} s")
    return future.result()


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The JSON value in a model reply: bare, inside a ``` fence, or the first balanced {...} span."""
    text = text.strip()
    candidates = [text, *(_FENCE.findall(text))]
    start = text.find("{")
    if start >= 0:
        depth = 0
        in_str = esc = False
        for i, ch in enumerate(text[start:], start):
            if in_str:
                esc = (ch == "\\") and not esc
                if ch == '"' and not esc:
                    in_str = False
                continue
            if ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    candidates.append(text[start : i + 1])
                    break
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except (json.JSONDecodeError, TypeError):
            continue
    raise ValueError("no JSON object found in the reply")


def json_instruction(schema: type[BaseModel]) -> str:
    """A prompt line that tells the model the exact JSON shape to answer with."""
    return (
        "Reply with a single JSON object and nothing else, matching this JSON schema:\n"
        + json.dumps(schema.model_json_schema(), separators=(",", ":"))
    )


async def create_json(
    client: ChatCompletionClient,
    messages: Sequence[LLMMessage],
    schema: type[T],
    *,
    policy: RetryPolicy | None = None,
    cancellation_token: CancellationToken | None = None,
    deadline: float | None = None,
    usage_sink: list[CreateResult] | None = None,
) -> T:
    """Ask for JSON matching `schema`; a malformed reply is shown to the model and retried, then raises.

    Raises `ModelFaultError(MALFORMED_OUTPUT)` when no attempt parses; nothing is guessed.
    """
    policy = policy or RetryPolicy()
    convo = list(messages)
    wants_json = bool(client.model_info.get("json_output", False))
    error = ""
    for _attempt in range(1, policy.max_attempts + 1):
        result = await create_with_retry(
            client,
            convo,
            json_output=True if wants_json else None,
            policy=policy,
            cancellation_token=cancellation_token,
            deadline=deadline,
        )
        if usage_sink is not None:
            usage_sink.append(result)
        if not isinstance(result.content, str):
            error = "the reply was a tool call, not JSON"
            reply = json.dumps([{"name": c.name, "arguments": c.arguments} for c in result.content])
        else:
            reply = result.content
            try:
                return schema.model_validate(extract_json(reply))
            except (ValueError, ValidationError) as exc:
                error = str(exc).splitlines()[0][:300]
        convo += [
            AssistantMessage(content=reply[:2000], source="assistant"),
            UserMessage(
                content=f"That reply was not valid ({error}). {json_instruction(schema)}", source="user"
            ),
        ]
    raise ModelFaultError(ModelFaultKind.MALFORMED_OUTPUT, f"no valid {schema.__name__} JSON: {error}", policy.max_attempts)


async def stream_with_retry(
    client: ChatCompletionClient,
    messages: Sequence[LLMMessage],
    *,
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
            async for chunk in client.create_stream(list(messages), cancellation_token=cancellation_token):
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
