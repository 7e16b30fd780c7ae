"""Structured answers: a pydantic model out of a chat model, constrained by its JSON schema where the client can.

`create_structured` is the one path every structured output of Omne takes (reflection, session summaries,
the Reactive Responder's plan, re-plan, answer check and lesson). It asks the client for the strongest
guarantee it offers — the JSON schema itself (llama.cpp grammar, OpenAI structured outputs), else JSON
mode, else the prompt alone — validates the reply, shows a malformed reply to the model and asks again,
and finally raises `ModelFaultError(MALFORMED_OUTPUT)` with the last reply. Nothing is guessed.
Output models should bound their lists and strings (`max_length`): a constrained small model then always
finishes, and a long-winded one is sent back.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from autogen_core import CancellationToken
from autogen_core.models import AssistantMessage, ChatCompletionClient, CreateResult, LLMMessage, UserMessage
from pydantic import BaseModel, ValidationError

from .faults import ModelFaultError, ModelFaultKind, RetryPolicy, create_with_retry
from .output import extract_json

T = TypeVar("T", bound=BaseModel)
MAX_SHOWN_REPLY = 2000  # characters of a malformed reply shown back to the model

# autogen-ext's OpenAI client logs each structured reply with `model_dump()`, and pydantic warns that the
# completion's `parsed` field holds our model: noise on every call, not a problem. Only that warning is hidden.
warnings.filterwarnings(
    "ignore",
    message=r"Pydantic serializer warnings:\s+PydanticSerializationUnexpectedValue\(Expected `none`[^\n]*field_name='parsed'",
    category=UserWarning,
)


class OutputMode(StrEnum):
    """How strongly a client is asked for JSON."""

    SCHEMA = "schema"  # the client constrains the reply to the JSON schema
    JSON = "json"  # the client promises a JSON object; the prompt gives the schema
    TEXT = "text"  # only the prompt asks for JSON


def output_mode(client: ChatCompletionClient) -> OutputMode:
    """The strongest mode the client's `model_info` claims."""
    info = client.model_info
    if info.get("structured_output", False):
        return OutputMode.SCHEMA
    if info.get("json_output", False):
        return OutputMode.JSON
    return OutputMode.TEXT


def json_instruction(schema: type[BaseModel]) -> str:
    """A prompt line that tells the model the exact JSON shape to answer with."""
    return "Reply with a single JSON object and nothing else, matching this JSON schema:\n" + json.dumps(
        schema.model_json_schema(), separators=(",", ":")
    )


def _json_output(mode: OutputMode, schema: type[BaseModel]) -> bool | type[BaseModel] | None:
    """The client's `json_output` argument for a mode."""
    if mode is OutputMode.SCHEMA:
        return schema
    return True if mode is OutputMode.JSON else None


def _refused_format(exc: ModelFaultError) -> bool:
    """True when the client or server rejected the request itself (e.g. a server without JSON-schema support
    answers 400/422, or the client says the model cannot do it): worth one try in a weaker mode."""
    if exc.kind is not ModelFaultKind.FATAL:
        return False
    cause = exc.__cause__
    status = getattr(cause, "status_code", None)
    return isinstance(cause, ValueError) or status in (400, 404, 415, 422, 501)


def _weaker(mode: OutputMode) -> OutputMode:
    return OutputMode.JSON if mode is OutputMode.SCHEMA else OutputMode.TEXT


def parse_structured(text: str, schema: type[T]) -> T:
    """`schema` validated from the JSON in `text`; `ValueError` (or pydantic's `ValidationError`) when it is not."""
    return schema.model_validate(extract_json(text))


async def create_structured(
    client: ChatCompletionClient,
    messages: Sequence[LLMMessage],
    schema: type[T],
    *,
    policy: RetryPolicy | None = None,
    extra_create_args: Mapping[str, Any] | None = None,
    cancellation_token: CancellationToken | None = None,
    deadline: float | None = None,
    usage_sink: list[CreateResult] | None = None,
) -> T:
    """Ask `client` for a `schema` object; malformed replies are shown to the model and retried (transient
    faults are retried as in `create_with_retry`).

    Raises `ModelFaultError(MALFORMED_OUTPUT)`, carrying the last reply, when no attempt validates.
    """
    policy = policy or RetryPolicy()
    mode = output_mode(client)
    convo = list(messages)
    error, reply = "", ""
    attempt = 0
    while attempt < policy.max_attempts:
        attempt += 1
        try:
            result = await create_with_retry(
                client,
                convo,
                json_output=_json_output(mode, schema),
                extra_create_args=extra_create_args,
                policy=policy,
                cancellation_token=cancellation_token,
                deadline=deadline,
            )
        except ModelFaultError as exc:
            if mode is not OutputMode.TEXT and _refused_format(exc):
                mode, attempt = _weaker(mode), attempt - 1  # a capability probe, not an attempt
                continue
            if exc.kind is not ModelFaultKind.MALFORMED_OUTPUT:
                raise
            error, reply = exc.detail[:300], ""  # the client parsed the reply itself and rejected it
        else:
            if usage_sink is not None:
                usage_sink.append(result)
            if isinstance(result.content, str):
                reply = result.content
                try:
                    return parse_structured(reply, schema)
                except (ValueError, ValidationError) as exc:
                    error = _short_error(exc)
            else:
                error = "the reply was a tool call, not JSON"
                reply = json.dumps([{"name": c.name, "arguments": c.arguments} for c in result.content])
        if attempt < policy.max_attempts:
            convo += [
                AssistantMessage(content=reply[:MAX_SHOWN_REPLY] or "(no reply)", source="assistant"),
                UserMessage(content=f"That reply was not valid ({error}). {json_instruction(schema)}", source="user"),
            ]
    raise ModelFaultError(
        ModelFaultKind.MALFORMED_OUTPUT, f"no valid {schema.__name__} JSON: {error}", attempt, raw_output=reply
    )


def _short_error(exc: Exception) -> str:
    """A validation error in one line: pydantic's count line plus its first problem."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and "errors.pydantic.dev" not in line]
    return "; ".join(lines[:3])[:300]
