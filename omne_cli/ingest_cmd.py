"""`omne memory ingest PATH...`: files and folders into memory as document chunks, with progress.

Registered on the `omne memory` group by one line at the end of `memory_cmd.py`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from .memory_cmd import app


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (folders are walked recursively).")],
    user: Annotated[str, typer.Option("--user", "-u", help="User id the chunks belong to.")],
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Agent id.")] = None,
    session: Annotated[str | None, typer.Option("--session", "-s", help="Session id.")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace, e.g. a project.")] = None,
    chunk_tokens: Annotated[int | None, typer.Option(help="Tokens per chunk (default: settings).")] = None,
    overlap_tokens: Annotated[int | None, typer.Option(help="Tokens shared by consecutive chunks.")] = None,
    keep_files: Annotated[bool, typer.Option(help="Keep each file's bytes in the blob store.")] = True,
    hidden: Annotated[bool, typer.Option("--hidden", help="Include hidden files and folders.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest files and folders as L0 document chunks; a file already ingested adds nothing."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from omne_core.config import load_settings
    from omne_core.embeddings import EmbeddingError
    from omne_core.memory import MemoryScope, MemoryStore, MemoryStoreError
    from omne_core.memory.ingest import IngestSkip, ingest_paths

    scope = MemoryScope(user_id=user, agent_id=agent, session_id=session, namespace=namespace)
    console = Console(stderr=as_json)
    progress = Progress(
        TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.description}", style="dim"), console=console, transient=as_json,
    )  # fmt: skip
    task = progress.add_task("", total=None)

    def on_file(path: Path, result) -> None:
        status = "skipped" if isinstance(result, IngestSkip) else f"{result.added}/{result.chunks} new chunks"
        progress.update(task, advance=1, description=f"{path.name}: {status}")

    async def main():
        settings = load_settings()
        async with await MemoryStore.open(settings) as store:
            return await ingest_paths(
                store, paths, scope, settings=settings, chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens,
                keep_files=keep_files, include_hidden=hidden, on_file=on_file,
                on_start=lambda total: progress.update(task, total=total),
            )  # fmt: skip

    try:
        with progress:
            report = asyncio.run(main())
    except (MemoryStoreError, EmbeddingError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None

    if as_json:
        data = report.model_dump(mode="json")
        data.update(chunks=report.chunks, added=report.added, duplicates=report.duplicates)
        typer.echo(json.dumps(data, indent=2))
    else:
        console.print(
            f"{len(report.files)} file(s) ingested: {report.chunks} chunks, {report.added} new, "
            f"{report.duplicates} already in memory; {len(report.skipped)} skipped"
        )
        if report.skipped:
            table = Table("skipped", "error", "reason", show_lines=False)
            for skip in report.skipped:
                table.add_row(skip.path, skip.error, skip.reason)
            console.print(table)
    if not report.files and report.skipped:
        raise typer.Exit(1)
