"""`omne serve`: the memory server (REST under /v1, MCP at /mcp) for other processes, machines and languages."""

from __future__ import annotations

from typing import Annotated

import typer

from .errors import CliError
from .runtime import load


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1; another address needs API keys).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8765).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve Omne memory over HTTP: REST under /v1 (OpenAPI at /openapi.json) and MCP at /mcp."""
    from omne_server.run import ServeError
    from omne_server.run import serve as run_server

    try:
        run_server(load(), host=host, port=port, log_level=log_level)
    except ServeError as exc:  # refused as asked (an unsafe address, a data directory in use): a usage error
        raise CliError(str(exc), code=2) from None
