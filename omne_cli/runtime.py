"""What every command starts with: the settings (errors as sentences) and the memory store (a data directory
that cannot be used is named in a one-line error, not a Traceback; a server's memory when one is chosen)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from .errors import CliError, sentences

if TYPE_CHECKING:
    from omne_core.config import OmneSettings
    from omne_core.memory import MemoryStore, MemoryStoreAPI, RemoteMemoryStore

T = TypeVar("T")


@dataclass(frozen=True)
class StoreChoice:
    """Which memory a command works on: `--server URL`, `--local`, or (neither) what the settings name
    (a server's when OMNE_SERVER__URL is set, else the local data directory)."""

    server: str | None = None
    local: bool = False


_choice = StoreChoice()  # set by `omne memory`'s group options before its command runs


def choose_store(server: str | None, local: bool) -> None:
    """Record the `--server`/`--local` options for the command about to run; both at once is a usage error."""
    global _choice
    if server and local:
        raise typer.BadParameter("give --server or --local, not both")
    _choice = StoreChoice(server=server, local=local)


def load(**overrides: Any) -> OmneSettings:
    """The effective settings; an invalid value in OMNE_* or omne.toml is a `CliError` saying which."""
    from pydantic import ValidationError

    from omne_core.config import config_file_path, load_settings
    from omne_core.errors import ConfigurationError

    try:
        settings = load_settings(**overrides)
    except ConfigurationError as exc:
        raise CliError(f"configuration: {exc}") from None
    except ValidationError as exc:
        raise CliError(f"configuration (OMNE_* environment or {config_file_path()}): {sentences(exc)}") from None
    if _choice.server or _choice.local:
        url = None if _choice.local else _choice.server
        settings = settings.model_copy(update={"server": settings.server.model_copy(update={"url": url})})
    return settings


def _check_data_dir(settings: OmneSettings) -> Path:
    data_dir = Path(settings.data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise CliError(f"the data directory {data_dir} is a file, not a folder (set OMNE_DATA_DIR to a folder)")
    return data_dir


async def open_store(settings: OmneSettings, **kwargs: Any) -> MemoryStore:
    """Open the store under `settings.data_dir`; what makes it unusable is named in a `CliError`."""
    from omne_core.memory import MemoryStore

    data_dir = _check_data_dir(settings)
    database = data_dir / settings.memory.sqlite_file
    try:
        return await MemoryStore.open(settings, **kwargs)
    except sqlite3.OperationalError as exc:
        if not _cannot_write(exc):
            raise _damaged(database, exc) from None
        raise _not_writable(data_dir, str(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise _damaged(database, exc) from None
    except PermissionError as exc:
        raise _not_writable(data_dir, f"permission denied: {exc.filename or data_dir}") from None


def _not_writable(data_dir: Path, detail: str) -> CliError:
    return CliError(f"the data directory {data_dir} is not writable ({detail}): set OMNE_DATA_DIR to a folder Omne can write")


def _cannot_write(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "readonly" in message or "read-only" in message or "unable to open" in message


def _damaged(database: Path, exc: sqlite3.DatabaseError) -> CliError:
    return CliError(
        f"the memory database {database} is not usable ({exc}): move it away, or set OMNE_DATA_DIR to another folder"
    )


async def open_memory(settings: OmneSettings) -> MemoryStore | RemoteMemoryStore:
    """The memory the settings name: a server's (OMNE_SERVER__URL or `--server`) or the local data directory's."""
    if settings.server.url:
        from omne_core.memory import RemoteMemoryStore

        return await RemoteMemoryStore.from_settings(settings)
    return await open_store(settings)


def with_store(work: Callable[[MemoryStoreAPI], Awaitable[T]], settings: OmneSettings | None = None) -> T:
    """Open the chosen memory (a server's or the data directory's), run `work` on it, close it."""

    async def main() -> T:
        store = await open_memory(settings or load())
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(main())
