"""MCP: the SDK's own client over streamable HTTP (a real `omne serve`) and over stdio (`omne mcp`), the same keys
as REST, and autogen-ext's McpWorkbench driving a stock AssistantAgent (scripted model) that stores and finds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import ToolCallSummaryMessage
from autogen_ext.tools.mcp import McpWorkbench, StreamableHttpServerParams
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.server.conftest import OMNE, bearer, create_key, server_env
from tests.support.scripted import calls, scripted

TOOLS = {"remember", "search_memories", "get_memory", "update_memory", "forget_memory", "list_recent_memories"}


@asynccontextmanager
async def mcp_session(url: str, token: str | None, user: str | None = None) -> AsyncIterator[ClientSession]:
    headers = {**(bearer(token) if token else {}), **({"Omne-User": user} if user else {})}
    async with httpx.AsyncClient(headers=headers, timeout=60) as http:
        async with streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


def data(result) -> dict:
    assert not result.isError, result.content
    return result.structuredContent


def error_text(result) -> str:
    assert result.isError
    return " ".join(getattr(c, "text", "") for c in result.content)


async def test_the_tools_over_streamable_http(live):
    token = create_key(live.data_dir, "mcp_acme")
    async with mcp_session(live.url, token) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(tools) == TOOLS
        assert all(len(tool.description or "") > 20 for tool in tools.values())
        remember_schema = tools["remember"].inputSchema
        assert remember_schema["required"] == ["text"] and "kind" in remember_schema["properties"]
        assert tools["search_memories"].annotations.readOnlyHint is True

        stored = data(await session.call_tool("remember", {"text": "Dana is allergic to peanuts.", "user_id": "dana", "kind": "fact"}))
        memory_id = stored["memory"]["id"]
        assert stored["duplicate"] is False
        again = data(await session.call_tool("remember", {"text": "Dana is allergic to peanuts.", "user_id": "dana", "kind": "fact"}))
        assert again["duplicate"] is True and again["memory"]["id"] == memory_id
        await session.call_tool("remember", {"text": "Dana plays the cello.", "user_id": "dana"})
        labelled = data(await session.call_tool("remember", {"text": "Dana's band rehearses on Tuesdays.", "user_id": "dana",
                                                             "metadata": {"topic": "music", "weekly": True}}))  # fmt: skip
        assert labelled["memory"]["metadata"] == {"topic": "music", "weekly": True}
        by_label = data(await session.call_tool("search_memories", {"query": "Dana music", "user_id": "dana",
                                                                    "metadata": {"topic": "music"}}))  # fmt: skip
        assert [m["id"] for m in by_label["memories"]] == [labelled["memory"]["id"]]  # the cello is not labelled
        listed = data(await session.call_tool("list_recent_memories", {"user_id": "dana", "metadata": {"weekly": True}}))
        assert [m["id"] for m in listed["memories"]] == [labelled["memory"]["id"]]
        assert "metadata" in error_text(await session.call_tool("search_memories", {"query": "x", "user_id": "dana",
                                                                                    "metadata": {}}))  # fmt: skip
        await session.call_tool("forget_memory", {"memory_id": labelled["memory"]["id"], "hard": True})
        bulky = await session.call_tool("remember", {"text": "x", "user_id": "dana", "metadata": {"blob": "y" * 5000}})
        assert "keep labels short" in error_text(bulky)
        after = data(await session.call_tool("list_recent_memories", {"user_id": "dana", "limit": 50}))
        assert "x" not in {m["text"] for m in after["memories"]}  # refused whole: nothing stored

        found = data(await session.call_tool("search_memories", {"query": "is Dana allergic to anything?", "user_id": "dana"}))
        assert found["memories"][0]["id"] == memory_id and found["memories"][0]["score"] > 0
        assert data(await session.call_tool("get_memory", {"memory_id": memory_id}))["text"] == "Dana is allergic to peanuts."
        updated = data(await session.call_tool("update_memory", {"memory_id": memory_id, "text": "Dana is allergic to peanuts and sesame."}))
        assert updated["text"].endswith("sesame.")
        recent = data(await session.call_tool("list_recent_memories", {"user_id": "dana", "limit": 5}))
        assert {m["text"] for m in recent["memories"]} == {"Dana is allergic to peanuts and sesame.", "Dana plays the cello."}
        assert data(await session.call_tool("forget_memory", {"memory_id": memory_id, "hard": True}))["hard"] is True
        assert "no memory" in error_text(await session.call_tool("get_memory", {"memory_id": memory_id}))

        invalid = await session.call_tool("remember", {"text": "x", "user_id": "dana", "importance": 2})
        assert "importance" in error_text(invalid)
        assert "user_id is required" in error_text(await session.call_tool("search_memories", {"query": "cello"}))


async def test_the_same_keys_guard_mcp(live):
    owner = create_key(live.data_dir, "mcp_keys_a")
    reader = create_key(live.data_dir, "mcp_keys_a", "--read-only")
    other = create_key(live.data_dir, "mcp_keys_b")
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}  # fmt: skip
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=30) as http:
        for headers in ({}, bearer("omne_000000000000_" + "x" * 43)):
            refused = await http.post(f"{live.url}/mcp", json=initialize, headers={**accept, **headers})
            assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"

    async with mcp_session(live.url, owner) as session:
        memory_id = data(await session.call_tool("remember", {"text": "Eve's locker code is 4417.", "user_id": "eve"}))["memory"]["id"]
    async with mcp_session(live.url, reader) as session:
        assert "read-only" in error_text(await session.call_tool("remember", {"text": "x", "user_id": "eve"}))
        assert "read-only" in error_text(await session.call_tool("forget_memory", {"memory_id": memory_id}))
        assert data(await session.call_tool("search_memories", {"query": "locker", "user_id": "eve"}))["memories"]
    async with mcp_session(live.url, other) as session:  # another tenant: the id does not exist there
        assert "no memory" in error_text(await session.call_tool("get_memory", {"memory_id": memory_id}))
        assert data(await session.call_tool("search_memories", {"query": "locker code", "user_id": "eve"}))["memories"] == []
    async with mcp_session(live.url, owner, user="frank") as session:  # bound to frank: eve is out of reach
        assert "no memory" in error_text(await session.call_tool("get_memory", {"memory_id": memory_id}))
        assert "bound to user 'frank'" in error_text(await session.call_tool("search_memories", {"query": "locker", "user_id": "eve"}))
        data(await session.call_tool("remember", {"text": "Frank likes chess."}))
        assert [m["user_id"] for m in data(await session.call_tool("list_recent_memories", {}))["memories"]] == ["frank"]


async def test_omne_mcp_over_stdio(tmp_path):
    params = StdioServerParameters(command=OMNE[0], args=[*OMNE[1:], "mcp", "--user", "gina"], env=server_env(tmp_path / "data"))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            assert {t.name for t in (await session.list_tools()).tools} == TOOLS
            data(await session.call_tool("remember", {"text": "Gina's flight to Oslo leaves on 3 March.", "kind": "event"}))
            found = data(await session.call_tool("search_memories", {"query": "when does Gina fly?"}))
            assert "Oslo" in found["memories"][0]["text"] and found["memories"][0]["user_id"] == "gina"


async def test_mcp_workbench_drives_an_assistant_agent_that_stores_then_finds(live):
    token = create_key(live.data_dir, "mcp_autogen")
    params = StreamableHttpServerParams(url=f"{live.url}/mcp", headers={**bearer(token), "Omne-User": "hana"}, timeout=60)
    model = scripted(
        calls(("remember", {"text": "Hana's favourite colour is teal.", "kind": "preference"})),
        calls(("search_memories", {"query": "favourite colour", "limit": 3})),
    )
    async with McpWorkbench(params) as workbench:
        agent = AssistantAgent("assistant", model_client=model, workbench=workbench)
        stored = await agent.run(task="Remember that my favourite colour is teal.")
        found = await agent.run(task="What is my favourite colour?")
    for result in (stored, found):
        assert isinstance(result.messages[-1], ToolCallSummaryMessage)
    assert '"duplicate":false' in stored.messages[-1].to_text().replace(" ", "")
    hits = json.loads(found.messages[-1].results[0].content)["memories"]
    assert hits[0]["text"] == "Hana's favourite colour is teal." and hits[0]["kind"] == "preference"
    async with httpx.AsyncClient(timeout=30) as http:
        listed = (await http.get(f"{live.url}/v1/memories", headers=bearer(token), params={"user_id": "hana"})).json()
    assert [r["text"] for r in listed["records"]] == ["Hana's favourite colour is teal."]
