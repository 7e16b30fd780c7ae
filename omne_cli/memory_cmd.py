"""`omne memory ...` commands: add, search, list, show, history, delete, export, import, reflect, summarize, stats,
repair, ingest, migrate.

Every command is scoped with --user (and --agent, --session, --namespace). `omne memory --server URL ...`
works on a server's memory (`omne serve`), as does any command when OMNE_SERVER__URL is set (`--local`:
the data directory anyway). Heavy imports happen inside the commands so `omne --help` stays fast.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import ingest_cmd
from .display import echo, echo_json, one_line, reflection_notes, terminal
from .errors import CliError
from .options import AgentOpt, JsonOpt, MetaOpt, NamespaceOpt, SessionOpt, UserOpt, metadata_of, scope_of
from .runtime import choose_store, load, with_store

if TYPE_CHECKING:
    from omne_core.memory import MemoryRecord, MemoryStoreAPI

app = typer.Typer(help="Long-term memory: add, search, inspect, export, reflect and summarize.", no_args_is_help=True)


@app.callback()
def _choose_store(
    server: Annotated[str | None, typer.Option(
        "--server", help="Work on the memory of an `omne serve` server at this URL (key: OMNE_SERVER__KEY). "
        "Default: OMNE_SERVER__URL when set.")] = None,
    local: Annotated[bool, typer.Option(
        "--local", help="Work on the local data directory even if OMNE_SERVER__URL is set.")] = False,
) -> None:  # fmt: skip
    choose_store(server, local)


def _kinds(values: list[str] | None) -> list[str] | None:
    """--kind values, checked against the record kinds before anything slow runs."""
    if not values:
        return None
    from omne_core.memory import MemoryKind

    known = [kind.value for kind in MemoryKind]
    for value in values:
        if value not in known:
            raise typer.BadParameter(f"{value!r} is not a record kind; one of: {', '.join(known)}")
    return values


KindOpt = Annotated[list[str] | None, typer.Option("--kind", "-k", callback=_kinds, help="Only these kinds (repeatable).")]
IdArg = Annotated[str, typer.Argument(help="Record id, or the start of it (the 8 characters `chat` prints).")]


def _print_records(records: list[MemoryRecord], scores: list[float | None] | None = None) -> None:
    """A table of records; with `scores`, a score column (None: a source shown under the conclusion above it)."""
    from rich.table import Table

    table = Table(show_lines=False)
    for column in ("id", "kind", "status", "when", "scope", *(["score"] if scores else []), "text"):
        table.add_column(column, overflow="fold")
    for i, r in enumerate(records):
        when = (r.event_time or r.created_at).strftime("%Y-%m-%d %H:%M")
        scope = "/".join(x for x in (r.scope.user_id, r.scope.agent_id, r.scope.session_id, r.scope.namespace) if x)
        text = r.text if len(r.text) <= 200 else r.text[:200] + "…"
        score = [] if not scores else [f"{scores[i]:.4f}" if scores[i] is not None else "↳ source"]
        table.add_row(r.id, r.kind.value, r.status.value, when, scope, *score, text)
    terminal(width=200).print(table)


@app.command()
def add(
    text: Annotated[str, typer.Argument(help="The memory text.")],
    user: UserOpt,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    namespace: NamespaceOpt = None,
    kind: Annotated[str, typer.Option("--kind", "-k", help="Record kind.")] = "observation",
    importance: Annotated[float, typer.Option(min=0.0, max=1.0, help="0..1")] = 0.5,
    speaker: Annotated[str | None, typer.Option(help="Who said it (stored in metadata).")] = None,
    event_time: Annotated[datetime | None, typer.Option("--event-time", help="When it happened (ISO date/time).")] = None,
    meta: MetaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add one memory."""
    from pydantic import ValidationError

    from omne_core.memory import MemoryKind, MemoryRecord

    [kind] = _kinds([kind]) or []
    try:
        record = MemoryRecord(
            kind=MemoryKind(kind), text=text, scope=scope_of(user, agent, session, namespace), importance=importance,
            event_time=event_time, metadata={**(metadata_of(meta, as_filter=False) or {}), **({"speaker": speaker} if speaker else {})},
        )  # fmt: skip
    except ValidationError as exc:
        from .errors import sentences

        raise CliError(f"invalid memory: {sentences(exc)}") from None
    [stored] = with_store(lambda store: store.add(record, actor=f"cli:{user}"))
    if as_json:
        echo_json(stored.model_dump(mode="json"))
    else:
        echo(stored.id if stored.id == record.id else f"{stored.id} (duplicate of an existing record)")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    user: UserOpt,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    namespace: NamespaceOpt = None,
    kind: KindOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-l", min=1, max=1000)] = 10,
    since: Annotated[datetime | None, typer.Option(help="Only records that happened at/after this time.")] = None,
    until: Annotated[datetime | None, typer.Option(help="Only records that happened at/before this time.")] = None,
    include_inactive: Annotated[bool, typer.Option("--all", help="Include superseded and deleted records.")] = False,
    meta: MetaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hybrid (dense + BM25) search in a scope (`--meta`: only records labelled with these values)."""
    if not query.strip():
        raise typer.BadParameter("the query is empty", param_hint="QUERY")
    scope, metadata = scope_of(user, agent, session, namespace), metadata_of(meta, as_filter=True)
    hits = with_store(
        lambda store: store.search(
            query, scope, kinds=kind, since=since, until=until, limit=limit, include_inactive=include_inactive,
            metadata=metadata,
        )
    )
    if as_json:
        echo_json([h.model_dump(mode="json") for h in hits])
    elif not hits:
        echo("no matching memories")
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
    limit: Annotated[int, typer.Option("--limit", "-l", min=1)] = 20,
    include_inactive: Annotated[bool, typer.Option("--all", help="Include superseded and deleted records.")] = False,
    meta: MetaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a scope's memories, newest first (`--meta`: only records labelled with these values)."""
    scope, metadata = scope_of(user, agent, session, namespace), metadata_of(meta, as_filter=True)
    records = with_store(
        lambda store: store.list(scope, kinds=kind, limit=limit, include_inactive=include_inactive, metadata=metadata)
    )
    if as_json:
        echo_json([r.model_dump(mode="json") for r in records])
    elif not records:
        echo("no memories")
    else:
        _print_records(records)


async def _owned(store: MemoryStoreAPI, record_id: str, user: str) -> MemoryRecord:
    """The user's record with this id or id prefix. Another user's record reads exactly as an unknown id."""
    from omne_core.memory import MemoryNotFoundError

    try:
        return await store.resolve(record_id, scope_of(user))
    except MemoryNotFoundError:
        raise CliError(f"no memory record {record_id!r} for user {user!r}") from None


@app.command()
def show(record_id: IdArg, user: UserOpt) -> None:
    """Print one record of the user as JSON."""
    record = with_store(lambda store: _owned(store, record_id, user))
    echo_json(record.model_dump(mode="json"))


@app.command()
def history(record_id: IdArg, user: UserOpt, as_json: JsonOpt = False) -> None:
    """The change history of a record (add, update, supersede, delete: what, when, by whom)."""

    async def work(store: MemoryStoreAPI) -> list[Any]:
        record = await _owned(store, record_id, user)
        return await store.history(record.id)

    changes = with_store(work)
    if as_json:
        echo_json([c.model_dump(mode="json") for c in changes])
        return
    for c in changes:
        text = (c.after or c.before or {}).get("text")
        detail = f" text={one_line(repr(text), 300)}" if text is not None else ""
        echo(f"{c.at:%Y-%m-%d %H:%M:%S} {c.op.value:<12} v{c.version or '-'} by {c.actor}{detail}")


@app.command()
def delete(
    record_id: IdArg,
    user: UserOpt,
    hard: Annotated[bool, typer.Option("--hard", help="Purge text, vector and blob (not undoable).")] = False,
) -> None:
    """Delete a record of the user (soft by default: status `deleted`, history kept)."""

    async def work(store: MemoryStoreAPI) -> str:
        record = await _owned(store, record_id, user)
        await store.delete(record.id, hard=hard, actor="cli")
        return record.id

    deleted = with_store(work)
    echo(f"{'purged' if hard else 'deleted'} {deleted}")


@app.command("export")
def export_(
    path: Annotated[Path, typer.Argument(help="JSONL file to write.")],
    user: UserOpt,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Export a scope's records (every status, blobs inlined) to JSONL."""
    if path.is_dir():
        raise CliError(f"{path} is a folder: name the file to write, e.g. {path / 'memories.jsonl'}")
    scope = scope_of(user, agent, session, namespace)
    count = with_store(lambda store: store.export_jsonl(path, scope))
    echo(f"exported {count} records to {path}")


@app.command("import")
def import_(path: Annotated[Path, typer.Argument(help="JSONL file written by `omne memory export`.")]) -> None:
    """Import a JSONL export (re-embedding every record); a corrupt file is rejected whole."""
    if not path.is_file():
        raise CliError(f"{path} is not a file")
    result = with_store(lambda store: store.import_jsonl(path, actor="cli-import"))
    echo(f"imported {result.imported} records, skipped {result.skipped} already present")


RoleOpt = Annotated[str, typer.Option(help="Model role to ask.")]
ModelComponentOpt = Annotated[Path | None, typer.Option(
    "--model-component",
    help="An AutoGen ChatCompletionClient component JSON file to use instead of the configured model "
    "(default: $OMNE_MODEL_COMPONENT).",
)]  # fmt: skip


def _model(settings: Any, role: str, component: Path | None) -> tuple[Any, Mapping[str, Any]]:
    """The model client of `role` (or the component), and what a prose answer sends it besides the messages
    (`prose_args`: the bundled model's repeat penalty)."""
    from omne_assistant.clients import ModelComponentError, assistant_client, prose_args

    try:
        client = assistant_client(settings, role, component)
        prose = prose_args(settings, role, component)
    except (ModelComponentError, ValueError) as exc:
        raise CliError(f"cannot load the model: {exc}") from None
    return client, prose


@app.command()
def reflect(
    user: UserOpt,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    namespace: NamespaceOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many recent unreflected records.")] = 50,
    role: RoleOpt = "main",
    model_component: ModelComponentOpt = None,
) -> None:
    """Derive L1 conclusions (facts, preferences, ...) from raw records with the configured model."""
    from omne_core.memory import ReflectionResult, unreflected
    from omne_core.memory import reflect as reflect_op

    scope = scope_of(user, agent, session, namespace)
    settings = load()

    async def work(store: MemoryStoreAPI) -> Any:
        sources = await unreflected(store, scope, limit)
        if not sources:  # nothing to reflect on: no model to load
            return ReflectionResult()
        client, _ = _model(settings, role, model_component)
        try:
            return await reflect_op(store, scope, client, records=sources)
        finally:
            await client.close()

    result = with_store(work, settings)
    for record in result.created:
        echo(f"+ {record.kind.value}: {one_line(record.text, 500)}  (from {', '.join(s[:8] for s in record.source_ids)})")
    for old, new in result.superseded:
        echo(f"~ {old} superseded by {new}")
    for line in reflection_notes(result):
        echo(line)
    echo(f"{len(result.created)} conclusions from {len(result.source_ids)} records")


@app.command()
def summarize(
    user: UserOpt,
    session: Annotated[str, typer.Option("--session", "-s", help="The session to summarize.")],
    agent: AgentOpt = None,
    namespace: NamespaceOpt = None,
    max_input_tokens: Annotated[int, typer.Option(min=100, help="The model reads the session's latest turns "
                                                  "up to this many tokens.")] = 6000,  # fmt: skip
    role: RoleOpt = "main",
    model_component: ModelComponentOpt = None,
) -> None:
    """Summarize a session's raw records into one `summary` record citing them; it supersedes the session's
    previous summary. A reply that is not a usable summary (an echo, a loop) is refused and stores nothing."""
    from omne_core.memory import session_records, summarize_session

    scope = scope_of(user, agent, session, namespace)
    settings = load()

    async def work(store: MemoryStoreAPI) -> Any:
        records = await session_records(store, scope)  # an empty session fails here, before a model loads
        client, prose = _model(settings, role, model_component)
        try:
            return await summarize_session(store, scope, client, max_input_tokens=max_input_tokens,
                                           actor="cli-summarize", create_args=prose, records=records)  # fmt: skip
        finally:
            await client.close()

    summary = with_store(work, settings)
    echo(f"+ summary {summary.id} of {len(summary.source_ids)} records: {one_line(summary.text, 500)}")


@app.command()
def stats(
    user: UserOpt,
    agent: AgentOpt = None,
    session: SessionOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Counts of a scope's records by kind and status."""
    scope = scope_of(user, agent, session, namespace)
    result = with_store(lambda store: store.stats(scope))
    if as_json:
        echo_json(result.model_dump(mode="json"))
        return
    echo(f"total {result.total}  (embedder {result.embedder}, pending index {result.pending_index}, blobs {result.blobs})")
    for name, count in sorted(result.by_kind.items()):
        echo(f"  kind   {name:<15} {count}")
    for name, count in sorted(result.by_status.items()):
        echo(f"  status {name:<15} {count}")


@app.command()
def repair(as_json: JsonOpt = False) -> None:
    """Compare every id of the records and the vector index, remove orphan vectors, re-embed missing ones."""

    async def work(store: MemoryStoreAPI) -> Any:
        from omne_core.memory import MemoryStore, MemoryValidationError

        if not isinstance(store, MemoryStore):
            raise MemoryValidationError("repair works on a local data directory (use --local); a server checks its stores itself")
        return await store.repair(full=True)

    result = with_store(work)
    if as_json:
        echo_json(dataclasses.asdict(result))
        return
    echo(
        f"vector index checked: {result.orphans_removed} orphan vectors removed, "
        f"{result.marked_pending} missing found, {result.embedded} records (re-)embedded"
    )


app.command()(ingest_cmd.ingest)


@app.command()
def migrate(
    to: Annotated[str, typer.Option("--to", help="A PostgreSQL URL (postgresql://...) or a data directory.")],
    schema: Annotated[str | None, typer.Option("--schema", help="The target's PostgreSQL schema.")] = None,
) -> None:
    """Copy every record, history row and vector of the configured store to another one (embedded <-> PostgreSQL),
    verify the counts per user and print a summary. Run it again after an interruption: it resumes."""
    from pydantic import SecretStr

    from omne_core.config import StoreBackend
    from omne_core.config.settings import redact_url
    from omne_core.embeddings import EmbeddingError
    from omne_core.memory import MemoryStoreError
    from omne_core.memory.migrate import migrate_store

    source = load()
    if to.startswith(("postgresql://", "postgres://")):
        store = source.store.model_copy(update={"backend": StoreBackend.POSTGRES, "postgres_url": SecretStr(to)})
        if schema:
            store = store.model_copy(update={"postgres_schema": schema})
        target, shown = source.model_copy(update={"store": store}), redact_url(to)
    else:
        store = source.store.model_copy(update={"backend": StoreBackend.EMBEDDED})
        target, shown = source.model_copy(update={"data_dir": Path(to).expanduser(), "store": store}), to
    try:
        summary = asyncio.run(migrate_store(source, target, progress=lambda line: typer.echo(f"  {line}", err=True)))
    except (MemoryStoreError, EmbeddingError, ValueError) as exc:
        raise CliError(str(exc)) from None
    echo(f"migrated to {shown}:")
    for line in summary.lines():
        echo(f"  {line}")
