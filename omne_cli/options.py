"""Options shared by several commands, defined once: the memory scope (`--user/--agent/--session/--namespace`)
and metadata labels (`--meta key=value`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from omne_core.memory import MemoryScope

UserOpt = Annotated[str, typer.Option("--user", "-u", help="User id (required: every memory belongs to a user).")]
AgentOpt = Annotated[str | None, typer.Option("--agent", "-a", help="Agent id (a hard filter when given).")]
SessionOpt = Annotated[str | None, typer.Option("--session", "-s", help="Session id (a hard filter when given).")]
NamespaceOpt = Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace, e.g. a team or project (hard filter).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def metadata_of(pairs: list[str] | None, *, as_filter: bool) -> dict[str, Any] | None:
    """`--meta key=value` options as metadata to store (`parse_labels`: a key given twice holds both values), or
    `as_filter` to filter by (`parse_conditions`: also a JSON object of conditions, checked); a bad one is a usage
    error (exit 2)."""
    if not pairs:
        return None
    from omne_core.memory.errors import MemoryValidationError
    from omne_core.memory.metadata_filter import normalize_metadata, parse_conditions, parse_labels

    try:
        if not as_filter:
            return parse_labels(pairs, as_filter=False)
        conditions = parse_conditions(pairs)
        normalize_metadata(conditions)  # a bad condition is a usage error, before the store (and its model) opens
        return conditions
    except MemoryValidationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--meta") from None


MetaOpt = Annotated[list[str] | None, typer.Option(
    "--meta", "-m", metavar="KEY=VALUE",
    help="A metadata label (repeatable): numbers and true/false are typed, anything else is text. To filter, also "
    'a JSON object of conditions: \'{"priority": {"gte": 2}, "status": {"ne": "done"}}\'.')]  # fmt: skip


def scope_of(user: str, agent: str | None = None, session: str | None = None, namespace: str | None = None) -> MemoryScope:
    """The scope the options name; an empty id is a usage error (exit 2), before any slow work."""
    from pydantic import ValidationError

    from omne_core.memory import MemoryScope

    try:
        return MemoryScope(user_id=user, agent_id=agent, session_id=session, namespace=namespace)
    except ValidationError as exc:
        from .errors import sentences

        raise typer.BadParameter(sentences(exc)) from None
