"""OmneMemory inside a stock AssistantAgent, the Memory protocol, component round trip, record_conversation."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import MultiModalMessage, TextMessage
from autogen_core import CancellationToken, ComponentModel
from autogen_core import Image as AGImage
from autogen_core.memory import Memory, MemoryContent, MemoryMimeType
from autogen_core.model_context import BufferedChatCompletionContext
from autogen_core.models import LLMMessage, SystemMessage, UserMessage
from autogen_ext.models.replay import ReplayChatCompletionClient
from PIL import Image as PILImage

from omne_core.memory import (
    MemoryKind,
    MemoryRecord,
    MemoryScope,
    MemoryValidationError,
    Modality,
    OmneMemory,
    record_conversation,
)
from omne_core.memory.autogen_memory import MEMORY_MESSAGE_HEADER
from omne_core.memory.store_config import StoreConfig


def memory_messages(messages: Sequence[LLMMessage]) -> list[SystemMessage]:
    return [m for m in messages if isinstance(m, SystemMessage) and m.content.startswith(MEMORY_MESSAGE_HEADER)]


async def test_assistant_agent_sees_memory_without_pile_up(store):
    await store.add([
        MemoryRecord(kind=MemoryKind.FACT, text="Alice's dog is called Biscuit", scope=MemoryScope(user_id="alice")),
        MemoryRecord(kind=MemoryKind.PREFERENCE, text="Alice prefers answers in French", scope=MemoryScope(user_id="alice")),
        MemoryRecord(kind=MemoryKind.FACT, text="Bob's dog is called Rocket", scope=MemoryScope(user_id="bob")),
    ])
    memory = OmneMemory(user_id="alice", session_id="chat-1", store=store, k=5)
    model = ReplayChatCompletionClient(["Biscuit.", "En français.", "Bien sûr."])  # it keeps what it was sent
    agent = AssistantAgent("assistant", model_client=model, memory=[memory])
    questions = ["What is my dog called?", "Which language do I prefer?", "Tell me about my dog again"]
    for question in questions:
        result = await agent.run(task=question)
        assert any(type(m).__name__ == "MemoryQueryEvent" for m in result.messages)
    seen: list[Sequence[LLMMessage]] = [call["messages"] for call in model.create_calls]
    assert len(seen) == 3
    for call, question in zip(seen, questions, strict=True):
        mems = memory_messages(call)
        assert len(mems) == 1, [m.content[:60] for m in mems]
        assert "Biscuit" in mems[0].content and "Rocket" not in mems[0].content
        # the memory message was built for this turn's question
        assert isinstance(call[-2], UserMessage) and call[-2].content == question
    assert "French" in memory_messages(seen[1])[0].content
    state = await agent.save_state()
    saved = [m for m in state["llm_context"]["messages"] if m.get("type") == "SystemMessage"]
    assert len(saved) == 1


async def test_update_context_replaces_outside_the_buffer_window(store):
    await store.add(MemoryRecord(kind=MemoryKind.FACT, text="the door code is 4711", scope=MemoryScope(user_id="u")))
    memory = OmneMemory(user_id="u", store=store)
    context = BufferedChatCompletionContext(buffer_size=2)
    for i in range(4):
        await context.add_message(UserMessage(content=f"what is the door code? ({i})", source="user"))
        result = await memory.update_context(context)
        assert result.memories.results[0].content == "the door code is 4711"
    state = await context.save_state()
    assert sum(1 for m in state["messages"] if m["type"] == "SystemMessage") == 1


async def test_memory_protocol_add_query_clear(store):
    memory = OmneMemory(user_id="carol", agent_id="helper", store=store)
    assert isinstance(memory, Memory)
    await memory.add(MemoryContent(content="Carol is allergic to peanuts", mime_type=MemoryMimeType.TEXT,
                                   metadata={"omne": {"kind": "fact", "importance": 0.9}}))
    await memory.add(MemoryContent(content={"city": "Oslo"}, mime_type=MemoryMimeType.JSON))
    result = await memory.query("what is carol allergic to")
    assert result.results[0].content == "Carol is allergic to peanuts"
    assert result.results[0].metadata["omne"]["kind"] == "fact"
    records = await store.list(MemoryScope(user_id="carol"))
    assert {r.kind for r in records} == {MemoryKind.FACT, MemoryKind.OBSERVATION}
    assert next(r for r in records if r.payload).payload == {"city": "Oslo"}
    await store.add(MemoryRecord(kind=MemoryKind.FACT, text="other agent", scope=MemoryScope(user_id="carol", agent_id="x")))
    await memory.clear()
    remaining = await store.list(MemoryScope(user_id="carol"), include_inactive=True)
    assert [r.text for r in remaining] == ["other agent"]
    assert (await memory.query("peanuts", CancellationToken())).results == []


async def test_query_by_the_metadata_content_was_added_with(store):
    """`query(..., metadata={...})`: only what was added labelled so, searched or (empty query) listed."""
    memory = OmneMemory(user_id="dora", store=store)
    for text, project in (("Kick-off notes: budget approved", "apollo"), ("Kick-off notes: venue booked", "zeus")):
        await memory.add(MemoryContent(content=text, mime_type=MemoryMimeType.TEXT, metadata={"project": project}))
    await memory.add(MemoryContent(content="Kick-off notes: no project", mime_type=MemoryMimeType.TEXT))
    found = await memory.query("kick-off notes", metadata={"project": "zeus"})
    assert [r.content for r in found.results] == ["Kick-off notes: venue booked"]
    assert found.results[0].metadata["project"] == "zeus"
    listed = await memory.query("", metadata={"project": "apollo"})
    assert [r.content for r in listed.results] == ["Kick-off notes: budget approved"]
    assert len((await memory.query("kick-off notes")).results) == 3
    with pytest.raises(MemoryValidationError, match="metadata"):
        await memory.query("kick-off", metadata={"project": ["zeus"]})


async def test_component_round_trip(tmp_path):
    memory = OmneMemory(
        user_id="dora", agent_id="a1", session_id="s1", namespace="team", k=4, max_tokens=300,
        read_scopes=[MemoryScope(user_id="dora", namespace="team"), MemoryScope(user_id="dora", agent_id="a1")],
        store=StoreConfig(data_dir=tmp_path / "omne"),
    )
    dumped = memory.dump_component()
    assert dumped.provider == "omne_core.memory.OmneMemory"
    as_json = dumped.model_dump_json()
    loaded = Memory.load_component(ComponentModel.model_validate_json(as_json))
    assert isinstance(loaded, OmneMemory)
    assert loaded.config == memory.config
    assert loaded.read_scopes == memory.read_scopes
    # the loaded component opens its own store from the config and works
    await loaded.add(MemoryContent(content="Dora speaks Basque", mime_type=MemoryMimeType.TEXT))
    assert (await loaded.query("which language")).results[0].content == "Dora speaks Basque"
    assert (tmp_path / "omne" / "memory.sqlite3").exists()
    await loaded.close()


async def test_record_conversation_stores_l0_messages_once(store):
    agent = AssistantAgent("assistant", model_client=ReplayChatCompletionClient(["Nice to meet you, Eve."]))
    result = await agent.run(task=TextMessage(content="Hi, I'm Eve and I play the cello.", source="eve"))
    scope = MemoryScope(user_id="eve", session_id="intro")
    stored = await record_conversation(store, result, scope)
    assert [(r.kind, r.metadata["speaker"]) for r in stored] == [(MemoryKind.MESSAGE, "eve"), (MemoryKind.MESSAGE, "assistant")]
    assert stored[0].event_time == result.messages[0].created_at
    again = await record_conversation(store, result.messages, scope)
    assert [r.id for r in again] == [r.id for r in stored]
    hits = await store.search("what instrument does Eve play", scope)
    assert hits[0].record.id == stored[0].id
    memory = OmneMemory(user_id="eve", session_id="intro", store=store)
    via_memory = await record_conversation(memory, result)
    assert [r.id for r in via_memory] == [r.id for r in stored]


async def test_record_conversation_keeps_images_of_multimodal_messages_as_blobs(store):
    picture = AGImage(PILImage.new("RGB", (8, 6), (200, 30, 30)))
    message = MultiModalMessage(content=["Here is the red tile we ordered", picture], source="frank")
    scope = MemoryScope(user_id="frank", session_id="tiles")

    stored = await record_conversation(store, [message], scope)

    assert [r.modality for r in stored] == [Modality.TEXT, Modality.IMAGE]
    image = stored[1]
    assert image.blob_ref and store.blobs.exists(image.blob_ref)
    assert PILImage.open(io.BytesIO(store.blobs.get_bytes(image.blob_ref))).size == (8, 6)
    assert image.metadata["speaker"] == "frank" and image.text.startswith("[Image")
    assert [r.id for r in await record_conversation(store, [message], scope)] == [r.id for r in stored]  # once
    assert (await store.search("red tile we ordered", scope))[0].record.id == stored[0].id


async def test_update_context_leaves_out_records_the_context_already_holds(store):
    """A conversation recorded as it goes (`record_conversation`: the bare text; `SimpleResponder`: "user: ...") is
    in the store and in the model context: its records would only take the memory message's slots twice."""
    scope = MemoryScope(user_id="u")
    await store.add([MemoryRecord(kind=MemoryKind.MESSAGE, text=t, scope=scope) for t in (
        "I moved to Lyon for the night shift", "user: Where should I live in Lyon?")])  # fmt: skip (bare, prefixed)
    await store.add(MemoryRecord(kind=MemoryKind.FACT, text="the user works night shifts at a hospital in Lyon", scope=scope))
    memory = OmneMemory(user_id="u", store=store, k=2)
    context = BufferedChatCompletionContext(buffer_size=4)
    await context.add_message(UserMessage(content="I  moved to Lyon\nfor the night shift", source="user"))
    await context.add_message(UserMessage(content="Where should I live in Lyon?", source="user"))
    result = await memory.update_context(context)
    assert [m.content for m in result.memories.results] == ["the user works night shifts at a hospital in Lyon"]
    other = BufferedChatCompletionContext(buffer_size=4)  # a context without them gets them
    await other.add_message(UserMessage(content="Where should I live in Lyon?", source="user"))
    shown = [m.content for m in (await memory.update_context(other)).memories.results]
    assert "I moved to Lyon for the night shift" in shown and len(shown) == 2
