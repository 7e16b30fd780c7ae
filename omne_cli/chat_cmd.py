"""`omne chat`: a terminal chat with persistent memory."""

from __future__ import annotations

import typer


def chat(user: str = typer.Option("default", "--user", help="Whose memory to use.")) -> None:
    """Chat in the terminal with persistent memory (filled in by the Omne Assistant issue)."""
    typer.echo("omne chat is not built yet.", err=True)
    raise typer.Exit(2)
