"""What an agent reads from one tool call: the result, or the tool's `ToolError` as text (`agent_tool`)."""

from __future__ import annotations

from typing import Any

from autogen_core import CancellationToken
from autogen_core.tools import FunctionTool


async def tool_text(tool: FunctionTool, **args: Any) -> str:
    result = await tool.run_json(args, CancellationToken())
    return tool.return_value_as_string(result)
