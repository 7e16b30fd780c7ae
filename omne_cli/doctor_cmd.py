"""`omne doctor`: one line per check, OK or FAIL with the reason; non-zero exit when any check fails."""

from __future__ import annotations

import typer


def doctor() -> None:
    """Check the embedding model, chroma, the offline tokenizer and every configured model endpoint."""
    typer.echo("doctor: not built yet", err=True)
    raise typer.Exit(2)
