"""`omne mcp`: Omne memory as MCP tools over stdio, for desktop clients and IDEs."""

from __future__ import annotations

from typing import Annotated

import typer

from .runtime import load


def mcp(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Bind the tools to this user (else each call names one).")] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Offer search and reading only; refuse changes.")] = False,
) -> None:
    """Serve the memory tools (remember, search, get, update, forget, list recent) over stdio.

    The store is the local data directory, or the server named by OMNE_SERVER__URL (with OMNE_SERVER__KEY).
    """
    import asyncio

    from omne_server.mcp_stdio import serve_stdio

    asyncio.run(serve_stdio(load(), user_id=user, read_only=read_only))
