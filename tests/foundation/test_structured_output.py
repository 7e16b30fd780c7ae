"""Structured outputs: every schema Omne asks a model for is bounded, the schema really reaches the client
(scripted clients, and an OpenAI-compatible server on 127.0.0.1 that records each request body), a server that
refuses JSON schemas is asked in JSON mode, and malformed replies are sent back, then reported."""

from __future__ import annotations

import json
from typing import Any

import pytest
from autogen_core.models import ModelFamily, ModelInfo, SystemMessage, UserMessage
from autogen_ext.models.replay import ReplayChatCompletionClient
from pydantic import BaseModel, Field

from omne_assistant.planning import AnswerCheck, Lesson, Replan, TaskPlan
from omne_core.config import ModelCapabilities, ModelProvider, ModelRoleSettings, OmneSettings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, reflect
from omne_core.memory.reflection import SessionSummary, reflection_schema
from omne_core.models import (
    ModelFaultError,
    OutputMode,
    RetryPolicy,
    create_chat_client,
    create_structured,
    output_mode,
)
from tests.support.servers import json_server

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0)
OUTPUT_SCHEMAS = [reflection_schema(3, 2), reflection_schema(1, 0), SessionSummary, TaskPlan, Replan, AnswerCheck, Lesson]


@pytest.fixture
async def store():
    from omne_core.config import load_settings
    from omne_core.memory import MemoryStore

    memory = await MemoryStore.open(load_settings())  # under tmp_path (tests/conftest.py)
    yield memory
    await memory.close()


class Verdict(BaseModel):
    ok: bool
    reasons: list[str] = Field(max_length=3)


def _info(*, json_output: bool, structured: bool) -> ModelInfo:
    return ModelInfo(vision=False, function_calling=False, json_output=json_output, structured_output=structured,
                     family=ModelFamily.UNKNOWN)  # fmt: skip


def _unbounded(schema: dict[str, Any], node: Any = None, path: str = "$") -> list[str]:
    """Paths of arrays without maxItems and of free strings without maxLength ($refs followed)."""
    node = schema if node is None else node
    if "$ref" in node:
        return _unbounded(schema, schema["$defs"][node["$ref"].split("/")[-1]], path)
    found: list[str] = []
    if node.get("type") == "array":
        if "maxItems" not in node:
            found.append(path)
        found += _unbounded(schema, node["items"], path + "[]")
    if node.get("type") == "string" and "enum" not in node and "const" not in node and "maxLength" not in node:
        found.append(path)
    for name, child in (node.get("properties") or {}).items():
        found += _unbounded(schema, child, f"{path}.{name}")
    return found


@pytest.mark.parametrize("schema", OUTPUT_SCHEMAS, ids=lambda s: s.__name__)
def test_every_output_schema_bounds_its_lists_and_strings(schema: type[BaseModel]) -> None:
    assert _unbounded(schema.model_json_schema()) == []


def test_reflection_schema_lists_exactly_the_aliases_shown() -> None:
    schema = reflection_schema(2, 1).model_json_schema()
    conclusion = schema["$defs"]["Conclusion"]["properties"]
    assert conclusion["source_ids"]["items"]["enum"] == ["S1", "S2"]
    assert conclusion["supersedes"]["items"]["const"] == "C1"  # one alias: a constant
    assert conclusion["kind"]["enum"] == ["fact", "preference", "insight", "profile", "experience"]
    assert schema["properties"]["memories"]["maxItems"] == 4
    assert reflection_schema(2, 0).model_json_schema()["$defs"]["Conclusion"]["properties"]["supersedes"]["maxItems"] == 0


@pytest.mark.parametrize(
    ("json_output", "structured", "mode", "sent"),
    [(True, True, OutputMode.SCHEMA, Verdict), (True, False, OutputMode.JSON, True), (False, False, OutputMode.TEXT, None)],
)
async def test_the_strongest_mode_the_client_claims_is_used(json_output, structured, mode, sent) -> None:
    client = ReplayChatCompletionClient(['{"ok": true, "reasons": []}'], model_info=_info(json_output=json_output, structured=structured))
    assert output_mode(client) is mode
    verdict = await create_structured(client, [UserMessage(content="ok?", source="user")], Verdict, policy=FAST)
    assert verdict == Verdict(ok=True, reasons=[])
    assert client.create_calls[0]["json_output"] == sent


async def test_malformed_replies_are_sent_back_then_reported_with_the_last_reply() -> None:
    replies = ["Sure, it is fine.", '{"ok": "maybe"}', '{"ok": true, "reasons": ["a", "b", "c", "d"]}']
    client = ReplayChatCompletionClient(replies, model_info=_info(json_output=True, structured=True))
    with pytest.raises(ModelFaultError) as info:
        await create_structured(client, [UserMessage(content="ok?", source="user")], Verdict, policy=FAST)
    assert info.value.kind == "malformed_output" and info.value.attempts == 3
    assert info.value.raw_output == replies[-1]
    assert "no valid Verdict JSON" in str(info.value) and "at most 3 items" in str(info.value)
    second = client.create_calls[1]["messages"]
    assert second[-2].content == "Sure, it is fine." and "That reply was not valid (no JSON object" in second[-1].content


# -- an OpenAI-compatible server on 127.0.0.1 ----------------------------------------------------------------


def _completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "local-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
    }  # fmt: skip


def _client(base_url: str, **capabilities: Any):
    role = ModelRoleSettings(
        provider=ModelProvider.OPENAI_COMPATIBLE, model="local-model", base_url=base_url, max_retries=0,
        capabilities=ModelCapabilities(**capabilities) if capabilities else None,
    )  # fmt: skip
    return create_chat_client(role, settings=OmneSettings())


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    return schema["$defs"][node["$ref"].split("/")[-1]] if "$ref" in node else node


async def test_reflection_sends_its_json_schema_to_an_openai_compatible_server(store) -> None:
    scope = MemoryScope(user_id="olga", session_id="s1")
    paris, tea = await store.add([
        MemoryRecord(kind=MemoryKind.MESSAGE, text="user: I live in Paris.", scope=scope),
        MemoryRecord(kind=MemoryKind.MESSAGE, text="user: I drink tea every morning.", scope=scope),
    ])  # fmt: skip
    answer = {"memories": [{"kind": "fact", "text": "Olga lives in Paris.", "source_ids": ["S1"], "supersedes": [],
                            "importance": 0.6, "confidence": 0.9}]}  # fmt: skip

    with json_server(lambda method, path, body: (200, _completion(json.dumps(answer)))) as (url, seen):
        client = _client(url + "/v1")  # an unknown model: JSON schemas are assumed
        try:
            result = await reflect(store, scope, client, policy=FAST)
        finally:
            await client.close()

    assert [(r.text, r.source_ids) for r in result.created] == [("Olga lives in Paris.", [paris.id])]
    [(_, path, body)] = seen
    request = json.loads(body)
    assert path == "/v1/chat/completions"
    response_format = request["response_format"]
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    memories = schema["properties"]["memories"]
    assert memories["maxItems"] == 4
    conclusion = _resolve(schema, memories["items"])
    assert conclusion["properties"]["source_ids"]["items"]["enum"] == ["S1", "S2"]  # exactly the aliases shown
    assert conclusion["properties"]["text"]["maxLength"] == 400
    assert conclusion["additionalProperties"] is False
    assert "I drink tea every morning." in request["messages"][-1]["content"] and tea.id not in body.decode()


async def test_a_server_that_refuses_json_schemas_is_asked_in_json_mode() -> None:
    def route(method: str, path: str, body: bytes) -> tuple[int, dict]:
        if json.loads(body).get("response_format", {}).get("type") == "json_schema":  # as llama-cpp-python answers
            return 422, {"error": {"message": "response_format.type: Input should be 'text' or 'json_object'"}}
        return 200, _completion('{"ok": true, "reasons": ["fine"]}')

    with json_server(route) as (url, seen):
        client = _client(url + "/v1")
        try:
            verdict = await create_structured(client, [SystemMessage(content="Judge."), UserMessage(content="ok?", source="user")],
                                              Verdict, policy=FAST)  # fmt: skip
        finally:
            await client.close()
    assert verdict == Verdict(ok=True, reasons=["fine"])
    formats = [json.loads(body)["response_format"]["type"] for _, _, body in seen]
    assert formats == ["json_schema", "json_object"]


async def test_a_malformed_structured_reply_from_the_server_is_sent_back_and_retried() -> None:
    replies = ["I would say it is fine.", '{"ok": true, "reasons": []}']

    with json_server(lambda method, path, body: (200, _completion(replies.pop(0)))) as (url, seen):
        client = _client(url + "/v1", structured_output=True)
        try:
            verdict = await create_structured(client, [UserMessage(content="ok?", source="user")], Verdict, policy=FAST)
        finally:
            await client.close()
    assert verdict == Verdict(ok=True, reasons=[])
    second = json.loads(seen[1][2])
    assert second["response_format"]["type"] == "json_schema"
    assert "That reply was not valid" in second["messages"][-1]["content"]
