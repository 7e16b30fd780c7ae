"""`OmneMemory` as a drop-in for AutoGen's `ListMemory` and `ChromaDBVectorMemory`.

The scenarios of AutoGen's own suites (autogen-core `test_memory.py`, autogen-ext `test_chroma_memory.py`,
autogen-agentchat `test_assistant_agent.py` memory tests), ported to Omne, plus what a user moving from them
relies on: metadata kept with its types, an absolute `score_threshold`, `clear()` limited to what the memory
reads, MIME types kept, and a dumped component that reopens the same store.
"""

from __future__ import annotations

import base64
import io
import json
import random
from typing import Any

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import MemoryQueryEvent
from autogen_core import ComponentModel, Image
from autogen_core.memory import Memory, MemoryContent, MemoryMimeType
from autogen_core.model_context import BufferedChatCompletionContext
from autogen_core.models import SystemMessage, UserMessage
from autogen_ext.models.replay import ReplayChatCompletionClient
from PIL import Image as PILImage
from pydantic import ValidationError

from omne_core.config import OmneSettings
from omne_core.errors import ConfigurationError, StoreNotOpenError
from omne_core.memory import (
    MemoryKind,
    MemoryRecord,
    MemoryScope,
    MemoryStore,
    MemoryValidationError,
    OmneMemory,
    OmneMemoryConfig,
)
from omne_core.memory.autogen_memory import MEMORY_MESSAGE_HEADER
from omne_core.memory.filters import RecordFilter
from omne_core.memory.store_config import STORE_SECTIONS

TEXT = MemoryMimeType.TEXT


def text(content: str, **metadata: Any) -> MemoryContent:
    return MemoryContent(content=content, mime_type=TEXT, metadata=metadata or None)


def png(color: tuple[int, int, int]) -> Image:
    buffer = io.BytesIO()
    PILImage.new("RGB", (6, 4), color).save(buffer, format="PNG")
    return Image.from_base64(base64.b64encode(buffer.getvalue()).decode())


# -- 1. user metadata ------------------------------------------------------------------------------------------
async def test_user_metadata_round_trips_with_its_types(store):
    """autogen-ext test_metadata_handling, plus the keys Omne once took over (kind, importance, description)."""
    memory = OmneMemory(user_id="meta", store=store)
    user_meta = {
        "test_category": "test", "test_priority": 1, "test_weight": 0.5, "test_verified": True,
        "kind": "note", "importance": "high", "description": "the user's own", "score": -3, "id": "mine",
        "nested": {"a": [1, 2.5, False, None]},
    }
    await memory.add(text("Test content with specific metadata", **user_meta))

    result = (await memory.query("Test content with specific metadata")).results[0]
    assert result.metadata is not None
    mine = {k: v for k, v in result.metadata.items() if k != "omne"}
    assert mine == user_meta
    for key, kind in (("test_priority", int), ("test_weight", float), ("test_verified", bool)):
        assert type(result.metadata[key]) is kind
    omne = result.metadata["omne"]  # Omne's own fields, under one key
    assert omne["kind"] == "observation" and isinstance(omne["id"], str) and isinstance(omne["similarity"], float)
    (record,) = await store.list(MemoryScope(user_id="meta"))
    assert record.kind is MemoryKind.OBSERVATION and record.importance == 0.5  # the user's keys changed nothing
    assert record.metadata == user_meta


async def test_omne_fields_are_set_under_their_own_key(store):
    memory = OmneMemory(user_id="opts", store=store)
    await memory.add(text("Carol is allergic to peanuts", kind="fact", omne={"kind": "fact", "importance": 0.9}))
    (record,) = await store.list(MemoryScope(user_id="opts"))
    assert record.kind is MemoryKind.FACT and record.importance == 0.9
    assert record.metadata == {"kind": "fact"}  # the "omne" key is not stored as user metadata

    hit = (await memory.query("what is carol allergic to")).results[0]
    assert hit.metadata is not None and hit.metadata["kind"] == "fact" and hit.metadata["omne"]["importance"] == 0.9

    # a query result added to another memory keeps its content, user metadata, kind and importance
    other = OmneMemory(user_id="opts", namespace="copy", store=store)
    await other.add(hit)
    (copied,) = await store.list(MemoryScope(user_id="opts", namespace="copy"))
    assert (copied.text, copied.kind, copied.importance, copied.metadata) == (
        record.text, record.kind, record.importance, record.metadata,
    )


@pytest.mark.parametrize(
    "omne",
    [{"kind": "note"}, {"importance": "high"}, {"importance": 2}, {"colour": "red"}, "fact", ["kind"]],
)
async def test_bad_omne_fields_are_refused_clearly(store, omne):
    memory = OmneMemory(user_id="bad", store=store)
    with pytest.raises(MemoryValidationError, match="omne"):
        await memory.add(text("anything", omne=omne))
    assert await store.list(MemoryScope(user_id="bad")) == []


# -- 2. score_threshold ----------------------------------------------------------------------------------------
async def test_score_threshold_is_an_absolute_similarity(store):
    """A one-record store: gibberish falls below a sensible threshold, a paraphrase passes (MiniLM embeddings)."""
    memory = OmneMemory(user_id="thr", store=store, score_threshold=0.4)
    await memory.add(text("Alice's dog is called Biscuit"))

    assert (await memory.query("xq zzv plorb wibble")).results == []
    assert (await memory.query("recipe for cake")).results == []
    (hit,) = (await memory.query("What is the name of Alice's dog?")).results
    assert hit.content == "Alice's dog is called Biscuit"
    assert hit.metadata is not None and hit.metadata["omne"]["similarity"] >= 0.4

    # per query: a stricter threshold, or none at all
    assert (await memory.query("What is the name of Alice's dog?", score_threshold=0.99)).results == []
    assert len((await memory.query("xq zzv plorb wibble", score_threshold=None)).results) == 1


async def test_strict_threshold_as_in_chroma(store):
    """autogen-ext test_strict_matching: threshold 0.8."""
    memory = OmneMemory(user_id="strict", store=store, k=3, score_threshold=0.8)
    await memory.add(text("Specific technical details about quantum computing"))
    exact = (await memory.query("quantum computing details")).results
    assert exact and all(r.metadata is not None and r.metadata["omne"]["similarity"] >= 0.8 for r in exact)
    assert (await memory.query("recipe for cake")).results == []


async def test_threshold_keeps_unrelated_memories_out_of_the_context(store):
    memory = OmneMemory(user_id="ctx", store=store, score_threshold=0.4)
    await memory.add(text("The door code is 4711"))
    context = BufferedChatCompletionContext(buffer_size=5)
    await context.add_message(UserMessage(content="Tell me a joke about penguins", source="user"))
    assert (await memory.update_context(context)).memories.results == []
    assert all(not isinstance(m, SystemMessage) for m in await context.get_messages())
    await context.add_message(UserMessage(content="What is the door code?", source="user"))
    assert [r.content for r in (await memory.update_context(context)).memories.results] == ["The door code is 4711"]


async def test_threshold_applies_among_many_records(store):
    """With more records than the search takes as candidates, every result still passes the threshold."""
    memory = OmneMemory(user_id="many", store=store, k=20, score_threshold=0.45)
    topics = ["dog", "cat", "car", "tax", "piano", "garden", "recipe", "flight", "bank", "school"]
    await store.add([
        MemoryRecord(kind=MemoryKind.OBSERVATION, text=f"note {i} about the {topics[i % 10]} and the weather",
                     scope=MemoryScope(user_id="many"))
        for i in range(120)
    ])
    results = (await memory.query("the weather today")).results
    assert results and all(r.metadata is not None and r.metadata["omne"]["similarity"] >= 0.45 for r in results)


def test_unknown_options_are_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="scor_threshold"):
        OmneMemory(user_id="u", scor_threshold=0.5)
    with pytest.raises(ValidationError):
        OmneMemoryConfig.model_validate({"user_id": "u", "bogus": 1})
    with pytest.raises(ValidationError):
        OmneMemoryConfig.model_validate({"user_id": "u", "read_scopes": [{"user_id": "u", "sesion_id": "s"}]})
    with pytest.raises(ValidationError):
        OmneMemoryConfig.model_validate({"user_id": "u", "store": {"data_dir": str(tmp_path), "chroma": {"mod": "http"}}})
    with pytest.raises(ValidationError):
        OmneMemoryConfig.model_validate({"user_id": "u", "settings_overrides": {"chroma": {"mode": "http"}}})


async def test_unknown_query_options_are_errors(store):
    memory = OmneMemory(user_id="q", store=store)
    with pytest.raises(MemoryValidationError, match="n_results"):
        await memory.query("anything", n_results=3)


# -- 3. clear() ------------------------------------------------------------------------------------------------
USERS, AGENTS, SESSIONS, NAMESPACES = ["u1", "u2"], [None, "a1", "a2"], [None, "s1", "s2"], [None, "team", "team/a1"]


def random_scope(rng: random.Random, partial: bool = False) -> MemoryScope:
    fields = {"agent_id": rng.choice(AGENTS), "session_id": rng.choice(SESSIONS), "namespace": rng.choice(NAMESPACES)}
    if partial:
        fields = {k: (v if rng.random() < 0.5 else None) for k, v in fields.items()}
    return MemoryScope(user_id=rng.choice(USERS), **fields)


def random_memory(rng: random.Random, store: MemoryStore) -> OmneMemory:
    write = random_scope(rng)
    options: dict[str, Any] = {
        "agent_id": write.agent_id, "session_id": write.session_id, "namespace": write.namespace, "store": store,
    }
    if rng.random() < 0.5:
        options["read_scopes"] = [random_scope(rng, partial=True) for _ in range(rng.choice([1, 2]))]
    if rng.random() < 0.3:
        options["kinds"] = rng.sample([MemoryKind.FACT, MemoryKind.OBSERVATION, MemoryKind.MESSAGE], 2)
    return OmneMemory(user_id=write.user_id, **options)


async def snapshot(store: MemoryStore) -> dict[str, MemoryRecord]:
    records = await store.list([MemoryScope(user_id=u) for u in USERS], include_inactive=True, limit=None)
    return {r.id: r for r in records}


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
async def test_clear_removes_exactly_what_query_can_return(store, seed):
    rng = random.Random(seed)
    kinds = [MemoryKind.FACT, MemoryKind.OBSERVATION, MemoryKind.MESSAGE]
    records = [
        MemoryRecord(kind=rng.choice(kinds), text=f"shared words note {i} {rng.random():.6f}", scope=random_scope(rng))
        for i in range(80)
    ]
    stored = await store.add(records)
    for old, new in zip(stored[:10], stored[10:20], strict=True):  # some superseded versions
        if old.scope.user_id == new.scope.user_id:
            await store.supersede(old.id, new.id)
    for record in stored[20:25]:
        await store.delete(record.id)  # soft-deleted: kept as history

    for _ in range(3):
        memory = random_memory(rng, store)
        before = await snapshot(store)
        reads = RecordFilter.build(memory.read_scopes, memory.config.kinds, include_inactive=True)
        inside = {rid for rid, r in before.items() if reads.matches(r)}
        queried = (await memory.query("shared words note", k=100)).results
        assert {r.metadata["omne"]["id"] for r in queried if r.metadata} <= inside

        await memory.clear()

        after = await snapshot(store)
        assert not inside & set(after), "a record the memory reads survived clear()"
        assert after == {rid: r for rid, r in before.items() if rid not in inside}, "clear() touched other records"
        assert (await memory.query("shared words note", k=100)).results == []


async def test_per_query_kinds_never_widen_what_the_memory_reads(store):
    scope = MemoryScope(user_id="kinds")
    await store.add([
        MemoryRecord(kind=MemoryKind.FACT, text="the boat is blue", scope=scope),
        MemoryRecord(kind=MemoryKind.MESSAGE, text="I think the boat is blue", scope=scope),
    ])
    memory = OmneMemory(user_id="kinds", kinds=[MemoryKind.FACT], store=store)
    assert [r.content for r in (await memory.query("boat", kinds=["message"])).results] == []
    assert [r.content for r in (await memory.query("boat", kinds=["message", "fact"])).results] == ["the boat is blue"]
    await memory.clear()
    assert [r.text for r in await store.list(scope)] == ["I think the boat is blue"]


async def test_clear_with_a_session_removes_every_session_it_reads(store):
    alice = MemoryScope(user_id="alice")
    await store.add([
        MemoryRecord(kind=MemoryKind.MESSAGE, text="older session: I live in Lyon", scope=alice.model_copy(update={"session_id": "s0"})),
        MemoryRecord(kind=MemoryKind.FACT, text="Alice likes tea", scope=alice),
        MemoryRecord(kind=MemoryKind.FACT, text="Bob likes tea", scope=MemoryScope(user_id="bob")),
    ])
    memory = OmneMemory(user_id="alice", session_id="s1", store=store)
    await memory.add(text("this session: I moved to Paris"))
    assert len((await memory.query("where do I live")).results) == 3
    await memory.clear()
    assert (await memory.query("where do I live")).results == []
    assert [r.text for r in await store.list([alice, MemoryScope(user_id="bob")], include_inactive=True)] == ["Bob likes tea"]


async def test_clear_of_a_reader_leaves_what_it_does_not_read(store):
    """examples/custom_agent.py: a reader of the team's namespace and one private scope, writing nowhere else."""
    shared = MemoryScope(user_id="acme", namespace="launch")
    critic = MemoryScope(user_id="acme", agent_id="critic", namespace="launch/critic")
    planner = MemoryScope(user_id="acme", agent_id="planner", namespace="launch/planner")
    await store.add([
        MemoryRecord(kind=MemoryKind.OBSERVATION, text="the launch date is May 3", scope=shared),
        MemoryRecord(kind=MemoryKind.OBSERVATION, text="the budget is tight", scope=critic),
        MemoryRecord(kind=MemoryKind.OBSERVATION, text="the planner's secret", scope=planner),
        MemoryRecord(kind=MemoryKind.OBSERVATION, text="another team", scope=MemoryScope(user_id="acme", namespace="ops")),
    ])
    reader = OmneMemory(user_id="acme", read_scopes=[shared, critic], store=store)
    await reader.clear()
    left = await store.list(MemoryScope(user_id="acme"), include_inactive=True)
    assert sorted(r.text for r in left) == ["another team", "the planner's secret"]


# -- 4. MIME types ---------------------------------------------------------------------------------------------
async def test_every_mime_type_round_trips(store):
    """autogen-core test_list_memory_content_types and the AssistantAgent test's image, through query()."""
    memory = OmneMemory(user_id="mime", store=store, k=10)
    image = png((200, 30, 30))
    blob = bytes(range(256)) * 3
    await memory.add(MemoryContent(content="plain text about the harbour", mime_type=TEXT))
    await memory.add(MemoryContent(content="# Harbour\n\n*markdown* notes", mime_type=MemoryMimeType.MARKDOWN))
    await memory.add(MemoryContent(content={"key": "value", "number": 42, "harbour": True}, mime_type=MemoryMimeType.JSON))
    await memory.add(MemoryContent(content=blob, mime_type=MemoryMimeType.BINARY, metadata={"omne": {"description": "harbour tide table"}}))
    await memory.add(MemoryContent(content=image, mime_type=MemoryMimeType.IMAGE, metadata={"omne": {"description": "red harbour buoy"}}))
    await memory.add(MemoryContent(content="a,b\n1,2", mime_type="text/csv"))

    results = (await memory.query("harbour", k=10)).results
    by_mime = {r.mime_type: r.content for r in results}
    assert by_mime[TEXT] == "plain text about the harbour"
    assert by_mime[MemoryMimeType.MARKDOWN] == "# Harbour\n\n*markdown* notes"
    assert by_mime[MemoryMimeType.JSON] == {"key": "value", "number": 42, "harbour": True}
    assert by_mime[MemoryMimeType.BINARY] == blob
    returned = by_mime[MemoryMimeType.IMAGE]
    assert isinstance(returned, Image) and returned.to_base64() == image.to_base64()
    csv = (await memory.query("a,b 1,2")).results[0]
    assert (csv.content, csv.mime_type) == ("a,b\n1,2", "text/csv")
    assert all(json.dumps(r.metadata) for r in results)  # metadata stays JSON

    # a JSON query finds the JSON memory (chroma's test_content_types)
    assert (await memory.query(MemoryContent(content={"key": "value"}, mime_type=MemoryMimeType.JSON))).results


@pytest.mark.parametrize(
    ("content", "mime", "message"),
    [
        ("not a dict", MemoryMimeType.JSON, "JSON content must be a dict"),
        ({"a": 1}, TEXT, "dict"),
        ("text", MemoryMimeType.IMAGE, "image"),
        ("text", MemoryMimeType.BINARY, "bytes"),
        (b"\x00\x01", TEXT, "bytes"),
        ({"when": object()}, MemoryMimeType.JSON, "JSON"),
    ],
)
async def test_content_that_does_not_match_its_mime_type_is_refused(store, content, mime, message):
    memory = OmneMemory(user_id="refuse", store=store)
    with pytest.raises(MemoryValidationError, match=message):
        await memory.add(MemoryContent(content=content, mime_type=mime))
    assert await store.list(MemoryScope(user_id="refuse")) == []


async def test_an_image_or_bytes_cannot_be_a_query(store):
    memory = OmneMemory(user_id="img", store=store)
    with pytest.raises(MemoryValidationError, match="text"):
        await memory.query(MemoryContent(content=png((1, 2, 3)), mime_type=MemoryMimeType.IMAGE))


async def test_empty_query_lists_the_newest_memories_like_list_memory(store):
    """autogen-agentchat test_run_with_memory: text, JSON and an image, all listed by an empty query."""
    memory = OmneMemory(user_id="list", store=store)
    assert (await memory.query("")).results == []
    await memory.add(MemoryContent(content="text content", mime_type=TEXT))
    await memory.add(MemoryContent(content={"key": "value"}, mime_type=MemoryMimeType.JSON))
    await memory.add(MemoryContent(content=png((0, 0, 255)), mime_type=MemoryMimeType.IMAGE))
    listed = (await memory.query(MemoryContent(content="", mime_type=TEXT))).results
    assert [type(r.content) for r in listed] == [Image, dict, str]  # newest first
    await memory.clear()
    assert (await memory.query("")).results == []


# -- 5. component ----------------------------------------------------------------------------------------------
async def test_dumped_memory_reopens_the_same_store(tmp_path, embedder, monkeypatch):
    data_dir = tmp_path / "explicit-store"
    settings = OmneSettings(data_dir=data_dir, memory={"dense_candidates": 33})
    store = await MemoryStore.open(settings, embedder=embedder)
    memory = OmneMemory(user_id="dora", namespace="team", k=4, score_threshold=0.2, store=store)
    await memory.add(text("Dora speaks Basque", lang="eu"))
    dumped = memory.dump_component().model_dump_json()
    await store.close()

    config = json.loads(dumped)["config"]
    assert "settings_overrides" not in config and "data_dir" not in config
    assert config["store"]["data_dir"] == str(data_dir)
    assert config["store"]["memory"]["dense_candidates"] == 33  # typed sections, every knob the store uses
    assert set(config["store"]) == {"kind", *STORE_SECTIONS}

    monkeypatch.setenv("OMNE_DATA_DIR", str(tmp_path / "elsewhere"))  # the environment does not decide
    loaded = Memory.load_component(ComponentModel.model_validate_json(dumped))
    assert isinstance(loaded, OmneMemory)
    (hit,) = (await loaded.query("which language does Dora speak")).results
    assert hit.content == "Dora speaks Basque" and hit.metadata is not None and hit.metadata["lang"] == "eu"
    reopened = await loaded.get_store()
    assert reopened.open_config() == memory.config.store  # the same store, the same settings
    assert not (tmp_path / "elsewhere").exists()
    await loaded.close()

    bad = json.loads(dumped)
    bad["config"]["store"]["memory"]["no_such_knob"] = 1
    with pytest.raises(ValidationError, match="no_such_knob"):
        Memory.load_component(bad)


async def test_a_given_store_is_used_and_left_open(tmp_path, embedder):
    store = await MemoryStore.open(OmneSettings(data_dir=tmp_path / "given"), embedder=embedder)
    memory = OmneMemory(user_id="g", store=store)
    await memory.add(text("kept in the given store"))
    await memory.close()
    assert store.is_open and [r.text for r in await store.list(MemoryScope(user_id="g"))] == ["kept in the given store"]
    await store.close()
    with pytest.raises(StoreNotOpenError, match="given"):
        await memory.query("anything")  # never a silent second store


async def test_dumped_config_holds_no_secret(tmp_path, embedder):
    settings = OmneSettings(data_dir=tmp_path / "d", embedding={"api_key": "sk-very-secret"})
    store = await MemoryStore.open(settings, embedder=embedder)
    memory = OmneMemory(user_id="s", store=store)
    dumped = memory.dump_component().model_dump_json()
    await store.close()
    assert "sk-very-secret" not in dumped and "*****" not in dumped


async def test_assistant_agent_with_omne_memory_dumps_and_loads(tmp_path, embedder):
    """autogen-agentchat test_run_with_memory: an agent dumped with its memory and loaded still recalls."""
    store = await MemoryStore.open(OmneSettings(data_dir=tmp_path / "agent-store"), embedder=embedder)
    memory = OmneMemory(user_id="agent-user", store=store)
    await memory.add(text("test instruction: always answer in haiku"))
    agent = AssistantAgent("test_agent", model_client=ReplayChatCompletionClient(["Hello"]), memory=[memory])
    agent_config = agent.dump_component()
    await store.close()

    agent2 = AssistantAgent.load_component(agent_config)
    result = await agent2.run(task="test instruction for the task")
    event = next(m for m in result.messages if isinstance(m, MemoryQueryEvent))
    assert [c.content for c in event.content] == ["test instruction: always answer in haiku"]
    for loaded in agent2._memory or []:  # noqa: SLF001 - the agent has no public accessor
        await loaded.close()


async def test_memory_persists_across_agent_state_reloads(store):
    """autogen-agentchat test_memory_persistence: a memory added between two sessions is recalled, and the
    restored context keeps one memory message."""
    memory = OmneMemory(user_id="persist", store=store)
    await memory.add(text("Initial memory: the project is called Heron"))
    model = ReplayChatCompletionClient(["Response using memory", "Response with updated memory"])
    agent = AssistantAgent("memory_test_agent", model_client=model, memory=[memory])
    await agent.run(task="First task: what is the project called?")
    state = await agent.save_state()
    await memory.add(text("New memory: the project deadline is Friday"))

    new_agent = AssistantAgent("memory_test_agent", model_client=model, memory=[memory])
    await new_agent.load_state(state)
    result = await new_agent.run(task="Second task: when is the project deadline?")
    events = [m for m in result.messages if isinstance(m, MemoryQueryEvent)]
    assert any("New memory" in str(c.content) for e in events for c in e.content)
    memory_messages = [m for m in model.create_calls[-1]["messages"] if isinstance(m, SystemMessage) and m.content.startswith(MEMORY_MESSAGE_HEADER)]
    assert len(memory_messages) == 1 and "deadline is Friday" in memory_messages[0].content
