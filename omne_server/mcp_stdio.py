"""`omne mcp`: the memory tools over stdio, for desktop MCP clients (Claude Desktop, IDEs, McpWorkbench).

The store is the one the settings name: the local data directory, or a server when `OMNE_SERVER__URL` is
set (then with `OMNE_SERVER__KEY`). stdout carries the protocol only; logs go to stderr.
"""

from __future__ import annotations

from mcp.server.fastmcp import Context

from omne_core.config import OmneSettings
from omne_core.memory import open_store

from .mcp_tools import McpCaller, build_mcp


async def serve_stdio(settings: OmneSettings, *, user_id: str | None = None, read_only: bool = False) -> None:
    """Answer MCP over stdin/stdout until the client closes it."""
    # a client waits for the session to start: a re-embedding after a change of embedder runs behind the store
    store = await open_store(None, settings, reembed_in_background=True)
    caller = McpCaller(store=store, read_only=read_only, user_id=user_id, actor="mcp-stdio")

    async def resolve(ctx: Context) -> McpCaller:
        return caller

    try:
        await build_mcp(resolve).run_stdio_async()
    finally:
        await store.close()
