"""One place where failures become one-line messages: `OmneGroup` wraps every command of `omne`.

An error the user can act on (an `OmneError`: bad configuration, a refused input, a file that cannot be converted,
an unreachable model; an OS error: a missing or unreadable file; an unusable database) is printed as `error: ...`
on stderr with exit code 1, never as a Traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import sqlite3
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from omne_core.errors import OmneError

from .display import shown

if TYPE_CHECKING:
    from typer._click import Context as ClickContext  # the context class TyperGroup.invoke is typed with


class CliError(Exception):
    """A failure whose message already says what went wrong and what to do; exit code `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def sentences(exc: ValidationError) -> str:
    """A pydantic error as sentences (`field: what is wrong (got value)`), not a raw dump with URLs."""
    from omne_core.memory.errors import validation_problems

    return validation_problems(exc)


def describe(exc: BaseException) -> str | None:
    """The one-line message for an error the user can act on; None for a bug (which keeps its traceback)."""
    if isinstance(exc, CliError):
        return str(exc)
    if isinstance(exc, ValidationError):
        return f"invalid configuration or input: {sentences(exc)}"
    if isinstance(exc, sqlite3.DatabaseError):
        return f"the memory database is not usable: {exc}"
    if isinstance(exc, OSError):
        return _os_error(exc)
    if isinstance(exc, OmneError):
        return str(exc) or type(exc).__name__
    return None


def _os_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno.EACCES or isinstance(exc, PermissionError):
        reason = "permission denied"
    names = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
    return f"{reason}: {' -> '.join(names)}" if names else reason


class OmneGroup(TyperGroup):
    """The root command group: known errors of any sub-command become `error: ...` and exit code 1."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):  # usage errors and exits: typer prints them
            raise
        except Exception as exc:
            message = describe(exc)
            if message is None:
                raise
            typer.echo(f"error: {shown(message)}", err=True)
            raise typer.Exit(exc.code if isinstance(exc, CliError) else 1) from None
