"""Options shared by several commands, defined once: the memory scope (`--user/--agent/--session/--namespace`)
and metadata labels (`--meta key=value`)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from omne_core.memory import MemoryScope

UserOpt = Annotated[str, typer.Option("--user", "-u", help="User id (required: every memory belongs to a user).")]
AgentOpt = Annotated[str | None, typer.Option("--agent", "-a", help="Agent id (a hard filter when given).")]
SessionOpt = Annotated[str | None, typer.Option("--session", "-s", help="Session id (a hard filter when given).")]
NamespaceOpt = Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace, e.g. a team or project (hard filter).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def metadata_of(pairs: list[str] | None) -> dict[str, Any] | None:
    """`key=value` pairs as metadata; a value that reads as a JSON number, boolean or quoted string is that
    (`priority=2`, `done=true`, `code='"007"'`), anything else is the text as written (`project=apollo`)."""
    if not pairs:
        return None
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="--meta")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        scalar = isinstance(value, str) or (isinstance(value, int) and -(2**63) <= value < 2**63) or (
            isinstance(value, float) and math.isfinite(value))  # fmt: skip
        out[key.strip()] = value if scalar else raw  # a list, an object, NaN or a huge number: the text
    return out


MetaOpt = Annotated[list[str] | None, typer.Option(
    "--meta", "-m", metavar="KEY=VALUE",
    help="A metadata label (repeatable): numbers and true/false are typed, anything else is text.")]  # fmt: skip


def scope_of(user: str, agent: str | None = None, session: str | None = None, namespace: str | None = None) -> MemoryScope:
    """The scope the options name; an empty id is a usage error (exit 2), before any slow work."""
    from pydantic import ValidationError

    from omne_core.memory import MemoryScope

    try:
        return MemoryScope(user_id=user, agent_id=agent, session_id=session, namespace=namespace)
    except ValidationError as exc:
        from .errors import sentences

        raise typer.BadParameter(sentences(exc)) from None
