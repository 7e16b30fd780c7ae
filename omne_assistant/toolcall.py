"""Run one model-requested tool call safely: unknown tools, bad JSON arguments and tool errors become error results."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence

from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import FunctionExecutionResult
from autogen_core.tools import BaseTool
from pydantic import ValidationError

from omne_tools.errors import ToolErrorText

MAX_RESULT_CHARS = 20_000


def tool_index(tools: Sequence[BaseTool]) -> dict[str, BaseTool]:
    names = [tool.name for tool in tools]
    if len(names) != len(set(names)):
        raise ValueError(f"tool names must be unique, got {names}")
    return {tool.name: tool for tool in tools}


async def execute_tool_call(
    call: FunctionCall,
    tools: Mapping[str, BaseTool],
    cancellation_token: CancellationToken,
    timeout_s: float | None = None,
) -> FunctionExecutionResult:
    """The result of `call`; malformed calls and tool exceptions come back as `is_error=True` for the model to see."""

    def error(message: str) -> FunctionExecutionResult:
        return FunctionExecutionResult(content=f"Error: {message}", name=call.name, call_id=call.id, is_error=True)

    tool = tools.get(call.name)
    if tool is None:
        return error(f"unknown tool {call.name!r}; available tools: {', '.join(sorted(tools)) or 'none'}")
    try:
        args = json.loads(call.arguments) if call.arguments.strip() else {}
    except json.JSONDecodeError as exc:
        return error(f"arguments are not valid JSON ({exc.msg}); send a JSON object matching the tool schema")
    if not isinstance(args, dict):
        return error("arguments must be a JSON object")
    try:
        value = await asyncio.wait_for(tool.run_json(args, cancellation_token, call_id=call.id), timeout=timeout_s)
    except asyncio.CancelledError:
        raise
    except ValidationError as exc:
        return error(f"invalid arguments for {call.name}: {exc.errors()[0].get('msg', exc)}")
    except TimeoutError:
        return error(f"{call.name} timed out after {timeout_s:g} s")
    except Exception as exc:  # noqa: BLE001 - a failing tool is an observation, not a crash
        return error(f"{call.name} failed: {type(exc).__name__}: {exc}")
    text = tool.return_value_as_string(value)
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"\n[... truncated, {len(text) - MAX_RESULT_CHARS} more characters]"
    failed = isinstance(value, ToolErrorText)  # a ToolError the tool wrapper turned into text (never the text itself)
    return FunctionExecutionResult(content=text, name=call.name, call_id=call.id, is_error=failed)
