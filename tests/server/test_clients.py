"""Clients of a real `omne serve` (real socket): OmneMemory in an AutoGen agent, the Simple Responder and
`omne memory --server`, all unchanged but for the settings; and Agent Framework's ContextProvider."""

from __future__ import annotations

import json

import httpx
import pytest
from agent_framework import Agent, BaseChatClient, ChatResponse, Message
from autogen_agentchat.agents import AssistantAgent
from autogen_core.memory import MemoryContent, MemoryMimeType
from autogen_core.models import SystemMessage
from autogen_ext.models.replay import ReplayChatCompletionClient
from pydantic import SecretStr

from omne_assistant import RetryPolicy, SimpleResponder
from omne_core.memory import (
    MemoryKind,
    MemoryRecord,
    MemoryScope,
    MemoryStore,
    MemoryValidationError,
    OmneMemory,
    RemoteMemoryStore,
    open_store,
)
from omne_core.memory.maf import MEMORY_HEADER, OmneContextProvider
from tests.server.conftest import bearer, create_key, omne
from tests.support.scripted import prompts_text, scripted


class RecordingReplay(ReplayChatCompletionClient):
    def __init__(self, replies):
        super().__init__(replies)
        self.seen = []

    async def create(self, messages, **kwargs):
        self.seen.append(list(messages))
        return await super().create(messages, **kwargs)


async def test_omne_memory_runs_on_the_server_named_by_the_settings(live, monkeypatch):
    token = create_key(live.data_dir, "clients_autogen")
    monkeypatch.setenv("OMNE_SERVER__URL", live.url)
    monkeypatch.setenv("OMNE_SERVER__KEY", token)
    memory = OmneMemory(user_id="ivy", session_id="chat-1")
    await memory.add(MemoryContent(content="Ivy's dog is called Biscuit.", mime_type=MemoryMimeType.TEXT,
                                   metadata={"omne": {"kind": "fact"}}))  # fmt: skip
    assert isinstance(await memory.get_store(), RemoteMemoryStore)
    model = RecordingReplay(["Biscuit."])
    agent = AssistantAgent("assistant", model_client=model, memory=[memory])
    await agent.run(task="What is my dog called?")
    shown = [m.content for m in model.seen[0] if isinstance(m, SystemMessage) and "Biscuit" in m.content]
    assert shown, "the memory from the server reached the model"
    await memory.close()
    async with httpx.AsyncClient(timeout=30) as http:
        on_server = (await http.get(f"{live.url}/v1/memories", headers=bearer(token), params={"user_id": "ivy"})).json()
    assert [r["text"] for r in on_server["records"]] == ["Ivy's dog is called Biscuit."]


async def test_a_dumped_memory_names_the_server_but_never_the_key(live, monkeypatch):
    token = create_key(live.data_dir, "clients_dump")
    store = await RemoteMemoryStore.open(live.url, key=token)
    memory = OmneMemory(user_id="jon", store=store)
    await memory.add(MemoryContent(content="Jon collects stamps.", mime_type=MemoryMimeType.TEXT))
    dumped = memory.dump_component()
    text = json.dumps(dumped.model_dump(mode="json"))
    assert dumped.config["store"] == {"kind": "server", "url": live.url, "timeout_s": 60.0, "retries": 4}
    assert token not in text and token.split("_", 2)[2] not in text
    await store.close()
    monkeypatch.setenv("OMNE_SERVER__KEY", token)  # the loading process's environment supplies the key
    loaded = OmneMemory.load_component(dumped)
    assert (await loaded.query("hobby")).results[0].content == "Jon collects stamps."
    await loaded.close()


async def test_the_simple_responder_works_against_the_server(live):
    token = create_key(live.data_dir, "clients_responder")
    store = await RemoteMemoryStore.open(live.url, key=token)
    try:
        await store.add(MemoryRecord(kind=MemoryKind.MESSAGE, text="user: My sister's name is Clara.",
                                     scope=MemoryScope(user_id="kim", session_id="earlier")))  # fmt: skip
        client = scripted("Your sister is Clara.")
        agent = SimpleResponder("omne", client, store, MemoryScope(user_id="kim"), reflect_every=None,
                                retry=RetryPolicy(max_attempts=1, base_delay_s=0, max_delay_s=0))  # fmt: skip
        result = await agent.run(task="What is my sister's name?")
        assert "My sister's name is Clara." in prompts_text(client, 0)
        assert result.messages[-1].content == "Your sister is Clara."
        turn = await store.list(MemoryScope(user_id="kim", session_id=agent.session_id))
        assert sorted(r.text for r in turn) == ["omne: Your sister is Clara.", "user: What is my sister's name?"]
    finally:
        await store.close()


def test_omne_memory_cli_with_server(live, tmp_path):
    token = create_key(live.data_dir, "clients_cli")
    env = {"OMNE_SERVER__KEY": token}
    data = tmp_path / "cli-data"  # a local data directory the commands must not use
    added = omne(data, "memory", "--server", live.url, "add", "Lena plays the oboe.", "--user", "lena", "--json", **env)
    assert added.returncode == 0, added.stderr
    record_id = json.loads(added.stdout)["id"]
    found = omne(data, "memory", "search", "which instrument?", "--user", "lena", "--json",
                 OMNE_SERVER__URL=live.url, **env)  # fmt: skip
    assert found.returncode == 0 and json.loads(found.stdout)[0]["record"]["id"] == record_id
    shown = omne(data, "memory", "--server", live.url, "show", record_id[:8], "--user", "lena", **env)
    assert shown.returncode == 0 and "oboe" in shown.stdout, shown.stderr  # the short id `chat` prints
    hidden = omne(data, "memory", "--server", live.url, "show", record_id[:8], "--user", "mallory", **env)
    assert hidden.returncode == 1 and "oboe" not in hidden.stdout + hidden.stderr
    doc = tmp_path / "notes.md"
    doc.write_text("# Recital\n\nLena's oboe recital is on 12 June at the town hall.\n")
    ingested = omne(data, "memory", "--server", live.url, "ingest", str(doc), "--user", "lena", "--json", **env)
    assert ingested.returncode == 0 and json.loads(ingested.stdout)["added"] >= 1, ingested.stderr
    assert not (data / "memory.sqlite3").exists()  # nothing was written to the local data directory
    local = omne(data, "memory", "--local", "list", "--user", "lena", OMNE_SERVER__URL=live.url)
    assert local.returncode == 0 and "no memories" in local.stdout  # --local: the empty local directory
    refused = omne(data, "memory", "--server", live.url, "list", "--user", "lena")  # no key
    assert refused.returncode == 1 and "key" in refused.stderr.lower()


class ScriptedMafClient(BaseChatClient):
    """An Agent Framework chat client with scripted replies that keeps every request it got."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__()
        self.replies, self.seen = list(replies), []

    async def _inner_get_response(self, *, messages, stream, options, **kwargs):
        self.seen.append([m.text for m in messages])
        return ChatResponse(messages=[Message(role="assistant", contents=[self.replies.pop(0)])], response_id="r")


def memory_block(seen: list[str]) -> str:
    return next((text for text in seen if text.startswith(MEMORY_HEADER)), "")


@pytest.mark.parametrize("where", ["local", "server"])
async def test_agent_framework_context_provider(where, live, settings, embedder):
    if where == "local":
        store = await MemoryStore.open(settings, embedder=embedder)
    else:
        store = await RemoteMemoryStore.open(live.url, key=create_key(live.data_dir, "clients_maf"))
    try:
        team = MemoryScope(user_id="mia", namespace="team")
        private = MemoryScope(user_id="mia", agent_id="planner")
        await store.add([
            MemoryRecord(kind=MemoryKind.FACT, text="The team's deadline is Friday.", scope=team),
            MemoryRecord(kind=MemoryKind.FACT, text="Mia's flat is in Ghent.", scope=MemoryScope(user_id="mia", namespace="home")),
            MemoryRecord(kind=MemoryKind.FACT, text="Noah's deadline is Monday.", scope=MemoryScope(user_id="noah", namespace="team")),
        ])  # fmt: skip
        provider = OmneContextProvider(store, write_scope=private, read_scopes=[team, private], k=5)
        client = ScriptedMafClient(["The deadline is Friday.", "You said you prefer mornings."])
        agent = Agent(client=client, name="planner", context_providers=[provider])

        first = await agent.run("When is our deadline? Also, I prefer meetings in the morning.", session=agent.create_session())
        assert first.text == "The deadline is Friday."
        injected = memory_block(client.seen[0])
        assert "deadline is Friday" in injected
        assert "Ghent" not in injected and "Monday" not in injected  # outside the read scopes

        session = agent.create_session()
        await agent.run("When do I like meetings?", session=session)
        assert "I prefer meetings in the morning" in memory_block(client.seen[1])  # recorded after run 1

        written = await store.list(private, limit=None)
        assert {r.text for r in written} == {
            "When is our deadline? Also, I prefer meetings in the morning.", "The deadline is Friday.",
            "When do I like meetings?", "You said you prefer mornings.",
        }  # fmt: skip
        assert all(r.scope.agent_id == "planner" and r.scope.namespace is None for r in written)
        assert {r.metadata["speaker"] for r in written} == {"user", "planner"}
        assert (await store.stats(team)).total == 1  # the shared scope was read, never written
    finally:
        await store.close()


async def test_agent_framework_context_provider_injects_only_labelled_memories(settings, embedder):
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        mia = MemoryScope(user_id="mia")
        await store.add([
            MemoryRecord(kind=MemoryKind.FACT, text="Mia's train to Ghent leaves at nine.", scope=mia, metadata={"topic": "travel"}),
            MemoryRecord(kind=MemoryKind.FACT, text="Mia's train set has nine wagons.", scope=mia, metadata={"topic": "toys"}),
        ])  # fmt: skip
        provider = OmneContextProvider(store, write_scope=mia, k=5, record_turns=False, metadata={"topic": "travel"})
        client = ScriptedMafClient(["At nine."])
        await Agent(client=client, name="planner", context_providers=[provider]).run("When does my train leave?")
        injected = memory_block(client.seen[0])
        assert "leaves at nine" in injected and "wagons" not in injected
        with pytest.raises(MemoryValidationError, match="metadata"):
            OmneContextProvider(store, write_scope=mia, metadata={"topic": None})  # type: ignore[dict-item]


async def test_open_store_follows_the_settings(live, settings, monkeypatch):
    token = create_key(live.data_dir, "clients_open")
    remote = await open_store(None, settings.model_copy(update={"server": settings.server.model_copy(
        update={"url": live.url, "key": SecretStr(token)})}))  # fmt: skip
    local = await open_store(None, settings)
    try:
        assert isinstance(remote, RemoteMemoryStore) and isinstance(local, MemoryStore)
    finally:
        await remote.close()
        await local.close()
