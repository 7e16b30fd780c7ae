"""Scripted model replies for assistant tests: plain text, JSON objects and tool calls as `CreateResult`s."""

from __future__ import annotations

import json
from typing import Any

from autogen_core import FunctionCall
from autogen_core.models import CreateResult, ModelFamily, ModelInfo, RequestUsage
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
