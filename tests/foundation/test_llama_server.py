"""Integration: a real `python -m llama_cpp.server` on 127.0.0.1 serving the bundled Gemma GGUF, reached through
the same `create_chat_client` path an `openai_compatible` user (vLLM, Ollama, LM Studio) takes."""

from __future__ import annotations

from autogen_core.models import CreateResult, SystemMessage, UserMessage

from omne_core.config import ModelProvider, ModelRoleSettings, OmneSettings
from omne_core.models import UsageLedger, create_chat_client
from tests.support.local_model import LLAMA_ALIAS as ALIAS


def server_role(base_url: str) -> ModelRoleSettings:
    return ModelRoleSettings(
        provider=ModelProvider.OPENAI_COMPATIBLE, model=ALIAS, base_url=base_url, max_tokens=6, temperature=0.0,
        timeout_s=30.0,
    )  # fmt: skip


async def test_completion_through_the_openai_compatible_path(llama_server_url):
    ledger = UsageLedger()
    client = create_chat_client(server_role(llama_server_url), settings=OmneSettings(), usage=ledger)
    try:
        messages = [SystemMessage(content="Answer in one word."), UserMessage(content="Name a colour.", source="user")]
        result = await client.create(messages)
    finally:
        await client.close()
    assert isinstance(result.content, str) and result.content.strip()
    assert result.finish_reason in {"stop", "length"}
    assert result.usage.prompt_tokens > 5 and 1 <= result.usage.completion_tokens <= 6
    (record,) = ledger.records()
    assert record.model == ALIAS and record.provider == "openai_compatible" and not record.estimated
    assert (record.prompt_tokens, record.completion_tokens) == (result.usage.prompt_tokens, result.usage.completion_tokens)
    assert record.latency_s > 0 and record.error is None


async def test_streaming_through_the_server_is_recorded(llama_server_url):
    ledger = UsageLedger()
    client = create_chat_client(server_role(llama_server_url), settings=OmneSettings(), usage=ledger)
    try:
        chunks = [chunk async for chunk in client.create_stream([UserMessage(content="Count: one, two,", source="user")])]
    finally:
        await client.close()
    final = chunks[-1]
    assert isinstance(final, CreateResult)
    assert "".join(c for c in chunks[:-1] if isinstance(c, str)) == final.content and final.content
    (record,) = ledger.records()
    assert record.streamed and record.prompt_tokens > 0 and record.completion_tokens > 0
    # llama.cpp's server ignores stream_options.include_usage: the counts are then estimated, and marked so.
    assert record.estimated == (final.usage.prompt_tokens == 0)
