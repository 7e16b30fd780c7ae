"""`omne serve`: the memory server (REST under /v1, MCP at /mcp) for other processes, machines and languages."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1; another address needs API keys).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8765).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve Omne memory over HTTP: REST under /v1 (OpenAPI at /openapi.json) and MCP at /mcp."""
    from omne_core.config import load_settings
    from omne_server.run import ServeError
    from omne_server.run import serve as run_server

    try:
        run_server(load_settings(), host=host, port=port, log_level=log_level)
    except ServeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
