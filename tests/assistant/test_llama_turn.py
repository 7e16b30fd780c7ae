"""One end-to-end Simple Responder turn against a REAL local llama.cpp server (OpenAI-compatible path)."""

from __future__ import annotations

import pytest
from autogen_agentchat.messages import MemoryQueryEvent, TextMessage

from omne_assistant import SimpleResponder
from omne_core.config import ModelProvider, ModelRoleSettings, OmneSettings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope
from omne_core.models import UsageLedger, create_chat_client
from tests.support.local_model import LLAMA_ALIAS

pytestmark = pytest.mark.llamacpp


async def test_one_memory_grounded_turn_against_llama_cpp_server(llama_server_url, store):
    [seed] = await store.add(
        MemoryRecord(kind=MemoryKind.MESSAGE, text="user: My cat is called Pixel.", scope=MemoryScope(user_id="real", session_id="s0"))
    )
    role = ModelRoleSettings(
        provider=ModelProvider.OPENAI_COMPATIBLE, model=LLAMA_ALIAS, base_url=llama_server_url,
        max_tokens=16, temperature=0.0, timeout_s=120.0,
    )  # fmt: skip
    ledger = UsageLedger()
    client = create_chat_client(role, settings=OmneSettings(), usage=ledger)
    agent = SimpleResponder("omne", client, store, MemoryScope(user_id="real"), reflect_every=None)
    try:
        result = await agent.run(task="What is my cat called?")
    finally:
        await client.close()

    memory_events = [m for m in result.messages if isinstance(m, MemoryQueryEvent)]
    assert seed.id in [c.metadata["id"] for c in memory_events[0].content]
    reply = result.messages[-1]
    assert isinstance(reply, TextMessage) and reply.metadata["status"] == "ok" and reply.content.strip()
    (call,) = ledger.records()
    assert call.prompt_tokens > 60  # the system prompt with the packed memory went to the server
    assert 1 <= call.completion_tokens <= 16
    stored = await store.list(MemoryScope(user_id="real", session_id=agent.session_id), kinds=[MemoryKind.MESSAGE])
    assert {r.metadata["speaker"] for r in stored} == {"user", "omne"}
