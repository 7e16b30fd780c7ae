"""`omne memory ...` commands: add, search, list, show, history, delete, export, import, reflect, stats, repair.

Every command is scoped with --user (and --agent, --session, --namespace). Heavy imports happen inside
the commands so `omne --help` stays fast.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from omne_core.memory import MemoryRecord, MemoryScope, MemoryStore

app = typer.Typer(help="Long-term memory: add, search, inspect, export and reflect.", no_args_is_help=True)

T = TypeVar("T")

UserOpt = Annotated[str, typer.Option("--user", "-u", help="User id (required: every memory belongs to a user).")]
AgentOpt = Annotated[str | None, typer.Option("--agent", "-a", help="Agent id (a hard filter when given).")]
SessionOpt = Annotated[str | None, typer.Option("--session", "-s", help="Session id (a hard filter when given).")]
NamespaceOpt = Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace, e.g. a team (hard filter).")]
KindOpt = Annotated[list[str] | None, typer.Option("--kind", "-k", help="Only these kinds (repeatable).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _scope(user: str, agent: str | None, session: str | None, namespace: str | None) -> MemoryScope:
    from omne_core.memory import MemoryScope

    return MemoryScope(user_id=user, agent_id=agent, session_id=session, namespace=namespace)


def _run(work: Callable[[MemoryStore], Awaitable[T]]) -> T:
    """Open the configured store, run `work`, close; memory errors become a message and exit code 1."""
    from omne_core.config import load_settings
    from omne_core.embeddings import EmbeddingError
    from omne_core.memory import MemoryStore, MemoryStoreError

    async def main() -> T:
        async with await MemoryStore.open(load_settings()) as store:
            return await work(store)

    try:
        return asyncio.run(main())
    except (MemoryStoreError, EmbeddingError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _print_records(records: list[MemoryRecord], scores: list[float | None] | None = None) -> None:
    """A table of records; with `scores`, a score column (None: a source shown under the conclusion above it)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for column in ("id", "kind", "status", "when", "scope", *(["score"] if scores else []), "text"):
        table.add_column(column, overflow="fold")
    for i, r in enumerate(records):
        when = (r.event_time or r.created_at).strftime("%Y-%m-%d %H:%M")
        scope = "/".join(x for x in (r.scope.user_id, r.scope.agent_id, r.scope.session_id, r.scope.namespace) if x)
        text = r.text if len(r.text) <= 200 else r.text[:200] + "…"
        score = [] if not scores else [f"{scores[i]:.4f}" if scores[i] is not None else "↳ source"]
        row = [r.id, r.kind.value, r.status.value, when, scope, *score, text]
        table.add_row(*row)
    Console(width=200).print(table)


@app.command()
def add(
    text: Annotated[str, typer.Argument(help="The memory text.")],
    user: UserOpt,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    namespace: NamespaceOpt = None,
    kind: Annotated[str, typer.Option("--kind", "-k", help="Record kind.")] = "observation",
    importance: Annotated[float, typer.Option(help="0..1")] = 0.5,
    speaker: Annotated[str | None, typer.Option(help="Who said it (stored in metadata).")] = None,
    event_time: Annotated[datetime | None, typer.Option("--event-time", help="When it happened (ISO date/time).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add one memory."""
    from omne_core.memory import MemoryKind, MemoryRecord

    try:
        record = MemoryRecord(
            kind=MemoryKind(kind), text=text, scope=_scope(user, agent, session, namespace), importance=importance,
            event_time=event_time, metadata={"speaker": speaker} if speaker else {},
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    [stored] = _run(lambda store: store.add(record, actor=f"cli:{user}"))
    if as_json:
        _print_json(stored.model_dump(mode="json"))
    else:
        typer.echo(stored.id if stored.id == record.id else f"{stored.id} (duplicate of an existing record)")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    user: UserOpt,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    namespace: NamespaceOpt = None,
    kind: KindOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-l")] = 10,
    since: Annotated[datetime | None, typer.Option(help="Only records that happened at/after this time.")] = None,
    until: Annotated[datetime | None, typer.Option(help="Only records that happened at/before this time.")] = None,
    include_inactive: Annotated[bool, typer.Option("--all", help="Include superseded and deleted records.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Hybrid (dense + BM25) search in a scope."""
    scope = _scope(user, agent, session, namespace)
    hits = _run(
        lambda store: store.search(
            query, scope, kinds=kind, since=since, until=until, limit=limit, include_inactive=include_inactive
        )
    )
    if as_json:
        _print_json([h.model_dump(mode="json") for h in hits])
    elif not hits:
        typer.echo("no matching memories")
    else:
        # an L1 hit's sources (SearchHit.sources) are listed under it
        rows = [(r, h.score if r is h.record else None) for h in hits for r in (h.record, *h.sources)]
        _print_records([r for r, _ in rows], [score for _, score in rows])


@app.command("list")
def list_(
    user: UserOpt,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    namespace: NamespaceOpt = None,
    kind: KindOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-l")] = 20,
    include_inactive: Annotated[bool, typer.Option("--all", help="Include superseded and deleted records.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List a scope's memories, newest first."""
    scope = _scope(user, agent, session, namespace)
    records = _run(lambda store: store.list(scope, kinds=kind, limit=limit, include_inactive=include_inactive))
    if as_json:
        _print_json([r.model_dump(mode="json") for r in records])
    elif not records:
        typer.echo("no memories")
    else:
        _print_records(records)


async def _owned(store: MemoryStore, record_id: str, user: str) -> MemoryRecord:
    """The record, if it belongs to `user`; another user's record is reported as not found (no leak)."""
    from omne_core.memory import MemoryNotFoundError

    record = await store.get(record_id)
    if record.scope.user_id != user:
        raise MemoryNotFoundError(f"no memory record with id {record_id!r} for user {user!r}")
    return record


@app.command()
def show(record_id: Annotated[str, typer.Argument(help="Record id.")], user: UserOpt) -> None:
    """Print one record of the user as JSON."""
    record = _run(lambda store: _owned(store, record_id, user))
    _print_json(record.model_dump(mode="json"))


@app.command()
def history(
    record_id: Annotated[str, typer.Argument(help="Record id.")], user: UserOpt, as_json: JsonOpt = False
) -> None:
    """The change history of a record (add, update, supersede, delete: what, when, by whom)."""

    async def work(store: MemoryStore) -> list[Any]:
        await _owned(store, record_id, user)
        return await store.history(record_id)

    changes = _run(work)
    if as_json:
        _print_json([c.model_dump(mode="json") for c in changes])
        return
    for c in changes:
        text = (c.after or c.before or {}).get("text")
        detail = f" text={text!r}" if text is not None else ""
        typer.echo(f"{c.at:%Y-%m-%d %H:%M:%S} {c.op.value:<12} v{c.version or '-'} by {c.actor}{detail}")


@app.command()
def delete(
    record_id: Annotated[str, typer.Argument(help="Record id.")],
    user: UserOpt,
    hard: Annotated[bool, typer.Option("--hard", help="Purge text, vector and blob (not undoable).")] = False,
) -> None:
    """Delete a record of the user (soft by default: status `deleted`, history kept)."""

    async def work(store: MemoryStore) -> None:
        await _owned(store, record_id, user)
        await store.delete(record_id, hard=hard, actor="cli")

    _run(work)
    typer.echo(f"{'purged' if hard else 'deleted'} {record_id}")


@app.command("export")
def export_(
    path: Annotated[Path, typer.Argument(help="JSONL file to write.")],
    user: UserOpt,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Export a scope's records (every status, blobs inlined) to JSONL."""
    scope = _scope(user, agent, session, namespace)
    count = _run(lambda store: store.export_jsonl(path, scope))
    typer.echo(f"exported {count} records to {path}")


@app.command("import")
def import_(path: Annotated[Path, typer.Argument(help="JSONL file written by `omne memory export`.")]) -> None:
    """Import a JSONL export (re-embedding every record); a corrupt file is rejected whole."""
    result = _run(lambda store: store.import_jsonl(path, actor="cli-import"))
    typer.echo(f"imported {result.imported} records, skipped {result.skipped} already present")


@app.command()
def reflect(
    user: UserOpt,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    namespace: NamespaceOpt = None,
    limit: Annotated[int, typer.Option(help="At most this many recent unreflected records.")] = 50,
    role: Annotated[str, typer.Option(help="Model role to reflect with.")] = "main",
) -> None:
    """Derive L1 conclusions (facts, preferences, ...) from raw records with the configured model."""
    from omne_core.config import load_settings
    from omne_core.memory import reflect as reflect_op
    from omne_core.models.factory import create_role_client

    scope = _scope(user, agent, session, namespace)
    client = create_role_client(load_settings(), role)

    async def work(store: MemoryStore) -> Any:
        try:
            return await reflect_op(store, scope, client, limit=limit)
        finally:
            await client.close()

    result = _run(work)
    for record in result.created:
        typer.echo(f"+ {record.kind.value}: {record.text}  (from {', '.join(s[:8] for s in record.source_ids)})")
    for old, new in result.superseded:
        typer.echo(f"~ {old} superseded by {new}")
    typer.echo(f"{len(result.created)} conclusions from {len(result.source_ids)} records")


@app.command()
def stats(
    user: UserOpt,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Counts of a scope's records by kind and status."""
    scope = _scope(user, agent, session, namespace)
    result = _run(lambda store: store.stats(scope))
    if as_json:
        _print_json(result.model_dump(mode="json"))
        return
    typer.echo(f"total {result.total}  (embedder {result.embedder}, pending index {result.pending_index}, blobs {result.blobs})")
    for name, count in sorted(result.by_kind.items()):
        typer.echo(f"  kind   {name:<15} {count}")
    for name, count in sorted(result.by_status.items()):
        typer.echo(f"  status {name:<15} {count}")


@app.command()
def repair(as_json: JsonOpt = False) -> None:
    """Compare every id of the records and the vector index, remove orphan vectors, re-embed missing ones."""
    result = _run(lambda store: store.repair(full=True))
    if as_json:
        _print_json(dataclasses.asdict(result))
        return
    typer.echo(
        f"vector index checked: {result.orphans_removed} orphan vectors removed, "
        f"{result.marked_pending} missing found, {result.embedded} records (re-)embedded"
    )


from . import ingest_cmd  # noqa: E402, F401  -- registers `omne memory ingest` (owned by the documents helper)
