"""What every command starts with: the settings (errors as sentences) and the memory store (a data directory
that cannot be used is named in a one-line error, not a Traceback)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import CliError, sentences

if TYPE_CHECKING:
    from omne_core.config import OmneSettings
    from omne_core.memory import MemoryStore

T = TypeVar("T")


def load(**overrides: Any) -> OmneSettings:
    """The effective settings; an invalid value in OMNE_* or omne.toml is a `CliError` saying which."""
    from pydantic import ValidationError

    from omne_core.config import config_file_path, load_settings
    from omne_core.errors import ConfigurationError

    try:
        return load_settings(**overrides)
    except ConfigurationError as exc:
        raise CliError(f"configuration: {exc}") from None
    except ValidationError as exc:
        raise CliError(f"configuration (OMNE_* environment or {config_file_path()}): {sentences(exc)}") from None


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


def with_store(work: Callable[[MemoryStore], Awaitable[T]], settings: OmneSettings | None = None) -> T:
    """Open the configured store, run `work` on it, close it."""

    async def main() -> T:
        store = await open_store(settings or load())
        async with store:
            return await work(store)

    return asyncio.run(main())
