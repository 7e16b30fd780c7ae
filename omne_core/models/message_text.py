"""Plain-text renderings of AutoGen `LLMMessage`s, for offline token counting and text-only chat templates."""

from __future__ import annotations

import json
from collections.abc import Sequence

from autogen_core import FunctionCall, Image
from autogen_core.models import (
    AssistantMessage,
    FunctionExecutionResultMessage,
    LLMMessage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import Tool, ToolSchema


def function_calls_text(calls: Sequence[FunctionCall]) -> str:
    """Tool calls as text a model can read back: one `name(arguments)` line per call."""
    return "\n".join(f"[tool call {call.id}] {call.name}({call.arguments})" for call in calls)


def message_text(message: LLMMessage, *, image_placeholder: str = "[image]") -> str:
    """The text of `message`; images become `image_placeholder`, tool calls and results become readable lines."""
    if isinstance(message, SystemMessage):
        return message.content
    if isinstance(message, UserMessage):
        if isinstance(message.content, str):
            return message.content
        texts = (part if isinstance(part, str) else image_placeholder for part in message.content)
        return "\n".join(text for text in texts if text)
    if isinstance(message, AssistantMessage):
        parts = [message.thought] if message.thought else []
        if isinstance(message.content, str):
            parts.append(message.content)
        else:
            parts.append(function_calls_text(message.content))
        return "\n".join(parts)
    if isinstance(message, FunctionExecutionResultMessage):
        return "\n".join(
            f"[tool result {result.call_id}] {result.name}{' (error)' if result.is_error else ''}: {result.content}"
            for result in message.content
        )
    raise TypeError(f"Unsupported message type: {type(message).__name__}")


def message_images(message: LLMMessage) -> list[Image]:
    """The images attached to `message` (only user messages carry images)."""
    if isinstance(message, UserMessage) and not isinstance(message.content, str):
        return [part for part in message.content if isinstance(part, Image)]
    return []


def tool_schema(tool: Tool | ToolSchema) -> ToolSchema:
    """The JSON schema of a tool, whether given as a `Tool` or a schema."""
    return tool.schema if isinstance(tool, Tool) else tool


def tools_text(tools: Sequence[Tool | ToolSchema]) -> str:
    """All tool schemas as compact JSON, the way they are sent to a model."""
    return "\n".join(json.dumps(tool_schema(tool), separators=(",", ":")) for tool in tools)
