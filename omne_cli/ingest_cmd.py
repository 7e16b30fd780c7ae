"""`omne memory ingest PATH...`: files and folders into memory as document chunks, with progress.

`memory_cmd` registers `ingest` on the `omne memory` group; this module imports only the shared options.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .display import echo, echo_json, one_line, terminal
from .options import AgentOpt, NamespaceOpt, SessionOpt, UserOpt, scope_of
from .runtime import load, open_memory

if TYPE_CHECKING:
    from omne_core.memory import MemoryScope, RemoteMemoryStore
    from omne_core.memory.ingest import IngestReport


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (folders are walked recursively).")],
    user: UserOpt,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    namespace: NamespaceOpt = None,
    chunk_tokens: Annotated[int | None, typer.Option(help="Tokens per chunk, at least 32 (default: settings).")] = None,
    overlap_tokens: Annotated[int | None, typer.Option(help="Tokens shared by consecutive chunks.")] = None,
    keep_files: Annotated[bool, typer.Option(help="Keep each file's bytes in the blob store.")] = True,
    hidden: Annotated[bool, typer.Option("--hidden", help="Include hidden files and folders.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest files and folders as L0 document chunks; a file already ingested adds nothing."""
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from omne_core.documents.chunking import check_chunk_sizes
    from omne_core.memory.ingest import IngestSkip, ingest_paths

    scope = scope_of(user, agent, session, namespace)
    settings = load()
    chunk = chunk_tokens if chunk_tokens is not None else settings.documents.chunk_tokens
    overlap = overlap_tokens if overlap_tokens is not None else settings.documents.chunk_overlap_tokens
    try:
        check_chunk_sizes(chunk, overlap)  # before the store opens or a file is read
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--chunk-tokens/--overlap-tokens") from None
    console = terminal(stderr=as_json)
    progress = Progress(
        TextColumn("ingest", style="bold"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.description}", style="dim", markup=False), console=console, transient=as_json,
    )  # fmt: skip
    task = progress.add_task("", total=None)

    def on_file(path: Path, result: Any) -> None:
        if isinstance(result, IngestSkip):
            status = "skipped"
        elif result.duplicate_of:
            status = "same content as another file"
        else:
            status = f"{result.added}/{result.chunks} new chunks"
        progress.update(task, advance=1, description=f"{one_line(path.name, 80)}: {status}")

    async def main() -> Any:
        from omne_core.memory import RemoteMemoryStore

        store = await open_memory(settings)
        async with store:
            if isinstance(store, RemoteMemoryStore):  # the server converts: upload the files found here
                return await _ingest_remote(store, paths, scope, chunk, overlap, keep_files, hidden, on_file,
                                            lambda total: progress.update(task, total=total))  # fmt: skip
            return await ingest_paths(
                store, paths, scope, settings=settings, chunk_tokens=chunk, overlap_tokens=overlap,
                keep_files=keep_files, include_hidden=hidden, on_file=on_file,
                on_start=lambda total: progress.update(task, total=total),
            )  # fmt: skip

    with progress:
        report = asyncio.run(main())

    if as_json:
        data = report.model_dump(mode="json")
        data.update(chunks=report.chunks, added=report.added, duplicates=report.duplicates)
        echo_json(data)
    else:
        console.print(
            f"{len(report.files)} file(s) ingested: {report.chunks} chunks, {report.added} new, "
            f"{report.duplicates} already in memory; {len(report.skipped)} skipped"
        )
        for item in report.files:
            if item.duplicate_of:
                console.print(f"  {item.path}: same content as {item.duplicate_of}, already in memory")
            elif item.superseded:
                console.print(f"  {item.path}: changed; {item.superseded} chunks of its earlier version superseded")
        if report.skipped:
            table = Table(show_lines=False)
            for column in ("skipped", "error", "reason"):
                table.add_column(column, overflow="fold")  # a path is shown whole
            for skip in report.skipped:
                table.add_row(skip.path, skip.error, skip.reason)
            console.print(table)
    if not report.files and report.skipped:
        echo(f"nothing ingested: {len(report.skipped)} path(s) skipped", err=True)
        raise typer.Exit(1)


_UPLOAD_BATCH = 16  # files per upload request


async def _ingest_remote(
    store: RemoteMemoryStore, paths: list[Path], scope: MemoryScope, chunk_tokens: int, overlap_tokens: int,
    keep_files: bool, hidden: bool, on_file: Callable[[Path, Any], None], on_start: Callable[[int], None],
) -> IngestReport:  # fmt: skip
    """Upload the files `paths` names to the server in small batches; one report for all of them."""
    from omne_core.memory.ingest import IngestReport, discover_files

    files, skipped = discover_files(paths, include_hidden=hidden)
    on_start(len(files) + len(skipped))
    report = IngestReport(skipped=list(skipped))
    for skip in skipped:
        on_file(Path(skip.path), skip)
    for start in range(0, len(files), _UPLOAD_BATCH):
        batch = files[start : start + _UPLOAD_BATCH]
        part = await store.ingest(batch, scope, chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens, keep_files=keep_files)
        for done in part.files:
            on_file(Path(done.path), done)
        for skip in part.skipped:
            on_file(Path(skip.path), skip)
        report.files.extend(part.files)
        report.skipped.extend(part.skipped)
    return report
